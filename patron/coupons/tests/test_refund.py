"""Seed 000, step 4: deleting a coupon that points paid for, with or without a refund.

The coupon is bought the real way, through "Claim Reward", so the points really left
the ledger before they come back.
"""

import pytest
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.coupons import services
from patron.coupons.tests.factories import ACTOR, make_contact

loyalty_services = pytest.importorskip("patron.loyalty.services")
reward_services = pytest.importorskip("patron.rewards.services")

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(trio):
    """Mark had 10 points and spent them on a Rewards Coupon."""
    merchant = trio.merchant
    mark = make_contact(merchant, first_name="Mark", phone="+84912345678")
    with scope(merchant=merchant):
        member = loyalty_services.member_ensure(merchant=merchant, contact=mark, actor=ACTOR)
        member = loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
        loyalty_services.points_give(
            merchant=merchant, member=member, amount=10, actor=ACTOR, reason="Welcome"
        )
        reward = reward_services.reward_create(
            merchant=merchant,
            actor=ACTOR,
            name="20k off",
            kind="fixed_amount",
            value=20_000,
            points_cost=10,
            coupon_label="Rewards Coupon",
        )
        redemption = reward_services.reward_claim(
            merchant=merchant, member=member, reward=reward, actor=ACTOR
        )
        member.refresh_from_db()
    assert member.points_available == 0
    assert redemption.coupon.points_paid == 10
    return mark, member, redemption.coupon


def test_deleting_with_a_refund_gives_the_points_back_on_the_ledger(trio, claimed):
    mark, member, coupon = claimed
    with scope(merchant=trio.merchant):
        gone = services.coupon_delete(
            merchant=trio.merchant, coupon=coupon, actor=ACTOR, reason="Customer asked",
            refund_points=True,
        )  # fmt: skip
        member.refresh_from_db()
        returned = list(member.ledger.filter(reference=f"coupon:{coupon.pk}"))
        timeline = ActivityEvent.objects.get(contact=mark, type="coupon_deleted")
    assert (gone.status, gone.points_refunded) == ("deleted", 10)
    assert member.points_available == 10
    assert [(e.amount, e.reason) for e in returned] == [
        (10, f"Coupon {coupon.code} deleted: Customer asked")
    ]
    assert timeline.data["points_refunded"] == 10
    assert timeline.data["ledger_entry_id"]


def test_deleting_without_a_refund_keeps_the_balance_and_says_so(trio, claimed):
    from patron.contacts.templatetags.activity import describe_event

    mark, member, coupon = claimed
    with scope(merchant=trio.merchant):
        services.coupon_delete(
            merchant=trio.merchant, coupon=coupon, actor=ACTOR, reason="Customer asked"
        )
        member.refresh_from_db()
        timeline = ActivityEvent.objects.get(contact=mark, type="coupon_deleted")
    assert member.points_available == 0
    assert (timeline.data["points_paid"], timeline.data["points_refunded"]) == (10, 0)
    assert str(describe_event(timeline)).endswith("10 points not refunded.")


def test_a_refund_happens_once_even_if_the_delete_is_repeated(trio, claimed):
    _, member, coupon = claimed
    for _ in range(2):
        with scope(merchant=trio.merchant):
            services.coupon_delete(
                merchant=trio.merchant, coupon=coupon, actor=ACTOR, reason="again",
                refund_points=True,
            )  # fmt: skip
    with scope(merchant=trio.merchant):
        member.refresh_from_db()
    assert member.points_available == 10


def test_the_api_deletes_with_a_refund_and_the_balance_updates(trio, claimed):
    mark, _, coupon = claimed
    before = trio.api.get(f"/contacts/{mark.pk}/member").json()["points"]["available"]
    gone = trio.api.delete(f"/coupons/{coupon.pk}", {"reason": "Removed", "refund_points": True})
    assert gone.status_code == 200, gone.json()
    assert gone.json()["points_refunded"] == 10
    after = trio.api.get(f"/contacts/{mark.pk}/member").json()["points"]["available"]
    assert (before, after) == (0, 10)
    assert "Rewards Coupon" not in trio.api.get(f"/contacts/{mark.pk}").json()["tags"]


def test_an_outsider_cannot_refund_another_merchants_coupon(trio, claimed):
    _, _, coupon = claimed
    answer = trio.outsider_api.delete(
        f"/coupons/{coupon.pk}", {"reason": "x", "refund_points": True}
    )
    assert answer.status_code == 404
    assert trio.api.get(f"/coupons/{coupon.pk}").json()["status"] == "available"


def test_regenerating_a_paid_coupon_moves_the_points_to_the_new_code_without_refund(trio, claimed):
    _, member, coupon = claimed
    with scope(merchant=trio.merchant):
        new = services.coupon_regenerate(merchant=trio.merchant, coupon=coupon, actor=ACTOR)
        member.refresh_from_db()
    assert (new.points_paid, new.member_id, member.points_available) == (10, member.pk, 0)
