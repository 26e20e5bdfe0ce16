"""What starts a workflow: domain events (dispatched after commit) and dates.

Event triggers map an activity event type to the trigger types it can fire and check the
workflow's trigger settings (which tag, how many points). Date triggers run in a
periodic task and use each merchant's own calendar: a birthday starts on the customer's
birthday where the shop is, not in UTC.
"""

import datetime
import logging
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db.models import DateTimeField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.automations.models import TriggerType, Workflow, WorkflowStatus
from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import SYSTEM
from patron.lib.sql import any_row

log = logging.getLogger(__name__)

# Activity event type -> the trigger types it may fire.
EVENT_TRIGGERS: dict[str, list[str]] = {
    "contact_created": [TriggerType.CONTACT_CREATED],
    "tag_added": [TriggerType.TAG_ADDED],
    "tag_removed": [TriggerType.TAG_REMOVED],
    "member_activated": [TriggerType.MEMBER_ACTIVATED],
    "member_excluded": [TriggerType.MEMBER_EXCLUDED],
    "points_earned": [TriggerType.POINTS_EARNED, TriggerType.BALANCE_REACHED],
    "tier_changed": [TriggerType.TIER_CHANGED],
    "order_placed": [TriggerType.ORDER_PLACED],
    "coupon_used": [TriggerType.COUPON_USED],
}

DATE_TRIGGERS = [
    TriggerType.BIRTHDAY,
    TriggerType.NO_VISIT,
    TriggerType.COUPON_EXPIRING,
    TriggerType.POINTS_EXPIRING,
]

# Events that count as a visit for "no visit for N days".
VISIT_EVENTS = ["order_placed", "points_earned", "coupon_used"]

# Date triggers enroll from this local hour on, so nobody gets a text at midnight.
DEFAULT_HOUR = 9


def is_listened(merchant: Any, event_type: str) -> bool:
    """Does a published workflow of the merchant wait for this event type?

    Asked when the event is written, so events nobody listens to (most of them) cost one
    indexed query instead of a background job each.
    """
    kinds = EVENT_TRIGGERS.get(event_type) or []
    if not kinds:
        return False
    # The merchant is filtered on explicitly; the writer may be outside any scope.
    return any_row(
        Workflow, {"merchant": merchant, "status": WorkflowStatus.PUBLISHED, "trigger_type": kinds}
    )


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _event_points(event: ActivityEvent) -> int:
    data = event.data or {}
    return _int(data.get("amount", data.get("points")))


def _balance_after(event: ActivityEvent) -> int | None:
    data = event.data or {}
    for key in ("balance", "points_available", "available"):
        if key in data:
            return _int(data[key])
    from patron.loyalty import selectors

    assert event.contact is not None
    member = selectors.member_for_contact(event.merchant, event.contact)
    return member.points_available if member else None


def event_matches(workflow: Workflow, event: ActivityEvent) -> bool:
    config = workflow.trigger_config or {}
    data = event.data or {}
    kind = workflow.trigger_type
    if kind in (TriggerType.TAG_ADDED, TriggerType.TAG_REMOVED):
        wanted = str(config.get("tag", "")).strip().lower()
        return not wanted or str(data.get("tag", "")).strip().lower() == wanted
    if kind == TriggerType.POINTS_EARNED:
        return _event_points(event) >= _int(config.get("min_points"), 1)
    if kind == TriggerType.BALANCE_REACHED:
        threshold = _int(config.get("points"))
        after = _balance_after(event)
        if threshold <= 0 or after is None:
            return False
        # Fire on crossing the threshold, not on every earn above it.
        return after >= threshold > after - _event_points(event)
    if kind == TriggerType.TIER_CHANGED:
        wanted = str(config.get("tier", "")).strip().lower()
        new_tier = str(data.get("new_tier") or data.get("tier") or "").strip().lower()
        return not wanted or new_tier == wanted
    if kind == TriggerType.ORDER_PLACED:
        try:
            total = float(data.get("total", 0) or 0)
        except (TypeError, ValueError):
            total = 0
        return total >= float(config.get("min_total", 0) or 0)
    return True


def event_context(event: ActivityEvent) -> dict[str, Any]:
    context: dict[str, Any] = {"trigger_event_id": event.pk}
    data = event.data or {}
    for key in ("tag", "tier", "code", "amount", "points"):
        if key in data and isinstance(data[key], str | int | float):
            context[f"trigger_{key}"] = data[key]
    return context


def event_trigger_key(workflow: Workflow, event: ActivityEvent) -> str:
    # Crossing a balance threshold happens once per member and threshold.
    if workflow.trigger_type == TriggerType.BALANCE_REACHED:
        return f"balance:{_int((workflow.trigger_config or {}).get('points'))}"
    return ""


# Date triggers ---------------------------------------------------------------------------


def run_date_triggers(now: datetime.datetime | None = None) -> int:
    """Enroll contacts whose date came, in every merchant with a published date workflow."""
    from patron.automations import services

    now = now or timezone.now()
    with scopes_disabled():
        waiting = list(
            Workflow.objects.filter(
                status=WorkflowStatus.PUBLISHED, trigger_type__in=DATE_TRIGGERS
            ).select_related("merchant")
        )
    made = 0
    for workflow in waiting:
        merchant = workflow.merchant
        local_now = now.astimezone(merchant.zone)
        config = workflow.trigger_config or {}
        if local_now.hour < _int(config.get("hour"), DEFAULT_HOUR):
            continue
        with scope(merchant=merchant):
            for contact, key, context in _due_contacts(workflow, local_now):
                made += len(
                    services.enrollments_create(
                        merchant=merchant,
                        workflow=workflow,
                        contacts=[contact],
                        actor=SYSTEM,
                        action_name=str(workflow.get_trigger_type_display()),
                        context=context,
                        trigger_key=key,
                    )
                )
    return made


def _due_contacts(
    workflow: Workflow, local_now: datetime.datetime
) -> list[tuple[Contact, str, dict[str, Any]]]:
    kind = workflow.trigger_type
    try:
        if kind == TriggerType.BIRTHDAY:
            return _birthdays(workflow, local_now)
        if kind == TriggerType.NO_VISIT:
            return _no_visit(workflow, local_now)
        if kind == TriggerType.COUPON_EXPIRING:
            return _coupons_expiring(workflow, local_now)
        if kind == TriggerType.POINTS_EXPIRING:
            return _points_expiring(workflow, local_now)
    except (LookupError, FieldError) as error:
        # The coupons or loyalty tables are not what this expects (yet): say so, go on.
        log.warning("Date trigger %s of workflow %s skipped: %s", kind, workflow.pk, error)
    return []


def _live_contacts(workflow: Workflow) -> Any:
    return Contact.objects.filter(merchant=workflow.merchant, deleted_at__isnull=True)


def _birthdays(workflow: Workflow, local_now: datetime.datetime) -> list[Any]:
    today = local_now.date()
    days = [(today.month, today.day)]
    # Customers born on 29 February celebrate on the 28th in other years.
    if (today.month, today.day) == (2, 28) and not _is_leap(today.year):
        days.append((2, 29))
    found: list[Any] = []
    for month, day in days:
        for contact in _live_contacts(workflow).filter(birthday__month=month, birthday__day=day):
            found.append((contact, f"birthday:{today.year}", {}))
    return found


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _no_visit(workflow: Workflow, local_now: datetime.datetime) -> list[Any]:
    days = _int((workflow.trigger_config or {}).get("days"))
    if days <= 0:
        return []
    start_of_today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    cutoff = start_of_today - datetime.timedelta(days=days)
    last_visit = (
        ActivityEvent.objects.filter(contact=OuterRef("pk"), type__in=VISIT_EVENTS)
        .order_by("-at")
        .values("at")[:1]
    )
    absent = (
        _live_contacts(workflow)
        .annotate(
            last_visit=Coalesce(Subquery(last_visit, output_field=DateTimeField()), "created_at")
        )
        .filter(last_visit__lt=cutoff)
    )
    tz = local_now.tzinfo
    return [
        (contact, f"no_visit:{contact.last_visit.astimezone(tz).date().isoformat()}", {})
        for contact in absent
    ]


def _coupons_expiring(workflow: Workflow, local_now: datetime.datetime) -> list[Any]:
    days = _int((workflow.trigger_config or {}).get("days"))
    coupon_model = apps.get_model("coupons", "Coupon")
    expiring = coupon_model.objects.filter(
        merchant=workflow.merchant,
        status="available",
        contact__deleted_at__isnull=True,
        expires_at__gt=local_now,
        expires_at__lte=local_now + datetime.timedelta(days=days),
    ).select_related("contact")
    return [
        (
            coupon.contact,
            f"coupon:{coupon.pk}",
            {
                "coupon_code": coupon.code,
                "coupon_expires_at": coupon.expires_at.date().isoformat(),
            },
        )
        for coupon in expiring
        if coupon.contact is not None and coupon.expires_at is not None
    ]


def _points_expiring(workflow: Workflow, local_now: datetime.datetime) -> list[Any]:
    days = _int((workflow.trigger_config or {}).get("days"))
    lot_model = apps.get_model("loyalty", "PointLot")
    lots = lot_model.objects.filter(
        merchant=workflow.merchant,
        remaining__gt=0,
        activated=True,
        expires_at__gt=local_now,
        expires_at__lte=local_now + datetime.timedelta(days=days),
        member__status="active",
        member__contact__isnull=False,
        member__contact__deleted_at__isnull=True,
    ).select_related("member__contact")
    found: dict[int, tuple[Contact, str, dict[str, Any]]] = {}
    for lot in lots.order_by("expires_at"):
        contact = lot.member.contact
        if contact is None or lot.expires_at is None:
            continue
        entry = found.get(contact.pk)
        points = lot.remaining + (_int(entry[2]["expiring_points"]) if entry else 0)
        expires = entry[2]["points_expire_on"] if entry else lot.expires_at.date().isoformat()
        found[contact.pk] = (
            contact,
            f"points_expiring:{expires}",
            {"expiring_points": points, "points_expire_on": expires},
        )
    return list(found.values())
