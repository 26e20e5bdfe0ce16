"""Editing a reward's terms and ending a reward."""

from decimal import Decimal

import pytest

from patron.audit.models import AuditEntry
from patron.coupons import services as coupon_services
from patron.lib.actors import Actor
from patron.lib.errors import InvalidInput
from patron.loyalty import services as loyalty_services
from patron.loyalty.tests.factories import MemberFactory
from patron.rewards import selectors, services
from patron.rewards.services import RewardNotAvailable
from patron.rewards.tests.factories import RewardFactory

ACTOR = Actor.system("test")


def test_new_terms_apply_to_later_claims_and_are_audited(trio, in_merchant):
    reward = RewardFactory(merchant=in_merchant, name="50k off", points_cost=100)
    services.reward_update(
        merchant=in_merchant,
        reward=reward,
        actor=ACTOR,
        name="  60k  off ",
        value="60000",
        points_cost=120,
        coupon_valid_days=30,
    )
    reward.refresh_from_db()
    assert (reward.name, reward.value, reward.points_cost) == ("60k off", Decimal(60000), 120)
    entry = AuditEntry.objects.get(action="rewards.reward_update")
    assert entry.before["points_cost"] == 100 and entry.after["points_cost"] == 120


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "name"),
        ({"points_cost": 0}, "points_cost"),
        ({"kind": "percentage", "value": "150"}, "value"),
        ({"kind": "teleport"}, "kind"),
        ({"value": "abc"}, "value"),
        ({"stock": -1}, "stock"),
        ({"coupon_valid_days": 0}, "coupon_valid_days"),
    ],
)
def test_invalid_terms_are_refused_and_nothing_changes(trio, in_merchant, fields, field):
    reward = RewardFactory(merchant=in_merchant, name="50k off", points_cost=100)
    with pytest.raises(InvalidInput) as refused:
        services.reward_update(merchant=in_merchant, reward=reward, actor=ACTOR, **fields)
    assert refused.value.field == field
    reward.refresh_from_db()
    assert (reward.name, reward.points_cost, reward.kind) == ("50k off", 100, "fixed_amount")


def test_an_ended_reward_cannot_be_claimed_but_its_coupons_stay_valid(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    loyalty_services.points_give(merchant=in_merchant, member=member, amount=500, actor=ACTOR)
    member.refresh_from_db()
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    coupon = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR
    ).coupon
    assert coupon is not None
    services.reward_end(merchant=in_merchant, reward=reward, actor=ACTOR, reason="Season over")
    reward.refresh_from_db()
    assert reward.is_active is False
    assert not selectors.rewards_on_offer(in_merchant).filter(pk=reward.pk).exists()
    member.refresh_from_db()
    assert reward not in selectors.redeemable_rewards(in_merchant, member)
    with pytest.raises(RewardNotAvailable):
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    member.refresh_from_db()
    assert member.points_available == 400
    coupon.refresh_from_db()
    assert coupon.status == "available"
    assert coupon_services.coupon_validate(merchant=in_merchant, code=coupon.code).valid
    entry = AuditEntry.objects.get(action="rewards.reward_end")
    assert entry.after["reason"] == "Season over"


def test_ending_a_reward_needs_a_reason(trio, in_merchant):
    reward = RewardFactory(merchant=in_merchant)
    with pytest.raises(InvalidInput):
        services.reward_end(merchant=in_merchant, reward=reward, actor=ACTOR, reason="")
    reward.refresh_from_db()
    assert reward.is_active is True


def test_an_ended_reward_can_be_offered_again_with_a_reason(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    loyalty_services.points_give(merchant=in_merchant, member=member, amount=500, actor=ACTOR)
    member.refresh_from_db()
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    services.reward_end(merchant=in_merchant, reward=reward, actor=ACTOR, reason="Season over")
    with pytest.raises(InvalidInput):
        services.reward_reopen(merchant=in_merchant, reward=reward, actor=ACTOR, reason=" ")
    services.reward_reopen(merchant=in_merchant, reward=reward, actor=ACTOR, reason="Back")
    reward.refresh_from_db()
    assert reward.is_active is True and reward.ends_at is None
    assert selectors.rewards_on_offer(in_merchant).filter(pk=reward.pk).exists()
    claimed = services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    assert claimed.coupon is not None
    assert AuditEntry.objects.get(action="rewards.reward_reopen").after["reason"] == "Back"
