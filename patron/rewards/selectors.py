"""Reads of the rewards catalog and of redemptions. The merchant comes first."""

import datetime
from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from patron.lib.sql import first_row, row_id
from patron.loyalty.models import Member, MemberStatus
from patron.rewards.models import Redemption, Reward
from patron.tenants.models import Merchant


def rewards(merchant: Merchant) -> QuerySet[Reward]:
    return Reward.objects.filter(merchant=merchant).order_by("points_cost", "id")


def reward_get(merchant: Merchant, reward_id: int | str) -> Reward | None:
    pk = row_id(reward_id)
    # Fixed SQL (patron.lib.sql): every claim reads its reward here.
    return None if pk is None else first_row(Reward, {"merchant": merchant, "pk": pk})


def rewards_on_offer(merchant: Merchant, now: datetime.datetime | None = None) -> QuerySet[Reward]:
    """Active, inside their window, and in stock."""
    now = now or timezone.now()
    return rewards(merchant).filter(
        Q(is_active=True),
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        Q(stock__isnull=True) | Q(stock__gt=0),
    )


def is_on_offer(reward: Reward, now: datetime.datetime) -> bool:
    """`rewards_on_offer`'s four conditions for one reward already read (a test holds the
    two to the same answers)."""
    return (
        reward.is_active
        and (reward.starts_at is None or reward.starts_at <= now)
        and (reward.ends_at is None or reward.ends_at > now)
        and (reward.stock is None or reward.stock > 0)
    )


def redeemable_rewards(
    merchant: Merchant, member: Member, catalog: Iterable[Reward] | None = None
) -> list[Reward]:
    """ "Redeem Points": the rewards on offer that the member's available points afford.

    `catalog` is the merchant's rewards in catalog order when the caller has them already
    (the customer page keeps them while they stay the same); otherwise they are read.
    """
    if member.merchant_id != merchant.pk or member.status != MemberStatus.ACTIVE:
        return []
    if catalog is None:
        return list(rewards_on_offer(merchant).filter(points_cost__lte=member.points_available))
    now = timezone.now()
    return [
        reward
        for reward in catalog
        if reward.merchant_id == merchant.pk
        and reward.points_cost <= member.points_available
        and is_on_offer(reward, now)
    ]


def redemptions(merchant: Merchant, member: Member | None = None) -> QuerySet[Redemption]:
    found = Redemption.objects.filter(merchant=merchant).select_related("reward", "coupon")
    if member is not None:
        found = found.filter(member=member)
    return found.order_by("-id")
