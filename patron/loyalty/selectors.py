"""Reads of the loyalty program, members and their ledger. The merchant comes first."""

import datetime
from typing import Any, TypedDict

from django.db.models import QuerySet, Sum
from django.utils import timezone

from patron.contacts.models import Contact
from patron.lib.memo import remembered, sharing
from patron.lib.sql import first_row, row_id, rows
from patron.loyalty.models import (
    LedgerEntry,
    LedgerKind,
    LedgerSource,
    LoyaltyProgram,
    Member,
    PointCategory,
    Tier,
)
from patron.tenants.models import Merchant


class Points(TypedDict):
    available: int
    pending: int
    lifetime: int


def program(merchant: Merchant) -> LoyaltyProgram:
    """The merchant's program; the defaults, unsaved, if it was never installed."""
    # Read on every point given: fixed SQL (patron.lib.sql), not a query built anew, and
    # once for a batch of them (patron.lib.memo).
    found = remembered(
        ("loyalty_program", merchant.pk),
        lambda: first_row(LoyaltyProgram, {"merchant": merchant}),
    )
    return found or LoyaltyProgram(merchant=merchant)


def members(merchant: Merchant, status: str | None = None) -> QuerySet[Member]:
    found = Member.objects.filter(merchant=merchant, deleted_at__isnull=True).select_related(
        "tier", "contact"
    )
    if status:
        found = found.filter(status=status)
    return found.order_by("-id")


def member_get(merchant: Merchant, member_id: int | str) -> Member | None:
    pk = row_id(member_id)
    if pk is None:
        return None
    # Fixed SQL (patron.lib.sql): every API call about a member starts here.
    return first_row(
        Member,
        {"merchant": merchant, "pk": pk, "deleted_at__isnull": True},
        related=("tier", "contact"),
    )


def member_for_phone(merchant: Merchant, phone_e164: str) -> Member | None:
    return members(merchant).filter(phone=phone_e164).first()


def membership_where(merchant: Merchant, contact: Contact) -> dict[str, Any] | None:
    """The membership of the contact's current phone, if it belongs to this contact:
    its conditions, for the ORM and for fixed SQL alike (None: the contact has no phone)."""
    if not contact.phone:
        return None
    return {
        "merchant": merchant,
        "deleted_at__isnull": True,
        "phone": str(contact.phone),
        "contact": contact,
    }


def _contact_membership(merchant: Merchant, contact: Contact) -> QuerySet[Member]:
    where = membership_where(merchant, contact)
    return members(merchant).filter(**where) if where else Member.objects.none()


def member_for_contact(merchant: Merchant, contact: Contact) -> Member | None:
    return _contact_membership(merchant, contact).first()


def member_points(member: Member) -> Points:
    return {
        "available": member.points_available,
        "pending": member.points_pending,
        "lifetime": member.points_lifetime,
    }


def ledger(merchant: Merchant, member: Member) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(merchant=merchant, member=member)
        .select_related("category")
        .order_by("-id")
    )


def point_categories(merchant: Merchant) -> QuerySet[PointCategory]:
    return PointCategory.objects.filter(merchant=merchant).order_by("position", "id")


def point_category_get(merchant: Merchant, category_id: int | str) -> PointCategory | None:
    try:
        return point_categories(merchant).filter(pk=int(category_id)).first()
    except (TypeError, ValueError):
        return None


def tiers(merchant: Merchant) -> QuerySet[Tier]:
    return Tier.objects.filter(merchant=merchant).order_by("threshold", "id")


def tier_for_value(merchant: Merchant, value: int) -> Tier | None:
    """The highest tier whose threshold `value` reaches (read after every point given)."""
    if sharing():
        # A batch reads the merchant's few tiers once, highest first.
        ladder = remembered(
            ("tiers", merchant.pk),
            lambda: rows(Tier, {"merchant": merchant}, order_by=("-threshold", "-id")),
        )
        return next((tier for tier in ladder if tier.threshold <= value), None)
    return first_row(
        Tier, {"merchant": merchant, "threshold__lte": value}, order_by=("-threshold",)
    )


def share_settings(merchant: Merchant) -> None:
    """Read the program and the tiers into the enclosing `shared_reads` block now: a
    caller about to lock a member has the points change under the lock weigh the tier
    without a statement."""
    program(merchant)
    tier_for_value(merchant, 0)


def tier_qualifying_value(
    merchant: Merchant,
    member: Member,
    *,
    now: datetime.datetime | None = None,
    settings: LoyaltyProgram | None = None,
) -> int:
    """What the program compares with tier thresholds for this member; `settings` is the
    merchant's program when the caller has already read it."""
    if settings is None:
        settings = program(merchant)
    if settings.tier_basis == "lifetime_points":
        return member.points_lifetime
    since = (now or timezone.now()) - datetime.timedelta(days=settings.tier_window_days)
    window = LedgerEntry.objects.filter(merchant=merchant, member=member, created_at__gte=since)
    # Reversals of refunded orders count against the window (negative spend and points).
    refunds = window.filter(kind=LedgerKind.REVERSE, source=LedgerSource.ORDER)
    if settings.tier_basis == "window_spend":
        spent = (window.filter(kind=LedgerKind.EARN) | refunds).aggregate(total=Sum("spend"))[
            "total"
        ]
        return max(0, int(spent or 0))
    earned = window.filter(kind__in=EARNING_KINDS, amount__gt=0).aggregate(total=Sum("amount"))
    taken = refunds.filter(amount__lt=0).aggregate(total=Sum("amount"))
    return max(0, int(earned["total"] or 0) + int(taken["total"] or 0))


# Rows that count as earning points (lifetime, tier windows, the leaderboard). A
# transfer in is points moved on purpose by staff (seed 004), so it counts too.
EARNING_KINDS = [LedgerKind.EARN, LedgerKind.ADJUST, LedgerKind.TRANSFER]
