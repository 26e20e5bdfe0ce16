import base64
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from django.test import Client
from django_scopes import scope

from patron.contacts.models import Contact
from patron.integrations.models import Order, ShopifyStore, ShopifyWebhookReceipt
from patron.loyalty import services as loyalty
from patron.loyalty.models import LedgerEntry, Member

pytestmark = pytest.mark.django_db

SECRET = "shopify-webhook-secret"


@pytest.fixture
def store(trio):
    with scope(merchant=trio.merchant):
        loyalty.program_install_defaults(merchant=trio.merchant)
        # Customers from the store join active, so their orders earn at once.
        loyalty.program_update(
            merchant=trio.merchant,
            actor=trio.actor,
            activate_on_create=True,
            earn_per_currency_unit=Decimal("0.001"),
        )
        return ShopifyStore.objects.create(
            merchant=trio.merchant,
            shop_domain="alpha.myshopify.com",
            access_token="shpat_x",
            webhook_secret=SECRET,
        )


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(topic, payload, webhook_id, secret=SECRET, slug="alpha"):
    body = json.dumps(payload).encode()
    return Client().post(
        f"/integrations/shopify/webhooks/{slug}/",
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, secret),
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "alpha.myshopify.com",
        },
    )


def paid_order(order_id=820982911946154508, total="230000.00", shipping="30000.00", tax="0.00"):
    return {
        "id": order_id,
        "name": "#1001",
        "currency": "VND",
        "total_price": total,
        "current_total_price": total,
        "total_tax": tax,
        "total_shipping_price_set": {
            "shop_money": {"amount": shipping, "currency_code": "VND"},
            "presentment_money": {"amount": shipping, "currency_code": "VND"},
        },
        "discount_codes": [],
        "customer": {
            "id": 115310627314723954,
            "first_name": "Mark",
            "last_name": "Nguyen",
            "email": "mark@example.com",
            "phone": "+84980000001",
        },
    }


def member(trio):
    with scope(merchant=trio.merchant):
        return Member.objects.get(merchant=trio.merchant, phone="+84980000001")


def test_a_forged_hmac_gets_401_and_changes_nothing(trio, store):
    answer = deliver("orders/paid", paid_order(), "wh-1", secret="guessed-secret")
    assert answer.status_code == 401
    with scope(merchant=trio.merchant):
        assert not Contact.objects.exists()
        assert not Order.objects.exists()
        assert not ShopifyWebhookReceipt.objects.exists()


def test_a_missing_hmac_or_an_unknown_merchant_gets_401(trio, store):
    answer = Client().post(
        "/integrations/shopify/webhooks/alpha/",
        b"{}",
        content_type="application/json",
        headers={"X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "x"},
    )
    assert answer.status_code == 401
    assert deliver("orders/paid", paid_order(), "wh-1", slug="nobody").status_code == 401


def test_a_paid_order_earns_points_on_goods_only(trio, store):
    answer = deliver("orders/paid", paid_order(total="230000.00", shipping="30000.00"), "wh-1")
    assert answer.status_code == 200, answer.content
    # 230,000 paid, 30,000 of it shipping: 200 points at 1 point per 1,000.
    assert member(trio).points_lifetime == 200
    with scope(merchant=trio.merchant):
        contact = Contact.objects.get()
    assert contact.source == "shopify"
    assert contact.external_ids["shopify"] == "115310627314723954"


def test_a_replayed_webhook_gives_points_once(trio, store):
    first = deliver("orders/paid", paid_order(), "wh-1")
    replay = deliver("orders/paid", paid_order(), "wh-1")
    # Shopify also sends the same order again under a new webhook id at times.
    redelivered = deliver("orders/paid", paid_order(), "wh-2")
    assert first.status_code == replay.status_code == redelivered.status_code == 200
    assert member(trio).points_lifetime == 200
    with scope(merchant=trio.merchant):
        assert LedgerEntry.objects.filter(source="order").count() == 1
        assert Order.objects.count() == 1


def test_a_member_that_is_not_active_earns_nothing(trio, store):
    with scope(merchant=trio.merchant):
        loyalty.program_update(merchant=trio.merchant, actor=trio.actor, activate_on_create=False)
    deliver("orders/paid", paid_order(), "wh-1")
    assert member(trio).status == "not_activated"
    assert member(trio).points_lifetime == 0


def refund(refund_id, lines, order_id=820982911946154508):
    return {
        "id": refund_id,
        "order_id": order_id,
        "refund_line_items": [{"quantity": 1, "subtotal": s, "total_tax": "0.00"} for s in lines],
        "transactions": [],
        "order_adjustments": [],
    }


def test_a_full_refund_takes_back_the_points_the_order_earned(trio, store):
    deliver("orders/paid", paid_order(), "wh-1")
    assert member(trio).points_available + member(trio).points_pending == 200

    answer = deliver("refunds/create", refund(9001, ["200000.00"]), "wh-2")

    assert answer.status_code == 200, answer.content
    earned = member(trio)
    assert earned.points_available + earned.points_pending == 0
    with scope(merchant=trio.merchant):
        order = Order.objects.get()
        taken = LedgerEntry.objects.get(amount__lt=0)
    assert (order.status, order.points_reversed) == ("refunded", 200)
    assert taken.amount == -200
    assert taken.reason == "Refund of order #1001"


def test_partial_refunds_take_back_points_in_proportion(trio, store):
    deliver("orders/paid", paid_order(), "wh-1")
    deliver("refunds/create", refund(9001, ["50000.00"]), "wh-2")
    deliver("refunds/create", refund(9001, ["50000.00"]), "wh-3")  # same refund again
    m = member(trio)
    assert m.points_available + m.points_pending == 150
    deliver("refunds/create", refund(9002, ["150000.00"]), "wh-4")
    m = member(trio)
    assert m.points_available + m.points_pending == 0


def test_customers_are_synced_by_phone_and_a_new_phone_is_a_new_member(trio, store):
    customer = {"id": 77, "first_name": "Lan", "last_name": "Tran", "phone": "0980000002"}
    assert deliver("customers/create", customer, "wh-1").status_code == 200
    changed = {**customer, "phone": "+84980000003", "email": "lan@example.com"}
    assert deliver("customers/update", changed, "wh-2").status_code == 200
    with scope(merchant=trio.merchant):
        contact = Contact.objects.get()
        assert (str(contact.phone), contact.email) == ("+84980000003", "lan@example.com")
        phones = set(Member.objects.filter(merchant=trio.merchant).values_list("phone", flat=True))
    # Seed 004: the old number keeps its membership; the new number gets its own.
    assert phones == {"+84980000002", "+84980000003"}


def test_a_customer_without_any_detail_is_acknowledged_and_ignored(trio, store):
    answer = deliver("customers/create", {"id": 78}, "wh-1")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"


def test_a_webhook_signed_for_one_merchant_does_not_reach_another(trio, store):
    with scope(merchant=trio.other_merchant):
        ShopifyStore.objects.create(
            merchant=trio.other_merchant,
            shop_domain="beta.myshopify.com",
            access_token="t",
            webhook_secret="beta-secret",
        )
    # Signed with A's secret but sent to B's address.
    assert deliver("orders/paid", paid_order(), "wh-1", slug="beta").status_code == 401
    with scope(merchant=trio.other_merchant):
        assert not Order.objects.exists()


def test_a_patron_code_on_a_paid_order_is_marked_used(trio, store):
    from patron.contacts import services as contacts
    from patron.coupons import services as coupons

    with scope(merchant=trio.merchant):
        mark = contacts.contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark", phone="0980000001"
        )
        coupon = coupons.coupon_issue(
            merchant=trio.merchant,
            contact=mark,
            actor=trio.actor,
            label="Birthday Coupon",
            type="percentage",
            value=Decimal("10"),
        )
    order = paid_order()
    order["discount_codes"] = [
        {"code": coupon.code.lower(), "amount": "23000.00", "type": "percentage"},
        {"code": "SHOPIFY-ONLY", "amount": "1.00", "type": "fixed_amount"},
    ]
    assert deliver("orders/paid", order, "wh-1").status_code == 200
    assert deliver("orders/paid", order, "wh-1").status_code == 200
    with scope(merchant=trio.merchant):
        coupon.refresh_from_db()
    assert (coupon.status, coupon.usage_count) == ("used", 1)
    assert coupon.last_order_reference == "shopify:#1001"


def test_a_refund_takes_back_only_points_still_available(trio, store):
    deliver("orders/paid", paid_order(), "wh-1")
    with scope(merchant=trio.merchant):
        loyalty.points_redeem_manual(
            merchant=trio.merchant, member=member(trio), amount=150, actor=trio.actor, note="Gift"
        )
    deliver("refunds/create", refund(9001, ["200000.00"]), "wh-2")
    assert member(trio).points_available == 0
    with scope(merchant=trio.merchant):
        order = Order.objects.get()
    assert order.points_reversed == 50
    assert "150 points" in order.note


def test_a_refund_takes_back_points_from_a_member_who_is_no_longer_active(trio, store):
    deliver("orders/paid", paid_order(), "wh-1")
    with scope(merchant=trio.merchant):
        loyalty.member_exclude(
            merchant=trio.merchant, member=member(trio), actor=trio.actor, reason="Fraud check"
        )
    deliver("refunds/create", refund(9001, ["200000.00"]), "wh-2")
    excluded = member(trio)
    assert (excluded.status, excluded.points_available, excluded.points_lifetime) == (
        "excluded",
        0,
        0,
    )
    with scope(merchant=trio.merchant):
        row = LedgerEntry.objects.get(kind="reverse")
    assert (row.amount, row.reference, row.data["shortfall"]) == (-200, "shopify:#1001", 0)


def _reward_coupon_on_an_order(trio):
    """Mark earns 200 points, claims a 100-point reward, uses its code on order #1002."""
    from patron.rewards import services as rewards
    from patron.rewards.tests.factories import RewardFactory

    deliver("orders/paid", paid_order(), "wh-1")
    reward = RewardFactory(merchant=trio.merchant, points_cost=100)
    with scope(merchant=trio.merchant):
        coupon = rewards.reward_claim(
            merchant=trio.merchant, member=member(trio), reward=reward, actor=trio.actor
        ).coupon
    order = {**paid_order(order_id=5002, total="80000.00", shipping="0.00"), "name": "#1002"}
    order["discount_codes"] = [{"code": coupon.code, "amount": "50000.00", "type": "fixed_amount"}]
    deliver("orders/paid", order, "wh-3")
    assert member(trio).points_available == 100 + 80
    return coupon


def _coupon(trio, coupon):
    with scope(merchant=trio.merchant):
        coupon.refresh_from_db()
    return coupon


def test_a_cancelled_orders_reward_points_come_back_when_the_program_says_return(trio, store):
    coupon = _reward_coupon_on_an_order(trio)
    assert _coupon(trio, coupon).status == "used"

    deliver("refunds/create", refund(9101, ["80000.00"], order_id=5002), "wh-4")

    coupon = _coupon(trio, coupon)
    assert coupon.status == "deleted"
    assert coupon.points_refunded == 100
    # 180 before; the order's 80 points taken back, the reward's 100 points returned.
    assert member(trio).points_available == 200
    with scope(merchant=trio.merchant):
        returned = LedgerEntry.objects.get(kind="reverse", amount__gt=0)
        order = Order.objects.get(external_id="5002")
    assert returned.idempotency_key == f"coupon-refund:{coupon.pk}"
    assert order.status == "refunded"


def test_a_cancelled_orders_reward_points_stay_spent_when_the_program_says_keep(trio, store):
    # The owner picks the policy in Settings → Program.
    client = trio.login(trio.alice)
    form = client.get("/loyalty/settings/").content.decode()
    assert 'name="cancelled_order_reward_points"' in form
    answer = client.post(
        "/loyalty/settings/",
        {
            "form": "program",
            "points_name": "points",
            "activate_on_create": "on",
            "cancelled_order_reward_points": "keep",
        },
    )
    assert answer.status_code == 302
    with scope(merchant=trio.merchant):
        loyalty.program_update(
            merchant=trio.merchant, actor=trio.actor, earn_per_currency_unit=Decimal("0.001")
        )
    coupon = _reward_coupon_on_an_order(trio)

    deliver("refunds/create", refund(9101, ["80000.00"], order_id=5002), "wh-4")
    deliver("refunds/create", refund(9101, ["80000.00"], order_id=5002), "wh-5")  # again

    coupon = _coupon(trio, coupon)
    assert (coupon.status, coupon.usage_count, coupon.points_refunded) == ("available", 0, 0)
    assert member(trio).points_available == 100


def test_a_partial_refund_leaves_the_reward_coupon_used(trio, store):
    coupon = _reward_coupon_on_an_order(trio)
    deliver("refunds/create", refund(9101, ["40000.00"], order_id=5002), "wh-4")
    assert _coupon(trio, coupon).status == "used"
    assert member(trio).points_available == 140
