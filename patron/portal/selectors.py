"""Reads of the customer page: the merchant behind a slug, its settings, what a member sees.

Everything a signed-in customer sees is read for their own member only: the views pass
the member from the customer's session, never an id from the request.
"""

import datetime
from dataclasses import dataclass, field

from django.http import Http404
from django.utils.translation import gettext as _

from patron.coupons.models import Coupon
from patron.coupons.selectors import available_coupons
from patron.loyalty import selectors as loyalty
from patron.loyalty.models import LedgerEntry, Member, Tier
from patron.portal.models import PortalSettings
from patron.rewards.models import Reward
from patron.rewards.selectors import redeemable_rewards
from patron.tenants.models import Merchant

HISTORY_LENGTH = 10


def merchant_for_slug(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise Http404("No such page")
    return merchant


def settings_for(merchant: Merchant) -> PortalSettings:
    """The merchant's settings, or the defaults (unsaved) when never changed."""
    found = PortalSettings.objects.filter(merchant=merchant).first()
    return found or PortalSettings(merchant=merchant)


@dataclass
class TierProgress:
    current: Tier | None
    next: Tier | None
    points_to_next: int = 0
    percent: int = 100


@dataclass(frozen=True)
class HistoryLine:
    amount: int
    text: str
    at: datetime.datetime


@dataclass
class Account:
    member: Member
    tier: TierProgress
    coupons: list[Coupon] = field(default_factory=list)
    rewards: list[Reward] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)


def member_for_session(merchant: Merchant, phone: str, member_id: int | None) -> Member | None:
    """The member a signed-in customer may see: the one for their confirmed phone."""

    member = loyalty.member_for_phone(merchant, phone)
    if member is None or (member_id is not None and member.pk != member_id):
        # The number changed hands or the member was replaced since sign-in: show
        # nothing rather than another member's points.
        return None
    return member


def tier_progress(merchant: Merchant, member: Member) -> TierProgress:
    # The program decides what counts towards a tier (lifetime points, or points or
    # spend in a window); progress is measured the same way.
    reached = loyalty.tier_qualifying_value(merchant, member)
    following = next((t for t in loyalty.tiers(merchant) if t.threshold > reached), None)
    if following is None:
        return TierProgress(current=member.tier, next=None)
    floor = member.tier.threshold if member.tier is not None else 0
    span = max(following.threshold - floor, 1)
    percent = max(0, min(100, round(100 * (reached - floor) / span)))
    return TierProgress(
        current=member.tier,
        next=following,
        points_to_next=following.threshold - reached,
        percent=percent,
    )


def account(merchant: Merchant, member: Member) -> Account:
    contact = member.contact
    coupons = list(available_coupons(merchant, contact)) if contact is not None else []
    history = [_history_line(e) for e in loyalty.ledger(merchant, member)[:HISTORY_LENGTH]]
    return Account(
        member=member,
        tier=tier_progress(merchant, member),
        coupons=coupons,
        rewards=list(redeemable_rewards(merchant, member)),
        history=history,
    )


def _history_line(entry: LedgerEntry) -> HistoryLine:
    # Never the staff's free-text reason: it is written for colleagues, not customers.
    kinds = {
        "earn": _("Points earned"),
        "redeem": _("Points spent"),
        "adjust": _("Points adjusted"),
        "expire": _("Points expired"),
        "reverse": _("Points reversed"),
        "transfer": _("Points moved"),
    }
    if entry.source == "reward":
        text = _("Reward claimed")
    elif entry.category is not None:
        text = entry.category.name
    else:
        text = kinds.get(entry.kind, entry.kind)
    return HistoryLine(amount=entry.amount, text=text, at=entry.created_at)
