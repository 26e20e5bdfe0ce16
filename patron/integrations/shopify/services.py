"""The Shopify connection and the outgoing coupon sync.

Coupon events (issued, deleted; "Delete and generate new" is both) reach
`coupon_syncs_create` through the integrations fan-out of committed domain events. Each
becomes a `CouponSync` row, sent by a task and retried with backoff, or after the
store's Retry-After, until it succeeds: an outage delays the sync and never loses it.
"""

import logging
import re
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.contacts.models import ActivityEvent
from patron.integrations.models import CouponSync, ShopifyStore, SyncAction, SyncStatus
from patron.integrations.shopify import client
from patron.lib.actors import Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.sql import first_row
from patron.tenants.models import Merchant

logger = logging.getLogger(__name__)

ACTOR = Actor.system("Shopify sync")
RETRY_DELAYS = [10, 60, 300, 900, 1800, 3600]  # then hourly, for as long as it takes
GIVE_UP_AFTER = 200  # attempts; a refusal (bad token, bad input) gives up at once
STALE_SENDING = timedelta(minutes=5)
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9](:\d{1,5})?$")


class StoreNotConnected(NotFound):
    code = "shopify_not_connected"
    title = "No Shopify store is connected"


class InvalidShopDomain(InvalidInput):
    code = "invalid_shop_domain"
    title = "Type the store's domain, e.g. your-store.myshopify.com"


def store_for(merchant: Merchant) -> ShopifyStore | None:
    # Fixed SQL (patron.lib.sql): asked after every coupon event is committed.
    return first_row(ShopifyStore, {"merchant": merchant})


class BulkCouponsNotSynced(Conflict):
    code = "bulk_coupons_not_synced"
    title = "Coupons issued in bulk are not synced to the store"


def refuse_bulk_issue_while_syncing(merchant: Merchant) -> None:
    """Every coupon of a merchant that syncs coupons must reach the store; a bulk issue
    writes no per-coupon events for the sync to follow, so it waits until sync is off."""
    store = store_for(merchant)
    if store is not None and store.sync_coupons:
        raise BulkCouponsNotSynced(
            "This merchant syncs coupons to its Shopify store, and coupons issued in bulk "
            "would not reach it. Issue them one by one, or turn off coupon sync first."
        )


def _clean_domain(domain: str) -> str:
    domain = (domain or "").strip().lower()
    domain = re.sub(r"^https?://", "", domain).split("/")[0]
    if not _DOMAIN.match(domain):
        raise InvalidShopDomain(field="shop_domain")
    return domain


@transaction.atomic
def store_connect(
    *,
    merchant: Merchant,
    actor: Actor,
    shop_domain: str,
    access_token: str = "",
    webhook_secret: str = "",
    exclude_shipping: bool = True,
    exclude_tax: bool = True,
    sync_coupons: bool = True,
) -> ShopifyStore:
    """Connect the store, or change its settings; an empty token or secret keeps the old."""
    store = ShopifyStore.objects.select_for_update().filter(merchant=merchant).first()
    if store is None:
        if not access_token.strip() or not webhook_secret.strip():
            raise InvalidInput(
                "Paste the Admin API access token and the webhook secret.", field="access_token"
            )
        store = ShopifyStore(merchant=merchant)
    store.shop_domain = _clean_domain(shop_domain)
    if access_token.strip():
        store.access_token = access_token.strip()
    if webhook_secret.strip():
        store.webhook_secret = webhook_secret.strip()
    store.exclude_shipping = exclude_shipping
    store.exclude_tax = exclude_tax
    store.sync_coupons = sync_coupons
    store.set_actor(actor)
    store.save()
    return store


@transaction.atomic
def store_disconnect(*, merchant: Merchant, actor: Actor) -> None:
    ShopifyStore.objects.filter(merchant=merchant).delete()


def _call(store: ShopifyStore, query: str, variables: Any = None) -> dict[str, Any]:
    return client.graphql(
        shop_domain=store.shop_domain,
        access_token=store.access_token,
        api_version=store.api_version,
        query=query,
        variables=variables,
    )


def store_health_check(*, merchant: Merchant, actor: Actor) -> ShopifyStore:
    """Ask the store who it is; record whether the token works."""
    store = store_for(merchant)
    if store is None:
        raise StoreNotConnected()
    try:
        data = _call(store, client.SHOP_QUERY)
        shop = data.get("shop") or {}
        ok, message = True, f"Connected to {shop.get('name') or store.shop_domain}"
    except client.ShopifyError as error:
        ok, message = False, str(error)
    ShopifyStore.objects.filter(pk=store.pk).update(
        health_ok=ok, health_message=message[:500], health_checked_at=timezone.now()
    )
    store.refresh_from_db()
    return store


# --- coupon sync -----------------------------------------------------------------------

SYNCED_EVENTS = {"coupon_issued": SyncAction.CREATE, "coupon_deleted": SyncAction.DELETE}


def _enqueue(sync: CouponSync) -> None:
    from patron.integrations.tasks import coupon_sync_run

    transaction.on_commit(lambda: coupon_sync_run.enqueue(sync.merchant_id, sync.pk))


@transaction.atomic
def coupon_syncs_create(*, merchant: Merchant, event: ActivityEvent) -> CouponSync | None:
    """The sync a committed coupon event asks for, if the merchant syncs to a store."""
    from patron.coupons.models import Coupon

    action = SYNCED_EVENTS.get(event.type)
    if action is None:
        return None
    coupon_id = (event.data or {}).get("coupon_id")
    store = store_for(merchant)
    if store is None or not store.sync_coupons or not coupon_id:
        return None
    coupon = Coupon.objects.filter(merchant=merchant, pk=coupon_id).first()
    if coupon is None:
        return None
    sync = CouponSync(merchant=merchant, coupon=coupon, action=action)
    try:
        with transaction.atomic():
            sync.save()
    except IntegrityError:
        return None  # the same event seen twice
    _record_state(sync)
    _enqueue(sync)
    return sync


def _coupon_brief(coupon: Any) -> dict[str, Any]:
    return {
        "coupon_id": str(coupon.pk),
        "code": coupon.code,
        "label": coupon.label,
        "status": coupon.status,
    }


def sync_state(sync: CouponSync) -> dict[str, Any]:
    """Where a sync stands, as the coupon's Event Data and the Shopify page show it."""
    return {
        "platform": "shopify",
        "action": sync.action,
        "state": sync.status,
        "attempts": sync.attempts,
        "last_error": sync.last_error or None,
        "last_attempt_at": sync.last_attempt_at.isoformat() if sync.last_attempt_at else None,
        "next_retry_at": (
            sync.next_attempt_at.isoformat()
            if sync.status in {SyncStatus.PENDING, SyncStatus.RETRYING}
            else None
        ),
        "external_id": sync.shopify_id,
    }


def _record_state(sync: CouponSync) -> None:
    """Keep the coupon's `synced` history entry for this sync up to date.

    One entry per sync (create or delete), found by its key and rewritten after every
    attempt, so the Event Data of a coupon whose store is down says so (state,
    attempts, last error, next retry) without adding an entry per retry: an outage
    of a day would otherwise bury the coupon's history under a hundred failures.
    """
    from patron.coupons.models import CouponEvent, CouponEventType

    key = f"shopify-sync:{sync.pk}"
    data = {
        **_coupon_brief(sync.coupon),
        **sync_state(sync),
        "updated_at": timezone.now().isoformat(),
    }
    updated = CouponEvent.objects.filter(
        merchant=sync.merchant, coupon=sync.coupon, idempotency_key=key
    ).update(data=data)
    if not updated:
        event = CouponEvent(
            merchant=sync.merchant,
            coupon=sync.coupon,
            type=CouponEventType.SYNCED,
            data=data,
            idempotency_key=key,
        )
        event.set_actor(ACTOR)
        event.save()


def discount_input(coupon: Any) -> tuple[str, str, str, dict[str, Any]]:
    """(mutation, its name, its variable, the input) that create the coupon's code."""
    base: dict[str, Any] = {
        "title": f"{coupon.label} ({coupon.code})",
        "code": coupon.code,
        "startsAt": (coupon.starts_at or coupon.created_at).isoformat(),
        "endsAt": coupon.expires_at.isoformat() if coupon.expires_at else None,
        "usageLimit": coupon.usage_limit,
        "appliesOncePerCustomer": coupon.usage_limit == 1,
        "customerSelection": {"all": True},
    }
    if coupon.minimum_order:
        base["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": str(coupon.minimum_order)}
        }
    if coupon.type == "free_shipping":
        base["destination"] = {"all": True}
        return (
            client.FREE_SHIPPING_CREATE,
            "discountCodeFreeShippingCreate",
            "freeShippingCodeDiscount",
            base,
        )
    applies = coupon.applies_to or {}
    ids = list(applies.get("ids") or [])
    if applies.get("kind") == "products":
        items: dict[str, Any] = {"products": {"productsToAdd": [_gid("Product", i) for i in ids]}}
    elif applies.get("kind") == "collections":
        items = {"collections": {"add": [_gid("Collection", i) for i in ids]}}
    else:
        items = {"all": True}
    if coupon.type == "percentage":
        value: dict[str, Any] = {"percentage": float(coupon.value) / 100}
    else:
        value = {"discountAmount": {"amount": str(coupon.value), "appliesOnEachItem": False}}
    base["customerGets"] = {"value": value, "items": items}
    return client.BASIC_CREATE, "discountCodeBasicCreate", "basicCodeDiscount", base


def _gid(kind: str, value: str) -> str:
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _user_errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = result.get("userErrors") or []
    return errors


def _create(store: ShopifyStore, sync: CouponSync) -> str:
    mutation, name, variable, payload = discount_input(sync.coupon)
    result = _call(store, mutation, {variable: payload}).get(name) or {}
    errors = _user_errors(result)
    if errors:
        if any(
            "unique" in str(e.get("message", "")).lower() or e.get("code") == "TAKEN"
            for e in errors
        ):
            # An earlier attempt created it but its answer was lost: find it by code.
            found = _call(store, client.BY_CODE, {"code": sync.coupon.code})
            node = found.get("codeDiscountNodeByCode") or {}
            if node.get("id"):
                return str(node["id"])
        raise client.ShopifyRefused("; ".join(str(e.get("message")) for e in errors))
    node = result.get("codeDiscountNode") or {}
    if not node.get("id"):
        raise client.ShopifyRetry("The store did not say which discount it created.")
    return str(node["id"])


def _delete(store: ShopifyStore, sync: CouponSync) -> str:
    created = CouponSync.objects.filter(
        merchant=sync.merchant, coupon=sync.coupon, action=SyncAction.CREATE
    ).first()
    if created is None:
        return ""  # never synced: nothing to delete in the store
    if created.status != SyncStatus.SUCCEEDED:
        # Not in the store yet: stop the create instead. A create in flight right now
        # finishes first (its row is claimed); then this delete runs on the next try.
        stopped = CouponSync.objects.filter(
            pk=created.pk, status__in=[SyncStatus.PENDING, SyncStatus.RETRYING, SyncStatus.FAILED]
        ).update(status=SyncStatus.CANCELLED, last_error="Deleted before it reached the store")
        if stopped:
            created.refresh_from_db()
            _record_state(created)
            return ""
        raise client.ShopifyRetry("The create of this code is still being sent.", retry_after=5)
    result = _call(store, client.DELETE, {"id": created.shopify_id}).get("discountCodeDelete") or {}
    errors = _user_errors(result)
    if errors and not any("not exist" in str(e.get("message", "")).lower() for e in errors):
        raise client.ShopifyRefused("; ".join(str(e.get("message")) for e in errors))
    return created.shopify_id


def coupon_sync_send(*, merchant: Merchant, sync_id: int) -> CouponSync | None:
    """One attempt at a due sync; None when another worker has it or it is not due."""
    from patron.contacts.events import record

    now = timezone.now()
    claimed = (
        CouponSync.objects.filter(merchant=merchant, pk=sync_id)
        .filter(
            Q(status=SyncStatus.PENDING) | Q(status=SyncStatus.RETRYING, next_attempt_at__lte=now)
        )
        .update(status=SyncStatus.SENDING, last_attempt_at=now)
    )
    if not claimed:
        return None
    sync = CouponSync.objects.select_related("coupon").get(pk=sync_id)
    sync.attempts += 1
    store = store_for(merchant)
    try:
        if store is None:
            raise client.ShopifyRefused("The store was disconnected.")
        shopify_id = (
            _create(store, sync) if sync.action == SyncAction.CREATE else _delete(store, sync)
        )
    except client.ShopifyRetry as error:
        delay = error.retry_after
        if delay is None:
            delay = RETRY_DELAYS[min(sync.attempts, len(RETRY_DELAYS)) - 1]
        sync.status = SyncStatus.RETRYING if sync.attempts < GIVE_UP_AFTER else SyncStatus.FAILED
        sync.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        sync.last_error = str(error)[:500]
    except client.ShopifyRefused as error:
        sync.status = SyncStatus.FAILED
        sync.last_error = str(error)[:500]
    else:
        sync.status = SyncStatus.SUCCEEDED
        sync.shopify_id = shopify_id or sync.shopify_id
        sync.last_error = ""
    with transaction.atomic():
        sync.save()
        # The coupon's own history (its Event Data) says where the sync stands.
        _record_state(sync)
        if sync.status == SyncStatus.RETRYING:
            from patron.integrations.tasks import coupon_sync_run

            task = coupon_sync_run.using(run_after=sync.next_attempt_at)
            transaction.on_commit(lambda: task.enqueue(merchant.pk, sync.pk))
        elif (
            sync.status == SyncStatus.SUCCEEDED
            and sync.action == SyncAction.CREATE
            and sync.shopify_id
        ):
            # The contact's timeline says where the code lives.
            record(
                merchant=merchant,
                type="coupon_synced",
                actor=ACTOR,
                contact=sync.coupon.contact,
                data={**_coupon_brief(sync.coupon), **sync_state(sync)},
            )
    if sync.status != SyncStatus.SUCCEEDED:
        logger.info("shopify %s of coupon %s: %s", sync.action, sync.coupon_id, sync.last_error)
    return sync


def coupon_syncs_send_due() -> int:
    """Periodic safety net: send every due sync whose deferred job was lost."""
    now = timezone.now()
    with scopes_disabled():
        CouponSync.objects.filter(
            status=SyncStatus.SENDING, last_attempt_at__lte=now - STALE_SENDING
        ).update(status=SyncStatus.RETRYING, next_attempt_at=now)
        due = list(
            CouponSync.objects.filter(
                Q(status=SyncStatus.RETRYING, next_attempt_at__lte=now)
                | Q(status=SyncStatus.PENDING, created_at__lte=now - timedelta(seconds=30))
            )
            .order_by("pk")
            .values_list("merchant_id", "pk")[:500]
        )
    sent = 0
    merchants: dict[int, Merchant] = {}
    for merchant_id, sync_id in due:
        if merchant_id not in merchants:
            merchants[merchant_id] = Merchant.objects.get(pk=merchant_id)
        merchant = merchants[merchant_id]
        with scope(merchant=merchant):
            if coupon_sync_send(merchant=merchant, sync_id=sync_id) is not None:
                sent += 1
    return sent
