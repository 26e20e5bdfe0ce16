"""Domain events about rewards, written to the member's contact timeline."""

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor
from patron.rewards.models import Redemption


def reward_claimed(*, redemption: Redemption, actor: Actor) -> ActivityEvent:
    member = redemption.member
    return record(
        merchant=redemption.merchant,
        type="reward_claimed",
        actor=actor,
        contact=member.contact,
        data={
            "member_id": str(member.pk),
            "redemption_id": str(redemption.pk),
            "reward_id": str(redemption.reward_id) if redemption.reward_id else None,
            "reward": redemption.reward.name if redemption.reward else "",
            "points": redemption.points,
            "coupon_id": str(redemption.coupon_id) if redemption.coupon_id else None,
            "coupon_code": redemption.coupon.code if redemption.coupon else None,
        },
    )
