"""Figures for the Rewards Leaderboard and the Points Dashboard. The merchant comes first.

Everything is computed from the ledger and the member rows of one merchant; dates are
the merchant's local dates, so "this month" starts at midnight where the shop is.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import CharField, Count, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from patron.contacts.models import Contact
from patron.loyalty.models import LedgerEntry, LedgerKind, Member, MemberStatus, Tier
from patron.loyalty.selectors import EARNING_KINDS, tiers
from patron.reports.models import RankBand, band_of, band_width
from patron.rewards.models import Redemption
from patron.tenants.models import Merchant


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    member_id: int
    phone: str
    # The contact the membership belongs to now (Member.linked_contact), if any.
    contact_id: int | None
    name: str
    tier: str | None
    points: int


def _local_start_of_month(merchant: Merchant, now: datetime.datetime) -> datetime.datetime:
    local = now.astimezone(merchant.zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# The columns of a row, read as plain values: building Member and Contact objects (and
# parsing every contact's phone number) cost far more than the query itself. The
# contact's phone is read as text so it compares with the member's as stored.
_ROW_FIELDS = (
    "pk",
    "phone",
    "contact_id",
    "contact__first_name",
    "contact__last_name",
    "contact__deleted_at",
    "contact_phone",
    "tier__name",
    "points",
)


def _row(rank: int, values: tuple[Any, ...]) -> LeaderboardRow:
    pk, stored_phone, contact_id, first, last, deleted_at, contact_phone, tier, points = values
    phone = str(stored_phone)  # E.164 text from SQL; a PhoneNumber from the ORM
    # The same rule as Member.linked_contact: a live contact still on this phone.
    linked = contact_id is not None and deleted_at is None and (contact_phone or "") == phone
    return LeaderboardRow(
        rank=rank,
        member_id=pk,
        phone=phone,
        contact_id=contact_id if linked else None,
        name=f"{first} {last}".strip() if linked else "",
        tier=tier,
        points=int(points),
    )


def leaderboard(
    merchant: Merchant, period: str = "all", limit: int = 20, now: datetime.datetime | None = None
) -> list[LeaderboardRow]:
    """Members ranked by points earned: all time (lifetime) or since the month began.

    Excluded members are left out: the program shows them nothing (seed 004).
    """
    if period == "month":
        members = (
            Member.objects.filter(merchant=merchant, deleted_at__isnull=True)
            .exclude(status=MemberStatus.EXCLUDED)
            .annotate(contact_phone=Cast("contact__phone", CharField()))
        )
        since = _local_start_of_month(merchant, now or timezone.now())
        ranked = (
            members.annotate(
                points=Sum(
                    "ledger__amount",
                    filter=Q(
                        ledger__kind__in=EARNING_KINDS,
                        ledger__amount__gt=0,
                        ledger__created_at__gte=since,
                    ),
                )
            )
            .filter(points__gt=0)
            .order_by("-points", "pk")
        )
        rows = list(ranked.values_list(*_ROW_FIELDS)[:limit])
    else:
        rows = _all_time_rows(merchant.pk, limit)
    return [_row(i + 1, values) for i, values in enumerate(rows)]


# The all-time board is the API's busiest read. Its query is fixed, so it is written once
# as SQL: the ORM spent ~5 ms building it on every call, the database under 1 ms
# running it. The filter and order are those of the member_rank index (reports migration
# 0001): the first `limit` rows are read from it in order and the scan stops there. The
# columns are those of _ROW_FIELDS; only table names are formatted in.
_ALL_TIME_SQL = f"""
    SELECT m.id, m.phone, m.contact_id, c.first_name, c.last_name, c.deleted_at, c.phone,
           t.name, m.points_lifetime
    FROM {Member._meta.db_table} m
    LEFT JOIN {Contact._meta.db_table} c ON c.id = m.contact_id
    LEFT JOIN {Tier._meta.db_table} t ON t.id = m.tier_id
    WHERE m.merchant_id = %s AND m.deleted_at IS NULL AND m.status <> %s
      AND m.points_lifetime > 0
    ORDER BY m.points_lifetime DESC, m.id
    LIMIT %s
"""  # noqa: S608


def _all_time_rows(merchant_id: int, limit: int) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(_ALL_TIME_SQL, [merchant_id, MemberStatus.EXCLUDED.value, limit])
        return cursor.fetchall()


# One member's rank: the members in the bands above its own, from the band counts
# (reports.models), plus those ahead of it in its own band, counted in the member_rank
# index (reports migration 0001). Its conditions are the index's, so the two counts
# read the index alone, and only the member's own band of it.
_RANK_SQL = f"""
    SELECT
        (SELECT COALESCE(SUM(delta), 0) FROM {RankBand._meta.db_table}
         WHERE merchant_id = %s AND band > %s)
      + (SELECT COUNT(*) FROM {Member._meta.db_table}
         WHERE merchant_id = %s AND deleted_at IS NULL AND status <> %s
           AND points_lifetime > 0 AND points_lifetime > %s AND points_lifetime < %s)
      + (SELECT COUNT(*) FROM {Member._meta.db_table}
         WHERE merchant_id = %s AND deleted_at IS NULL AND status <> %s
           AND points_lifetime > 0 AND points_lifetime = %s AND id < %s)
"""  # noqa: S608


def member_rank(merchant: Merchant, member: Member) -> int | None:
    """The member's place on the all-time leaderboard (1 is first), None when not on it.

    The same order as `leaderboard`: lifetime points, then the older member first.
    """
    if (
        member.deleted_at is not None
        or member.status == MemberStatus.EXCLUDED
        or member.points_lifetime <= 0
    ):
        return None
    points = member.points_lifetime
    band = band_of(points)
    excluded = MemberStatus.EXCLUDED.value
    above: list[int | str] = [merchant.pk, band]
    in_band: list[int | str] = [merchant.pk, excluded, points, band + band_width(points)]
    tied: list[int | str] = [merchant.pk, excluded, points, member.pk]
    with connection.cursor() as cursor:
        cursor.execute(_RANK_SQL, [*above, *in_band, *tied])
        (ahead,) = cursor.fetchone()
    return int(ahead) + 1


@dataclass
class Summary:
    start: datetime.date | None
    end: datetime.date | None
    points_issued: int = 0
    points_redeemed: int = 0
    points_expired: int = 0
    points_returned: int = 0
    redemptions: int = 0
    redeemed_amount: Decimal = Decimal(0)
    redeemed_by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    members_by_status: dict[str, int] = field(default_factory=dict)
    members_by_tier: dict[str, int] = field(default_factory=dict)
    outstanding_available: int = 0
    outstanding_pending: int = 0


def summary(
    merchant: Merchant, start: datetime.date | None = None, end: datetime.date | None = None
) -> Summary:
    """The Points Dashboard: flows over an optional date range, stocks as of now."""
    tz = merchant.zone
    entries = LedgerEntry.objects.filter(merchant=merchant)
    redemptions = Redemption.objects.filter(merchant=merchant)
    if start:
        since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
        entries = entries.filter(created_at__gte=since)
        redemptions = redemptions.filter(created_at__gte=since)
    if end:
        until = datetime.datetime.combine(
            end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        entries = entries.filter(created_at__lt=until)
        redemptions = redemptions.filter(created_at__lt=until)
    flows = entries.aggregate(
        # Transfers move points between members; they issue nothing new.
        issued=Sum(
            "amount",
            filter=Q(kind__in=[LedgerKind.EARN, LedgerKind.ADJUST], amount__gt=0),
        ),
        redeemed=Sum("amount", filter=Q(kind=LedgerKind.REDEEM)),
        expired=Sum("amount", filter=Q(kind=LedgerKind.EXPIRE)),
        returned=Sum("amount", filter=Q(kind=LedgerKind.REVERSE, amount__gt=0)),
    )
    result = Summary(
        start=start,
        end=end,
        points_issued=int(flows["issued"] or 0),
        points_redeemed=-int(flows["redeemed"] or 0),
        points_expired=-int(flows["expired"] or 0),
        points_returned=int(flows["returned"] or 0),
        redemptions=redemptions.count(),
    )
    for row in redemptions.values("reward_kind").annotate(
        n=Count("id"), points=Sum("points"), value=Sum("reward_value")
    ):
        kind = row["reward_kind"] or "manual"
        result.redeemed_by_kind[kind] = {
            "count": row["n"],
            "points": int(row["points"] or 0),
            "value": row["value"] or Decimal(0),
        }
        # Money off only adds up for fixed amounts; a percentage's worth depends on
        # the order, so it is counted, not summed.
        if kind == "fixed_amount":
            result.redeemed_amount += row["value"] or Decimal(0)
    live = Member.objects.filter(merchant=merchant, deleted_at__isnull=True)
    result.members_by_status = dict.fromkeys(MemberStatus.values, 0)
    for status_row in live.values("status").annotate(n=Count("id")):
        result.members_by_status[status_row["status"]] = status_row["n"]
    result.members_by_tier = {tier.name: 0 for tier in tiers(merchant)}
    result.members_by_tier["No tier"] = 0
    for tier_row in live.values("tier__name").annotate(n=Count("id")):
        result.members_by_tier[tier_row["tier__name"] or "No tier"] = tier_row["n"]
    stock = live.aggregate(available=Sum("points_available"), pending=Sum("points_pending"))
    result.outstanding_available = int(stock["available"] or 0)
    result.outstanding_pending = int(stock["pending"] or 0)
    return result
