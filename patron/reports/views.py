"""Rewards Leaderboard, Contact Points (seed 003), the Points Dashboard and the Dashboard.

Charts get their figures through json_script and draw with a static script: the content
security policy allows no inline code.
"""

import datetime
import zoneinfo

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.contacts import selectors as contact_selectors
from patron.contacts.forms import ContactForm
from patron.loyalty.models import LedgerEntry, Member
from patron.reports import charts, selectors
from patron.tenants.http import StaffRequest
from patron.tenants.permissions import staff_required

DEFAULT_DAYS = 30


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return None


def _range(request: StaffRequest) -> tuple[datetime.date, datetime.date]:
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(request.merchant.timezone or "UTC")).date()
    end = _date(request.GET.get("end")) or today
    start = _date(request.GET.get("start")) or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    # A year at most, so a chart stays readable and its query bounded.
    start = max(start, end - datetime.timedelta(days=366))
    return start, end


@staff_required()
def leaderboard(request: StaffRequest) -> HttpResponse:
    period = "month" if request.GET.get("period") == "month" else "all"
    rows = selectors.leaderboard(request.merchant, period=period, limit=50)
    return render(
        request,
        "reports/leaderboard.html",
        {"section": "leaderboard", "header": "leaderboard", "rows": rows, "period": period},
    )


@staff_required()
def contact_points(request: StaffRequest) -> HttpResponse:
    """Search a contact by name, phone or contact id and see their points."""
    q = request.GET.get("q", "").strip()
    found = contact_selectors.contact_search(request.merchant, q)
    page = Paginator(found, 25).get_page(request.GET.get("page"))
    contacts = list(page)
    members = {
        m.contact_id: m
        for m in Member.objects.filter(
            merchant=request.merchant,
            contact__in=contacts,
            deleted_at__isnull=True,
        ).select_related("tier")
    }
    rows = [
        (
            c,
            members.get(c.pk)
            if members.get(c.pk) and members[c.pk].phone == str(c.phone)
            else None,
        )
        for c in contacts
    ]
    context = {
        "section": "leaderboard",
        "header": "contact_points",
        "q": q,
        "page": page,
        "rows": rows,
        "form": ContactForm(),
    }
    return render(request, "reports/contact_points.html", context)


@staff_required()
def points_dashboard(request: StaffRequest) -> HttpResponse:
    start, end = _range(request)
    recent = (
        LedgerEntry.objects.filter(merchant=request.merchant)
        .select_related("member__contact", "category")
        .order_by("-id")[:25]
    )
    return render(
        request,
        "reports/points_dashboard.html",
        {
            "section": "points_dashboard",
            "summary": selectors.summary(request.merchant, start, end),
            "recent": recent,
            "start": start,
            "end": end,
        },
    )


@staff_required()
def dashboard(request: StaffRequest) -> HttpResponse:
    start, end = _range(request)
    summary = selectors.summary(request.merchant, start, end)
    series = charts.points_over_time(request.merchant, start, end)
    usage = charts.coupon_usage(request.merchant, start, end)
    status_labels = {
        "active": _("Activated"),
        "not_activated": _("Not activated"),
        "excluded": _("Excluded"),
    }
    coupon_labels = {
        "available": _("Available"),
        "used": _("Used"),
        "deleted": _("Deleted"),
        "expired": _("Expired"),
    }
    chart_data = {
        "points": {
            "labels": series["labels"],
            "datasets": [
                {"label": _("Points issued"), "data": series["issued"]},
                {"label": _("Points redeemed"), "data": series["redeemed"]},
                {"label": _("Points expired"), "data": series["expired"]},
            ],
        },
        "members_by_state": {
            "labels": [status_labels[s] for s in summary.members_by_status],
            "data": list(summary.members_by_status.values()),
        },
        "members_by_tier": {
            "labels": [
                _("No tier") if name == "No tier" else name for name in summary.members_by_tier
            ],
            "data": list(summary.members_by_tier.values()),
        },
        "coupons": {
            "labels": [coupon_labels[s] for s in coupon_labels],
            "data": [usage.get(s, 0) for s in coupon_labels],
        },
        "redeemed": {
            "labels": [str(kind) for kind in summary.redeemed_by_kind],
            "data": [row["points"] for row in summary.redeemed_by_kind.values()],
        },
    }
    return render(
        request,
        "reports/dashboard.html",
        {
            "section": "dashboard",
            "summary": summary,
            "start": start,
            "end": end,
            "chart_data": chart_data,
        },
    )
