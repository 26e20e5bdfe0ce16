"""What a signed-in customer sees and may do: their own member only, in their merchant."""

import re

import pytest
from django_scopes import scope, scopes_disabled

from patron.coupons.tests.factories import issue_coupon
from patron.portal.tests.factories import (
    Customer,
    configure,
    give_points,
    make_member,
    make_reward,
)

MARK = "+84912345678"
pytestmark = pytest.mark.django_db


def _mark(trio, points=0):
    member = make_member(trio.merchant, "0912 345 678")
    if points:
        give_points(trio.merchant, member, points)
    return member


def test_signed_in_member_sees_points_coupons_and_affordable_rewards(trio):
    member = _mark(trio, points=120)
    issue_coupon(trio.merchant, member.contact, label="Birthday Coupon")
    make_reward(trio.merchant, "Free coffee", 100)
    make_reward(trio.merchant, "Free lunch", 500)
    customer = Customer("alpha")

    page = customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    assert "120" in page
    assert "Birthday Coupon" in page
    assert "Free coffee" in page
    assert "Free lunch" not in page  # not affordable
    assert "Claim Reward" in page


def test_member_claims_a_reward_and_gets_a_new_code(trio):
    member = _mark(trio, points=120)
    reward = make_reward(trio.merchant, "Free coffee", 100)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)

    answer = customer.post("claim/", reward=str(reward.pk), claim_key="k1")

    assert answer.status_code == 200
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
        from patron.coupons.selectors import available_coupons

        codes = [c.code for c in available_coupons(trio.merchant, member.contact)]
    assert member.points_available == 20
    assert len(codes) == 1
    assert codes[0] in answer.content.decode()


def test_the_same_claim_sent_twice_claims_once(trio):
    member = _mark(trio, points=250)
    reward = make_reward(trio.merchant, "Free coffee", 100)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)

    customer.post("claim/", reward=str(reward.pk), claim_key="same")
    customer.post("claim/", reward=str(reward.pk), claim_key="same")

    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert member.points_available == 150


def test_a_customer_cannot_claim_a_reward_they_cannot_afford(trio):
    member = _mark(trio, points=50)
    reward = make_reward(trio.merchant, "Free lunch", 500)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)

    answer = customer.post("claim/", reward=str(reward.pk), claim_key="x")

    assert answer.status_code == 409
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert member.points_available == 50


def test_a_customer_sees_only_their_own_member(trio):
    _mark(trio, points=120)
    other = make_member(trio.merchant, "0987 000 111", first_name="Lan")
    give_points(trio.merchant, other, 777)
    issue_coupon(trio.merchant, other.contact, label="Lan's coupon")
    customer = Customer("alpha")

    page = customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    # As a number of its own: the page's random form token may hold the digits.
    assert not re.search(r"\b777\b", page)
    assert "Lan&#x27;s coupon" not in page and "Lan's coupon" not in page


def test_a_customer_cannot_claim_another_merchants_reward(trio):
    member = _mark(trio, points=500)
    foreign = make_reward(trio.other_merchant, "Beta prize", 10)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)

    answer = customer.post("claim/", reward=str(foreign.pk), claim_key="f")

    assert answer.status_code == 409
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert member.points_available == 500


def test_signed_in_cookie_of_one_merchant_means_nothing_at_another(trio):
    _mark(trio, points=120)
    make_member(trio.other_merchant, "0912 345 678")
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)
    value = customer.client.cookies[f"patron_portal_{trio.merchant.pk}"].value
    customer.client.cookies[f"patron_portal_{trio.other_merchant.pk}"] = value

    page = customer.client.get("/p/beta/").content.decode()

    assert "Your points" not in page
    assert "Enter your phone number" in page


def test_unknown_slug_is_not_found(trio):
    assert Customer("nobody-here").open().status_code == 404


def test_excluded_member_sees_nothing_of_the_program(trio):
    member = make_member(trio.merchant, "0912 345 678", status="excluded")
    issue_coupon(trio.merchant, member.contact, label="Birthday Coupon")
    customer = Customer("alpha")

    page = customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    assert "There is nothing to show for this number." in page
    assert "data-hide-widget" in page
    for word in ("points", "Birthday Coupon", "Claim Reward", "tier"):
        assert word not in page


def test_not_activated_member_is_told_to_ask_at_the_counter(trio):
    make_member(trio.merchant, "0912 345 678", status="not_activated")
    customer = Customer("alpha")

    page = customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    assert "Ask at the counter" in page
    assert "Claim Reward" not in page


def test_not_activated_member_activates_with_consent_when_allowed(trio):
    member = make_member(trio.merchant, "0912 345 678", status="not_activated")
    configure(trio.merchant, allow_self_join=True)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)

    without = customer.post("join/")
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert without.status_code == 422
    assert member.status == "not_activated"

    customer.post("join/", consent="yes")
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert member.status == "active"
    assert "Your points" in customer.open().content.decode()


def test_stranger_gets_an_invite_code_and_joins_with_consent(trio):
    configure(trio.merchant, allow_self_join=True)
    customer = Customer("alpha")

    customer.sign_in(trio.merchant, "0987 654 321", "+84987654321")
    joined = customer.post("join/", consent="yes", first_name="Hoa")

    assert joined.status_code == 302
    assert "Your points" in customer.open().content.decode()
    from patron.loyalty.models import Member

    with scopes_disabled():
        member = Member.objects.get(phone="+84987654321")
    assert member.status == "active"
    assert member.contact.source == "portal"


def test_stranger_cannot_join_when_the_merchant_does_not_allow_it(trio):
    customer = Customer("alpha")
    customer.ask_code("0987 654 321")
    # Nothing was texted; even the right code would only show "ask at the counter".
    from patron.portal.tests.factories import sent_count

    assert sent_count(trio.merchant, "+84987654321") == 0
    customer.open()
    assert customer.post("join/", consent="yes").status_code == 302  # not signed in: home
    from patron.loyalty.models import Member

    with scopes_disabled():
        assert not Member.objects.filter(phone="+84987654321").exists()


def test_history_shows_what_happened_but_not_the_staff_note(trio):
    member = _mark(trio)
    give_points(trio.merchant, member, 40, reason="Regular, always complains about the music")
    customer = Customer("alpha")

    page = customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    assert "Points earned" in page
    assert "+40" in page
    assert "complains" not in page


def test_a_change_to_settings_tiers_or_program_shows_on_the_next_page(trio):
    """The page reads these once per process while they stay the same (PostgreSQL); any
    change, even one made outside the services, is seen at once."""
    from patron.loyalty.models import LoyaltyProgram, Tier
    from patron.portal.models import PortalSettings

    _mark(trio, points=120)
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", MARK)
    configure(trio.merchant, primary_color="#112233")
    assert "--brand: #112233" in customer.open().content.decode()

    with scopes_disabled():
        PortalSettings.objects.filter(merchant=trio.merchant).update(primary_color="#445566")
    assert "--brand: #445566" in customer.open().content.decode()

    with scopes_disabled():
        Tier.objects.create(merchant=trio.merchant, name="Silver", threshold=500)
    assert "380 more points to reach Silver" in customer.open().content.decode()

    with scopes_disabled():
        # Tiers by points earned in a window: none were earned in the last 0 days.
        LoyaltyProgram.objects.update_or_create(
            merchant=trio.merchant, defaults={"tier_basis": "window_points", "tier_window_days": 0}
        )
        Tier.objects.filter(merchant=trio.merchant, name="Silver").update(threshold=600)
    assert "600 more points to reach Silver" in customer.open().content.decode()

    with scopes_disabled():
        Tier.objects.filter(merchant=trio.merchant).delete()
    assert "No tier yet" in customer.open().content.decode()
    assert "to reach Silver" not in customer.open().content.decode()


def test_a_change_to_the_rewards_shows_on_the_next_page(trio):
    """Rewards are kept with the settings while they stay the same: a claim taking the
    last unit, a new reward or one switched off is seen at once."""
    from patron.rewards.models import Reward

    _mark(trio, points=120)
    coffee = make_reward(trio.merchant, "Free coffee", 100, stock=1)
    customer = Customer("alpha")
    assert "Free coffee" in customer.sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    with scopes_disabled():
        Reward.objects.filter(pk=coffee.pk).update(stock=0)
    assert "Free coffee" not in customer.open().content.decode()

    tea = make_reward(trio.merchant, "Free tea", 50)
    assert "Free tea" in customer.open().content.decode()

    with scopes_disabled():
        Reward.objects.filter(pk=tea.pk).update(is_active=False)
    assert "Keep collecting points to claim a reward." in customer.open().content.decode()


def test_dates_on_the_customer_page_are_the_shops_local_dates(trio):
    """23:30 in UTC is already the next day in Ho Chi Minh City."""
    import datetime

    from patron.loyalty.models import LedgerEntry

    trio.merchant.timezone = "Asia/Ho_Chi_Minh"
    trio.merchant.save()
    member = _mark(trio, points=40)
    late = datetime.datetime(2027, 3, 1, 23, 30, tzinfo=datetime.UTC)
    issue_coupon(trio.merchant, member.contact, label="Birthday Coupon", expires_at=late)
    with scopes_disabled():
        LedgerEntry.objects.filter(member=member).update(created_at=late)

    page = Customer("alpha").sign_in(trio.merchant, "0912 345 678", MARK).content.decode()

    assert "Until 03/02/2027" in page
    assert 'datetime="2027-03-02T06:30:00+07:00"' in page
    assert "03/01/2027" not in page
