"""One-time codes: the same answer for every number, expiry, single use, tries, send limits."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.portal import services
from patron.portal.models import BOUNDS, OneTimeCode
from patron.portal.tests.factories import (
    Customer,
    configure,
    last_code,
    make_member,
    sent_count,
)

MARK = "+84912345678"
STRANGER = "+84987654321"
pytestmark = pytest.mark.django_db


def _without_token(html: str) -> str:
    # The form token is random per browser; everything else must be identical.
    return re.sub(r'name="token" value="[0-9a-f]+"', 'name="token" value=""', html)


def test_unknown_and_known_numbers_get_the_same_answer(trio):
    make_member(trio.merchant, "0912 345 678")
    known, unknown = Customer("alpha"), Customer("alpha")

    asked_known = known.ask_code("0912 345 678")
    asked_unknown = unknown.ask_code("0987 654 321")

    assert asked_known.status_code == asked_unknown.status_code == 302
    assert asked_known["Location"] == asked_unknown["Location"] == "/p/alpha/code/"
    assert asked_known.content == asked_unknown.content
    page_known, page_unknown = known.open("code/"), unknown.open("code/")
    assert page_known.status_code == page_unknown.status_code == 200
    assert _without_token(page_known.content.decode()) == _without_token(
        page_unknown.content.decode()
    )
    assert "If this number is in our program, we texted a code." in page_known.content.decode()
    # Only the member got a text.
    assert sent_count(trio.merchant, MARK) == 1
    assert sent_count(trio.merchant, STRANGER) == 0


def test_wrong_codes_for_unknown_and_known_numbers_read_the_same(trio):
    make_member(trio.merchant, "0912 345 678")
    known, unknown = Customer("alpha"), Customer("alpha")
    known.ask_code("0912345678")
    unknown.ask_code("0987654321")

    wrong_known, wrong_unknown = known.enter_code("000000"), unknown.enter_code("000000")

    assert wrong_known.status_code == wrong_unknown.status_code == 422
    assert _without_token(wrong_known.content.decode()) == _without_token(
        wrong_unknown.content.decode()
    )


def test_member_signs_in_with_the_texted_code_typed_any_way(trio):
    make_member(trio.merchant, "0912 345 678")
    customer = Customer("alpha")

    customer.ask_code("+84 912.345.678")
    confirmed = customer.enter_code(last_code(trio.merchant, MARK) or "")

    assert confirmed.status_code == 302
    page = customer.open()
    assert "Your points" in page.content.decode()


def test_code_is_stored_only_as_a_hash(trio):
    make_member(trio.merchant, "0912 345 678")
    Customer("alpha").ask_code("0912 345 678")
    code = last_code(trio.merchant, MARK)

    with scopes_disabled():
        row = OneTimeCode.objects.get(phone=MARK)
    assert code and code not in row.code_hash
    assert row.code_hash == services.hash_code(trio.merchant, MARK, code)


def test_expired_code_is_refused(trio):
    make_member(trio.merchant, "0912 345 678")
    customer = Customer("alpha")
    customer.ask_code("0912 345 678")
    code = last_code(trio.merchant, MARK) or ""
    with scopes_disabled():
        OneTimeCode.objects.filter(phone=MARK).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

    refused = customer.enter_code(code)

    assert refused.status_code == 422
    assert "That code is not right or has expired." in refused.content.decode()


def test_code_works_only_once(trio, in_merchant):
    make_member(trio.merchant, "0912 345 678")
    Customer("alpha").ask_code("0912 345 678")
    code = last_code(trio.merchant, MARK) or ""

    services.code_verify(merchant=trio.merchant, phone=MARK, code=code)
    with pytest.raises(services.CodeRefused):
        services.code_verify(merchant=trio.merchant, phone=MARK, code=code)


def test_a_new_code_retires_the_previous_one(trio, in_merchant):
    make_member(trio.merchant, "0912 345 678")
    customer = Customer("alpha")
    customer.ask_code("0912 345 678")
    first = last_code(trio.merchant, MARK) or ""
    customer.ask_code("0912 345 678")
    second = last_code(trio.merchant, MARK) or ""

    if first != second:
        with pytest.raises(services.CodeRefused):
            services.code_verify(merchant=trio.merchant, phone=MARK, code=first)
    assert services.code_verify(merchant=trio.merchant, phone=MARK, code=second).member


def test_wrong_code_tried_repeatedly_locks_after_the_limit(trio):
    make_member(trio.merchant, "0912 345 678")
    configure(trio.merchant, max_attempts=3)
    customer = Customer("alpha")
    customer.ask_code("0912 345 678")
    right = last_code(trio.merchant, MARK) or ""
    wrong = "111111" if right != "111111" else "222222"

    answers = [customer.enter_code(wrong) for _ in range(3)]
    after_lock = customer.enter_code(right)

    assert [a.status_code for a in answers] == [422, 422, 409]
    assert "Too many wrong tries. Ask for a new code." in answers[-1].content.decode()
    assert after_lock.status_code == 409
    assert "Your points" not in customer.open().content.decode()
    with scopes_disabled():
        assert OneTimeCode.objects.get(phone=MARK).attempts == 3


def test_code_sends_beyond_the_limit_per_phone_are_refused(trio):
    make_member(trio.merchant, "0912 345 678")
    configure(trio.merchant, sends_per_phone_per_hour=2)

    # Different connections, same number: the phone's own limit holds.
    answers = [
        Customer("alpha", address=f"198.51.100.{n}").ask_code("0912 345 678") for n in range(3)
    ]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Too many codes were asked for" in answers[-1].content.decode()
    assert sent_count(trio.merchant, MARK) == 2


def test_send_limit_answers_the_same_for_unknown_numbers(trio):
    make_member(trio.merchant, "0912 345 678")
    configure(trio.merchant, sends_per_phone_per_hour=1)
    known = [Customer("alpha", f"198.51.100.{n}").ask_code("0912345678") for n in range(2)]
    unknown = [Customer("alpha", f"198.51.100.{n}").ask_code("0987654321") for n in range(2)]

    assert [a.status_code for a in known] == [a.status_code for a in unknown] == [302, 429]
    assert _without_token(known[1].content.decode()).replace("0912345678", "N") == _without_token(
        unknown[1].content.decode()
    ).replace("0987654321", "N")


def test_code_sends_beyond_the_limit_per_address_are_refused(trio):
    configure(trio.merchant, sends_per_address_per_hour=3)
    customer = Customer("alpha", address="203.0.113.9")

    answers = [customer.ask_code(f"09123456{n:02d}") for n in range(4)]
    elsewhere = Customer("alpha", address="203.0.113.10").ask_code("0912345699")

    assert [a.status_code for a in answers] == [302, 302, 302, 429]
    assert elsewhere.status_code == 302


def test_sends_older_than_an_hour_do_not_count(trio):
    configure(trio.merchant, sends_per_phone_per_hour=1)
    Customer("alpha").ask_code("0912 345 678")
    with scopes_disabled():
        OneTimeCode.objects.update(created_at=timezone.now() - timedelta(hours=1, minutes=1))

    assert Customer("alpha").ask_code("0912 345 678").status_code == 302


def test_a_number_that_is_not_a_phone_number_is_refused(trio):
    answer = Customer("alpha").ask_code("12ab")

    assert answer.status_code == 422
    assert "does not look like a phone number" in answer.content.decode()


def test_a_form_without_the_page_token_is_refused(trio):
    customer = Customer("alpha")
    customer.open()

    answer = customer.client.post("/p/alpha/code/request/", {"phone": "0912345678"})

    assert answer.status_code == 403
    with scopes_disabled():
        assert not OneTimeCode.objects.exists()


def test_settings_are_held_within_safe_bounds(trio):
    settings = configure(
        trio.merchant,
        code_ttl_minutes=100000,
        max_attempts=0,
        sends_per_phone_per_hour=500,
        sends_per_address_per_hour=-4,
        session_minutes=1,
    )

    assert settings.code_ttl_minutes == BOUNDS["code_ttl_minutes"].high
    assert settings.max_attempts == BOUNDS["max_attempts"].low
    assert settings.sends_per_phone_per_hour == BOUNDS["sends_per_phone_per_hour"].high
    assert settings.sends_per_address_per_hour == BOUNDS["sends_per_address_per_hour"].low
    assert settings.session_minutes == BOUNDS["session_minutes"].low


def test_session_ends_after_the_merchants_session_length(trio, monkeypatch):
    make_member(trio.merchant, "0912 345 678")
    configure(trio.merchant, session_minutes=5)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)
    import time

    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 5 * 60 + 1)

    assert "Your points" not in customer.open().content.decode()


def test_code_asked_at_one_merchant_does_not_sign_in_at_another(trio):
    make_member(trio.merchant, "0912 345 678")
    make_member(trio.other_merchant, "0912 345 678")
    Customer("alpha").ask_code("0912 345 678")
    code = last_code(trio.merchant, MARK) or ""

    with scope(merchant=trio.other_merchant), pytest.raises(services.CodeRefused):
        services.code_verify(merchant=trio.other_merchant, phone=MARK, code=code)


def test_codes_older_than_a_day_are_purged(trio):
    from patron.portal.tasks import codes_purge

    Customer("alpha").ask_code("0912 345 678")
    Customer("beta").ask_code("0912 345 678")
    Customer("alpha").ask_code("0987 654 321")
    with scopes_disabled():
        OneTimeCode.objects.exclude(phone="+84987654321").update(
            created_at=timezone.now() - timedelta(days=1, minutes=1)
        )

    assert codes_purge.call() == 2
    with scopes_disabled():
        assert list(OneTimeCode.objects.values_list("phone", flat=True)) == ["+84987654321"]
