"""The customer's signed cookie: sent again when it changes or grows old, not on every page."""

import datetime

import pytest
import time_machine

from patron.portal.tests.factories import Customer, give_points, make_member

pytestmark = pytest.mark.django_db

MARK = "+84912345678"


def _cookie(response, merchant) -> str | None:
    sent = response.cookies.get(f"patron_portal_{merchant.pk}")
    return sent.value if sent is not None else None


def test_the_cookie_is_sent_again_only_when_it_changes_or_is_a_day_old(trio):
    member = make_member(trio.merchant, "0912 345 678")
    give_points(trio.merchant, member, 30)
    customer = Customer("alpha")
    with time_machine.travel(datetime.datetime(2027, 4, 1, 9, 0, tzinfo=datetime.UTC)) as clock:
        customer.sign_in(trio.merchant, "0912 345 678", MARK)

        same = customer.open()
        assert same.status_code == 200 and "30" in same.content.decode()
        assert _cookie(same, trio.merchant) is None

        # A change (the language) is written at once, and the page stays signed in.
        changed = customer.open(lang="vi")
        assert _cookie(changed, trio.merchant)
        assert 'lang="vi"' in customer.open().content.decode()
        assert _cookie(customer.open(), trio.merchant) is None

        # A day later the same page renews the cookie's thirty days.
        clock.shift(datetime.timedelta(hours=25))
        renewed = customer.open()
        assert _cookie(renewed, trio.merchant)
        assert _cookie(customer.open(), trio.merchant) is None


def test_a_cookie_from_a_browser_that_changed_it_is_not_trusted(trio):
    customer = Customer("alpha")
    first = customer.open()
    value = _cookie(first, trio.merchant)
    assert value
    payload, stamp, signature = value.rsplit(":", 2)
    customer.client.cookies[f"patron_portal_{trio.merchant.pk}"] = f"{payload}:{stamp}x:{signature}"

    again = customer.open()

    # Read as no cookie at all: a fresh one is written.
    assert _cookie(again, trio.merchant) not in (None, value)
