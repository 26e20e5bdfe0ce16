"""Outgoing webhooks: endpoints, the fan-out of domain events, delivery and retries.

`webhooks_dispatch(event)` runs after the event's transaction commits (see
`patron.contacts.events.record`): it writes one delivery per endpoint that wants the
event and enqueues its sending. Sending happens outside any transaction; the row is
claimed with a conditional UPDATE so two workers never send the same attempt.
"""

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.contacts.models import ActivityEvent
from patron.integrations import selectors, signing
from patron.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from patron.lib.actors import Actor
from patron.lib.errors import InvalidInput, NotFound
from patron.lib.sql import any_row
from patron.tenants.models import Merchant

logger = logging.getLogger(__name__)

# Seconds to wait before each retry; after the last one the delivery is failed and
# only a replay sends it again. About a day in all, like the Standard Webhooks advice.
RETRY_DELAYS = [5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600]
TIMEOUT_SECONDS = 10
EXCERPT = 2000
# A delivery left "sending" this long was abandoned by a worker that died mid-request.
STALE_SENDING = timedelta(minutes=5)


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    title = "No such webhook endpoint"


class InvalidWebhookUrl(InvalidInput):
    code = "invalid_webhook_url"
    title = "Use an http:// or https:// address"


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"
    title = "Choose event types from the list"


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 500:
        raise InvalidWebhookUrl(field="url")
    return url


def _clean_event_types(event_types: list[str] | None) -> list[str]:
    chosen = sorted(set(event_types or []))
    unknown = set(chosen) - set(selectors.event_types())
    if unknown:
        raise UnknownEventType(
            f"Unknown event types: {', '.join(sorted(unknown))}.", field="event_types"
        )
    return chosen


@transaction.atomic
def endpoint_create(
    *,
    merchant: Merchant,
    actor: Actor,
    url: str,
    event_types: list[str] | None = None,
    description: str = "",
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret; `endpoint.secret` is shown to the person once."""
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=_clean_url(url),
        event_types=_clean_event_types(event_types),
        description=(description or "").strip()[:200],
        secret=signing.new_secret(),
    )
    endpoint.set_actor(actor)
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    merchant: Merchant,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str,
    event_types: list[str] | None,
    enabled: bool,
    description: str = "",
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(merchant=merchant, pk=endpoint.pk)
    endpoint.url = _clean_url(url)
    endpoint.event_types = _clean_event_types(event_types)
    endpoint.enabled = enabled
    endpoint.description = (description or "").strip()[:200]
    endpoint.updated_at = timezone.now()
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(
    *, merchant: Merchant, endpoint: WebhookEndpoint, actor: Actor
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(merchant=merchant, pk=endpoint.pk)
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


@transaction.atomic
def endpoint_delete(*, merchant: Merchant, endpoint: WebhookEndpoint, actor: Actor) -> None:
    WebhookEndpoint.objects.filter(merchant=merchant, pk=endpoint.pk).delete()


def event_payload(event: ActivityEvent) -> dict[str, Any]:
    """The JSON body for an event: `type`, `timestamp` and `data`, as Standard Webhooks."""
    data = dict(event.data or {})
    data.update(
        {
            "event_id": str(event.pk),
            "merchant": event.merchant.slug,
            "contact_id": str(event.contact_id) if event.contact_id else None,
            "actor": event.actor.as_dict(),
        }
    )
    return {"type": event.type, "timestamp": event.at.isoformat(), "data": data}


def _enqueue(delivery: WebhookDelivery, run_after: datetime | None = None) -> None:
    from patron.integrations.tasks import webhook_deliver

    task = webhook_deliver.using(run_after=run_after) if run_after else webhook_deliver
    transaction.on_commit(lambda: task.enqueue(delivery.merchant_id, delivery.pk))


def deliveries_create(*, merchant: Merchant, event: ActivityEvent) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint that wants this event type."""
    # Most merchants have no endpoint: then one fixed query is all the fan-out costs
    # (no ORM query, no BEGIN/COMMIT). Otherwise the endpoints are read before the
    # transaction opens; inside a transaction it reads what it read before.
    if not any_row(WebhookEndpoint, {"merchant": merchant, "enabled": True}):
        return []
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(merchant=merchant, enabled=True)
        if e.wants(event.type)
    ]
    if not endpoints:
        return []
    payload = event_payload(event)
    deliveries = []
    with transaction.atomic():
        for endpoint in endpoints:
            delivery = WebhookDelivery.objects.create(
                merchant=merchant,
                endpoint=endpoint,
                event=event,
                event_type=event.type,
                message_id=f"msg_{uuid.uuid4().hex}",
                payload=payload,
            )
            _enqueue(delivery)
            deliveries.append(delivery)
    return deliveries


def webhooks_dispatch(event: ActivityEvent) -> list[WebhookDelivery]:
    """Fan a committed domain event out: to the merchant's endpoints, and coupon events
    to the connected store."""
    _store_syncs(event.merchant, [event])
    with scope(merchant=event.merchant):
        return deliveries_create(merchant=event.merchant, event=event)


def _store_syncs(merchant: Merchant, events: list[ActivityEvent]) -> None:
    """The connected store's syncs that coupon events ask for, one by one. Where the
    merchant syncs no coupons (most), one look at its store settles every event."""
    from patron.integrations.shopify.services import SYNCED_EVENTS, coupon_syncs_create, store_for

    synced = [event for event in events if event.type in SYNCED_EVENTS]
    if not synced:
        return
    try:
        store = store_for(merchant)
    except Exception:
        logger.exception("coupon syncs of %d events not queued", len(synced))
        return
    if store is None or not store.sync_coupons:
        return
    for event in synced:
        try:
            with scope(merchant=merchant):
                coupon_syncs_create(merchant=merchant, event=event)
        except Exception:
            # A failing store sync must not keep the event from the endpoints.
            logger.exception("coupon sync of event %s not queued", event.pk)


def webhooks_dispatch_many(merchant: Merchant, events: list[ActivityEvent]) -> int:
    """`webhooks_dispatch` for the committed events of one write (an API request, a chunk
    of workflow steps): the endpoints are read once and the deliveries inserted
    together. Returns how many deliveries were made."""
    _store_syncs(merchant, events)
    if not events or not any_row(WebhookEndpoint, {"merchant": merchant, "enabled": True}):
        return 0  # most merchants have no endpoint: one fixed query, no transaction
    with scope(merchant=merchant), transaction.atomic():
        endpoints = list(WebhookEndpoint.objects.filter(merchant=merchant, enabled=True))
        deliveries = [
            WebhookDelivery(
                merchant=merchant,
                endpoint=endpoint,
                event=event,
                event_type=event.type,
                message_id=f"msg_{uuid.uuid4().hex}",
                payload=event_payload(event),
            )
            for event in events
            for endpoint in endpoints
            if endpoint.wants(event.type)
        ]
        for delivery in WebhookDelivery.objects.bulk_create(deliveries):
            _enqueue(delivery)
    return len(deliveries)


def _excerpt(text: str) -> str:
    return text[:EXCERPT]


def delivery_send(*, merchant: Merchant, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt at a delivery that is due; return it, or None if not ours to send.

    No transaction is held open during the HTTP call: the claim is a conditional UPDATE,
    the outcome another one.
    """
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING) | Q(
        status=DeliveryStatus.RETRYING, next_retry_at__lte=now
    )
    claimed = (
        WebhookDelivery.objects.filter(merchant=merchant, pk=delivery_id)
        .filter(due)
        .update(status=DeliveryStatus.SENDING, last_attempt_at=now)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    headers = {
        "content-type": "application/json",
        "user-agent": "Patron-Webhooks/1",
        **signing.signed_headers(
            secret=endpoint.secret, message_id=delivery.message_id, at=now, body=body
        ),
    }
    code: int | None = None
    response_text = ""
    error = ""
    started = time.monotonic()
    try:
        response = httpx.post(
            endpoint.url,
            content=body.encode(),
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
        code = response.status_code
        response_text = _excerpt(response.text)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return _delivery_outcome(
        delivery, at=now, code=code, response_text=response_text, error=error, elapsed_ms=elapsed_ms
    )


def _delivery_outcome(
    delivery: WebhookDelivery,
    *,
    at: datetime,
    code: int | None,
    response_text: str,
    error: str,
    elapsed_ms: int,
) -> WebhookDelivery:
    delivery.attempt += 1
    delivery.response_code = code
    delivery.response_body = response_text
    delivery.error = error
    delivery.log = [
        *delivery.log,
        {"at": at.isoformat(), "code": code, "error": error, "ms": elapsed_ms},
    ]
    if code is not None and 200 <= code < 300:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_retry_at = None
    elif delivery.attempt > len(RETRY_DELAYS) or not delivery.endpoint.enabled:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_retry_at = None
    else:
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_retry_at = timezone.now() + timedelta(
            seconds=RETRY_DELAYS[delivery.attempt - 1]
        )
    with transaction.atomic():
        delivery.save(
            update_fields=[
                "attempt",
                "response_code",
                "response_body",
                "error",
                "log",
                "status",
                "next_retry_at",
            ]
        )
        if delivery.status == DeliveryStatus.RETRYING:
            _enqueue(delivery, run_after=delivery.next_retry_at)
    if delivery.status != DeliveryStatus.SUCCEEDED:
        logger.info(
            "webhook %s to %s failed (attempt %s): %s %s",
            delivery.message_id,
            delivery.endpoint.url,
            delivery.attempt,
            code,
            error,
        )
    return delivery


@transaction.atomic
def delivery_replay(
    *, merchant: Merchant, delivery: WebhookDelivery, actor: Actor
) -> WebhookDelivery:
    """Send a delivery again as a new row, keeping the message id so receivers can dedupe."""
    original = WebhookDelivery.objects.filter(merchant=merchant, pk=delivery.pk).first()
    if original is None:
        raise NotFound()
    replay = WebhookDelivery.objects.create(
        merchant=merchant,
        endpoint=original.endpoint,
        event=original.event,
        event_type=original.event_type,
        message_id=original.message_id,
        payload=original.payload,
        replay_of=original,
    )
    _enqueue(replay)
    return replay


def deliveries_due(limit: int = 500) -> list[tuple[int, int]]:
    """(merchant id, delivery id) of deliveries a lost or deferred job left behind."""
    now = timezone.now()
    with scopes_disabled():
        rows = WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.RETRYING, next_retry_at__lte=now)
            | Q(status=DeliveryStatus.PENDING, created_at__lte=now - timedelta(minutes=1))
            | Q(status=DeliveryStatus.SENDING, last_attempt_at__lte=now - STALE_SENDING)
        ).values_list("merchant_id", "pk")[:limit]
        return list(rows)


def deliveries_send_due() -> int:
    """Send every due delivery now; the safety net behind the deferred jobs."""
    sent = 0
    with scopes_disabled():
        # A worker that died mid-request left the row "sending": hand it back.
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.SENDING,
            last_attempt_at__lte=timezone.now() - STALE_SENDING,
        ).update(status=DeliveryStatus.RETRYING, next_retry_at=timezone.now())
    merchants: dict[int, Merchant] = {}
    for merchant_id, delivery_id in deliveries_due():
        if merchant_id not in merchants:
            merchants[merchant_id] = Merchant.objects.get(pk=merchant_id)
        merchant = merchants[merchant_id]
        with scope(merchant=merchant):
            if delivery_send(merchant=merchant, delivery_id=delivery_id) is not None:
                sent += 1
    return sent
