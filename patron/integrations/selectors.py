"""Reads for integrations. The merchant comes first, always."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from patron.integrations.models import (
    CouponSync,
    Order,
    SyncStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from patron.tenants.models import Merchant

# The domain events an endpoint may subscribe to. Apps that add event types describe
# them in the activity timeline; those are offered as well (see `event_types`).
DOMAIN_EVENT_TYPES = [
    "contact_created",
    "contact_updated",
    "contact_deleted",
    "tag_added",
    "tag_removed",
    "note_added",
    "member_activated",
    "member_excluded",
    "points_earned",
    "points_redeemed",
    "points_adjusted",
    "points_reversed",
    "points_expired",
    "tier_changed",
    "reward_claimed",
    "coupon_issued",
    "coupon_used",
    "coupon_deleted",
    "coupon_expired",
    "import_finished",
]


def event_types() -> list[str]:
    from patron.contacts.templatetags.activity import DESCRIPTIONS

    return sorted(set(DOMAIN_EVENT_TYPES) | set(DESCRIPTIONS))


def endpoints(merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant).order_by("-created_at")


def endpoint_get(merchant: Merchant, endpoint_id: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(merchant=merchant, pk=endpoint_id).first()


def deliveries(merchant: Merchant, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(merchant=merchant, endpoint=endpoint).order_by(
        "-created_at", "-pk"
    )


def delivery_get(merchant: Merchant, delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.filter(merchant=merchant, pk=delivery_id)
        .select_related("endpoint")
        .first()
    )


# A sync is done once it succeeded or was cancelled (its coupon deleted before it
# reached the store); every other state is something staff may need to act on.
SYNC_DONE = [SyncStatus.SUCCEEDED, SyncStatus.CANCELLED]


def coupon_syncs(merchant: Merchant) -> QuerySet[CouponSync]:
    """The store syncs of coupon changes, the unfinished ones first, then newest first."""
    return (
        CouponSync.objects.filter(merchant=merchant)
        .select_related("coupon")
        .annotate(
            done=Case(
                When(status__in=SYNC_DONE, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("done", "-created_at", "-pk")
    )


def coupon_syncs_not_done(merchant: Merchant) -> QuerySet[CouponSync]:
    return CouponSync.objects.filter(merchant=merchant).exclude(status__in=SYNC_DONE)


def order_get(merchant: Merchant, source: str, external_id: str) -> Order | None:
    """An order by the id its POS or store gave it."""
    return Order.objects.filter(merchant=merchant, source=source, external_id=external_id).first()
