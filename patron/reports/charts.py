"""Series for the Dashboard's charts, one grouped query each, whatever the data size."""

import datetime
import zoneinfo
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from patron.coupons.models import Coupon
from patron.loyalty.models import LedgerEntry, LedgerKind
from patron.tenants.models import Merchant


def _bounds(
    merchant: Merchant, start: datetime.date, end: datetime.date
) -> tuple[zoneinfo.ZoneInfo, datetime.datetime, datetime.datetime]:
    tz = merchant.zone
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    until = datetime.datetime.combine(
        end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
    )
    return tz, since, until


def points_over_time(
    merchant: Merchant, start: datetime.date, end: datetime.date
) -> dict[str, list[Any]]:
    """Points issued, redeemed and expired per local day of the range."""
    tz, since, until = _bounds(merchant, start, end)
    rows = (
        LedgerEntry.objects.filter(merchant=merchant, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(
            issued=Sum(
                "amount", filter=Q(kind__in=[LedgerKind.EARN, LedgerKind.ADJUST], amount__gt=0)
            ),
            redeemed=Sum("amount", filter=Q(kind=LedgerKind.REDEEM)),
            expired=Sum("amount", filter=Q(kind=LedgerKind.EXPIRE)),
        )
    )
    by_day: dict[datetime.date, Any] = {row["day"]: row for row in rows}
    days = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
    return {
        "labels": [day.isoformat() for day in days],
        "issued": [int((by_day.get(d) or {}).get("issued") or 0) for d in days],
        "redeemed": [-int((by_day.get(d) or {}).get("redeemed") or 0) for d in days],
        "expired": [-int((by_day.get(d) or {}).get("expired") or 0) for d in days],
    }


def coupon_usage(merchant: Merchant, start: datetime.date, end: datetime.date) -> dict[str, int]:
    """Coupons issued in the range, by their status today."""
    _, since, until = _bounds(merchant, start, end)
    rows = (
        Coupon.objects.filter(merchant=merchant, created_at__gte=since, created_at__lt=until)
        .values("status")
        .annotate(n=Count("id"))
    )
    return {row["status"]: row["n"] for row in rows}
