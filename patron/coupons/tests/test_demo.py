"""The demo data that seed 000 and seed 002 walk through."""

import pytest
from django_scopes import scope

from patron.contacts import selectors as contact_selectors
from patron.contacts.models import Contact
from patron.coupons import selectors, services
from patron.coupons.models import Coupon
from patron.coupons.tests.factories import ACTOR

pytestmark = pytest.mark.django_db(transaction=True)

MARK_LABELS = {"Birthday Coupon", "Rewards Coupon", "Re-invitation Coupon"}


def test_mark_has_three_available_coupons_shown_as_tags(demo):
    merchant = demo.merchant
    with scope(merchant=merchant):
        mark = contact_selectors.contact_search(merchant, "0912 345 678").get()
        available = {c.label for c in selectors.available_coupons(merchant, mark)}
        tags = set(contact_selectors.contact_tag_names(mark))
    assert mark.first_name == "Mark"
    assert available == MARK_LABELS
    assert tags >= MARK_LABELS


def test_the_demo_has_past_codes_in_every_state(demo):
    merchant = demo.merchant
    with scope(merchant=merchant):
        statuses = set(Coupon.objects.filter(merchant=merchant).values_list("status", flat=True))
        regenerated = Coupon.objects.filter(merchant=merchant, regenerated_from__isnull=False)
        assert regenerated.exists()
    assert statuses == {"available", "used", "expired", "deleted"}


def test_removing_marks_rewards_coupon_with_a_refund_updates_his_points(demo):
    """Seed 000, steps 3 and 4, when the loyalty part paid for the coupon with points."""
    merchant = demo.merchant
    with scope(merchant=merchant):
        mark = Contact.objects.get(merchant=merchant, phone="+84912345678")
        rewards = selectors.available_coupons(merchant, mark).get(label="Rewards Coupon")
        if not rewards.points_paid:
            pytest.skip("the demo has no loyalty points for Mark yet")
        from patron.loyalty import selectors as loyalty_selectors

        member = loyalty_selectors.member_for_contact(merchant, mark)
        assert member is not None
        before = member.points_available
        services.coupon_delete(
            merchant=merchant, coupon=rewards, actor=ACTOR, reason="Customer asked",
            refund_points=True,
        )  # fmt: skip
        member.refresh_from_db()
        tags = contact_selectors.contact_tag_names(contact_selectors.contact_get(merchant, mark.pk))
    assert member.points_available == before + rewards.points_paid
    assert "Rewards Coupon" not in tags
