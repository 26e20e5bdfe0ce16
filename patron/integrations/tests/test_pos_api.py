from decimal import Decimal

import pytest
from django_scopes import scope

from patron.contacts.models import Contact
from patron.integrations.models import Order
from patron.loyalty import selectors as loyalty_selectors
from patron.loyalty import services as loyalty
from patron.loyalty.models import LedgerEntry, Member

pytestmark = pytest.mark.django_db


def member_of(trio, phone):
    with scope(merchant=trio.merchant):
        return Member.objects.get(merchant=trio.merchant, phone=phone, deleted_at__isnull=True)


def activate(trio, phone):
    with scope(merchant=trio.merchant):
        member = member_of(trio, phone)
        return loyalty.member_activate(merchant=trio.merchant, member=member, actor=trio.actor)


def test_a_pos_customer_with_a_phone_becomes_a_not_activated_member(trio):
    answer = trio.api.post("/pos/customers", {"phone": "0980 000 001", "first_name": "Mark"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["created"] is True
    assert body["phone"] == "+84980000001"
    assert body["member"]["status"] == "not_activated"
    with scope(merchant=trio.merchant):
        assert Contact.objects.get().source == "pos"


def test_upserting_the_same_phone_updates_the_contact(trio):
    trio.api.post("/pos/customers", {"phone": "0980000001", "first_name": "Mark"})
    answer = trio.api.post("/pos/customers", {"phone": "+84980000001", "last_name": "Nguyen"})
    assert answer.status_code == 200
    assert answer.json()["created"] is False
    with scope(merchant=trio.merchant):
        contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("Mark", "Nguyen")


def test_a_phone_is_required(trio):
    answer = trio.api.post("/pos/customers", {"first_name": "Mark"})
    assert answer.status_code == 422


def test_a_changed_phone_does_not_carry_the_membership(trio):
    trio.api.post("/pos/customers", {"phone": "0980000001", "external_id": "pos-7"})
    activate(trio, "+84980000001")
    answer = trio.api.post("/pos/customers", {"phone": "0980000002", "external_id": "pos-7"})
    assert answer.status_code == 200
    assert answer.json()["member"]["status"] == "not_activated"
    assert member_of(trio, "+84980000001").status == "active"
    assert member_of(trio, "+84980000002").status == "not_activated"


def test_an_order_earns_points_by_the_programs_rule_once(trio):
    trio.api.post("/pos/customers", {"phone": "0980000001"})
    activate(trio, "+84980000001")
    with scope(merchant=trio.merchant):
        loyalty.program_install_defaults(merchant=trio.merchant)
        loyalty.program_update(
            merchant=trio.merchant, actor=trio.actor, earn_per_currency_unit=Decimal("0.001")
        )
    order = {"order_id": "R-1", "phone": "0980000001", "total": "125500"}

    first = trio.api.post("/pos/orders", order)
    again = trio.api.post("/pos/orders", order)

    assert first.status_code == 201, first.content
    assert first.json()["points_earned"] == 125
    assert again.status_code == 200
    assert again.json()["recorded"] is False
    assert member_of(trio, "+84980000001").points_lifetime == 125
    with scope(merchant=trio.merchant):
        assert LedgerEntry.objects.filter(source="order").count() == 1


def test_an_idempotency_key_replays_the_first_answer(trio):
    trio.api.post("/pos/customers", {"phone": "0980000001"})
    activate(trio, "+84980000001")
    order = {"order_id": "R-9", "phone": "0980000001", "total": "10"}
    first = trio.api.post("/pos/orders", order, headers={"Idempotency-Key": "till-1-r9"})
    second = trio.api.post("/pos/orders", order, headers={"Idempotency-Key": "till-1-r9"})
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_a_not_activated_member_earns_nothing_and_the_answer_says_why(trio):
    answer = trio.api.post("/pos/orders", {"order_id": "R-2", "phone": "0980000003", "total": "50"})
    assert answer.status_code == 201
    assert answer.json()["points_earned"] == 0
    assert "not activated" in answer.json()["note"]
    with scope(merchant=trio.merchant):
        member = loyalty_selectors.member_for_phone(trio.merchant, "+84980000003")
    assert member.points_lifetime == 0


def test_outsiders_do_not_reach_another_merchants_customers_or_orders(trio):
    trio.api.post("/pos/customers", {"phone": "0980000001", "first_name": "Mark"})
    trio.api.post("/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "10"})

    answer = trio.outsider_api.post("/pos/customers", {"phone": "0980000001", "first_name": "Eve"})
    assert answer.json()["created"] is True
    again = trio.outsider_api.post(
        "/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "10"}
    )
    assert again.json()["recorded"] is True
    with scope(merchant=trio.merchant):
        assert Contact.objects.get(merchant=trio.merchant).first_name == "Mark"
        assert Order.objects.filter(merchant=trio.merchant).count() == 1
    assert trio.api.__class__(None).post("/pos/orders", {}).status_code == 401


def _earning_member(trio, phone="0980000001"):
    trio.api.post("/pos/customers", {"phone": phone})
    activate(trio, "+84" + phone[1:])
    with scope(merchant=trio.merchant):
        loyalty.program_install_defaults(merchant=trio.merchant)
        loyalty.program_update(
            merchant=trio.merchant, actor=trio.actor, earn_per_currency_unit=Decimal("0.001")
        )


def test_a_partial_refund_takes_back_points_in_proportion_once_per_refund_id(trio):
    _earning_member(trio)
    trio.api.post("/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "200000"})

    first = trio.api.post("/pos/orders/R-1/refund", {"refund_id": "RF-1", "amount": "50000"})
    again = trio.api.post("/pos/orders/R-1/refund", {"refund_id": "RF-1", "amount": "50000"})

    assert first.status_code == 200, first.content
    body = again.json()
    assert (body["status"], body["points_reversed"]) == ("partially_refunded", 50)
    assert body["refunded_total"] == "50000.00"
    assert body["member"]["points"]["available"] == 150
    with scope(merchant=trio.merchant):
        [row] = LedgerEntry.objects.filter(kind="reverse")
    assert (row.amount, row.reference) == (-50, "pos:R-1")


def test_cancelling_a_pos_order_takes_back_all_its_points_even_from_an_excluded_member(trio):
    _earning_member(trio)
    trio.api.post("/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "120000"})
    trio.api.post("/pos/orders/R-1/refund", {"refund_id": "RF-1", "amount": "20000"})
    with scope(merchant=trio.merchant):
        loyalty.member_exclude(
            merchant=trio.merchant,
            member=member_of(trio, "+84980000001"),
            actor=trio.actor,
            reason="Fraud check",
        )

    answer = trio.api.post("/pos/orders/R-1/refund", {"refund_id": "CANCEL"})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["status"], body["points_reversed"], body["refunded_total"]) == (
        "refunded",
        120,
        "120000.00",
    )
    member = member_of(trio, "+84980000001")
    assert (member.status, member.points_available, member.points_lifetime) == ("excluded", 0, 0)


def test_a_refund_of_an_unknown_or_another_merchants_order_is_not_found(trio):
    _earning_member(trio)
    trio.api.post("/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "1000"})
    missing = trio.api.post("/pos/orders/R-404/refund", {"refund_id": "RF-1"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "order_not_found"
    outsider = trio.outsider_api.post("/pos/orders/R-1/refund", {"refund_id": "RF-1"})
    assert outsider.status_code == 404
    assert member_of(trio, "+84980000001").points_available == 1


def test_a_refund_of_spent_points_says_so_and_never_goes_below_zero(trio):
    _earning_member(trio)
    trio.api.post("/pos/orders", {"order_id": "R-1", "phone": "0980000001", "total": "100000"})
    with scope(merchant=trio.merchant):
        loyalty.points_redeem_manual(
            merchant=trio.merchant,
            member=member_of(trio, "+84980000001"),
            amount=70,
            note="Gift",
            actor=trio.actor,
        )
    body = trio.api.post("/pos/orders/R-1/refund", {"refund_id": "RF-1"}).json()
    assert body["points_reversed"] == 30
    assert "70 points" in body["note"]
    with scope(merchant=trio.merchant):
        row = LedgerEntry.objects.get(kind="reverse")
    assert row.data["shortfall"] == 70
    assert member_of(trio, "+84980000001").points_available == 0
    # The transactions API gives the same details, for reconciliation outside Patron.
    items = trio.api.get(f"/members/{row.member_id}/transactions").json()["items"]
    reverse = next(item for item in items if item["kind"] == "reverse")
    assert reverse["data"]["shortfall"] == 70 and reverse["data"]["taken"] == 30
    assert all(item["data"] == {} for item in items if item["kind"] == "earn")
