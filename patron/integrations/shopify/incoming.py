"""Incoming Shopify webhooks: verified, de-duplicated, then turned into Patron writes.

Shopify signs the raw body: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of it
with the app's webhook secret. A forged or missing signature gets 401 and no write.
Shopify delivers at least once, so `X-Shopify-Webhook-Id` is recorded in the same
transaction as the writes: a redelivery finds it and does nothing.
"""

import base64
import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from patron.integrations import customers, orders
from patron.integrations.models import Order, OrderSource, ShopifyStore, ShopifyWebhookReceipt
from patron.lib.actors import Actor
from patron.lib.errors import PatronError
from patron.tenants.models import Merchant

TOPICS = {"orders/paid", "refunds/create", "customers/create", "customers/update"}
ACTOR = Actor.system("Shopify")


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return bool(header) and hmac.compare_digest(expected, header.strip().encode())


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal(0)


def _shop_money(value: Any) -> Decimal:
    """An amount that Shopify gives either plain or as a MoneyBag ({"shop_money": ...})."""
    if isinstance(value, dict):
        return _money((value.get("shop_money") or {}).get("amount"))
    return _money(value)


def eligible_amount(store: ShopifyStore, order: dict[str, Any]) -> Decimal:
    """What the customer paid for goods: the order's current total, without shipping and
    tax when the store says so (and never below zero)."""
    total = _money(order.get("current_total_price") or order.get("total_price"))
    if store.exclude_shipping:
        shipping = order.get("total_shipping_price_set")
        total -= _shop_money(shipping) if shipping else _money(0)
    if store.exclude_tax:
        total -= _money(order.get("current_total_tax") or order.get("total_tax"))
    return max(total, Decimal(0))


def _customer_fields(
    customer: dict[str, Any], order: dict[str, Any] | None = None
) -> dict[str, Any]:
    billing = (order or {}).get("billing_address") or {}
    phone = (
        customer.get("phone")
        or (order or {}).get("phone")
        or (customer.get("default_address") or {}).get("phone")
        or billing.get("phone")
    )
    return {
        "external_id": str(customer.get("id") or ""),
        "phone": phone or None,
        "first_name": customer.get("first_name") or billing.get("first_name") or "",
        "last_name": customer.get("last_name") or billing.get("last_name") or "",
        "email": customer.get("email") or (order or {}).get("email") or None,
    }


def _on_customer(store: ShopifyStore, payload: dict[str, Any]) -> str:
    fields = _customer_fields(payload)
    contact, created = customers.customer_upsert(
        merchant=store.merchant, actor=ACTOR, source=OrderSource.SHOPIFY, **fields
    )
    return f"contact {contact.pk} {'created' if created else 'updated'}"


def _on_order_paid(store: ShopifyStore, payload: dict[str, Any]) -> str:
    customer = payload.get("customer") or {}
    fields = _customer_fields(customer, payload)
    contact = None
    if fields["phone"] or fields["external_id"]:
        contact, _created = customers.customer_upsert(
            merchant=store.merchant, actor=ACTOR, source=OrderSource.SHOPIFY, **fields
        )
    codes = [str(d.get("code", "")) for d in payload.get("discount_codes") or [] if d.get("code")]
    order, recorded = orders.order_record(
        merchant=store.merchant,
        actor=ACTOR,
        source=OrderSource.SHOPIFY,
        external_id=str(payload.get("id") or ""),
        contact=contact,
        eligible_total=eligible_amount(store, payload),
        name=str(payload.get("name") or ""),
        currency=str(payload.get("currency") or ""),
        discount_codes=codes,
    )
    if not recorded:
        return f"order {order.pk} already recorded"
    return f"order {order.pk}: {order.points_earned} points"


def refund_amount(store: ShopifyStore, refund: dict[str, Any]) -> Decimal:
    """The refunded share of the eligible amount: the refunded lines (with their tax
    unless tax is excluded); a refund without lines counts its successful transactions
    minus any refunded shipping."""
    lines = refund.get("refund_line_items") or []
    if lines:
        amount = sum((_money(line.get("subtotal")) for line in lines), Decimal(0))
        if not store.exclude_tax:
            amount += sum((_money(line.get("total_tax")) for line in lines), Decimal(0))
        return amount
    paid_back = sum(
        (
            _money(t.get("amount"))
            for t in refund.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status", "success") == "success"
        ),
        Decimal(0),
    )
    shipping = sum(
        (
            -_money(a.get("amount"))
            for a in refund.get("order_adjustments") or []
            if a.get("kind") == "shipping_refund"
        ),
        Decimal(0),
    )
    return max(Decimal(0), paid_back - (shipping if store.exclude_shipping else Decimal(0)))


def _on_refund(store: ShopifyStore, payload: dict[str, Any]) -> str:
    order = Order.objects.filter(
        merchant=store.merchant,
        source=OrderSource.SHOPIFY,
        external_id=str(payload.get("order_id") or ""),
    ).first()
    if order is None:
        return "refund of an order Patron never recorded: ignored"
    order = orders.order_refund(
        merchant=store.merchant,
        actor=ACTOR,
        order=order,
        refund_id=str(payload.get("id") or ""),
        amount=refund_amount(store, payload),
    )
    return f"order {order.pk}: {order.points_reversed} points reversed in all"


HANDLERS = {
    "orders/paid": _on_order_paid,
    "refunds/create": _on_refund,
    "customers/create": _on_customer,
    "customers/update": _on_customer,
}


@transaction.atomic
def webhook_receive(
    *, merchant: Merchant, store: ShopifyStore, topic: str, webhook_id: str, body: bytes
) -> ShopifyWebhookReceipt:
    """Process a verified webhook once. Errors other than domain refusals propagate, roll
    the receipt back with everything else, and Shopify delivers again later."""
    receipt = ShopifyWebhookReceipt(merchant=merchant, webhook_id=webhook_id[:100], topic=topic)
    try:
        with transaction.atomic():
            receipt.save()
    except IntegrityError:
        return ShopifyWebhookReceipt.objects.get(merchant=merchant, webhook_id=receipt.webhook_id)
    handler = HANDLERS.get(topic)
    if handler is None:
        receipt.status, receipt.message = "ignored", f"topic {topic} is not handled"
    else:
        try:
            payload = json.loads(body)
            with transaction.atomic():
                receipt.message = handler(store, payload)[:500]
        except (ValueError, PatronError) as error:
            # The payload itself is wrong for us (no usable phone, bad JSON): a retry
            # would fail the same way, so it is recorded and acknowledged.
            receipt.status = "ignored"
            receipt.message = str(getattr(error, "message", error))[:500]
    receipt.save()
    return receipt
