"""The POS API: upsert customers, record orders and refund or cancel them, under
/api/v1/pos.

Every POST accepts `Idempotency-Key` (replayed by the API layer); orders are also
unique by their `order_id`, so a till that sends the same sale twice earns once, and
refunds by their `refund_id`, so the same refund takes points back once.
"""

import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from patron.api.core import tenant
from patron.api.schemas import ERRORS
from patron.contacts.models import Contact
from patron.integrations import customers, orders, selectors
from patron.integrations.models import Order, OrderSource

router = Router(tags=["point of sale"])


class PosCustomerIn(Schema):
    phone: str = Field(..., min_length=1, max_length=40, description="Any format")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str | None = Field(None, max_length=254)
    birthday: datetime.date | None = None
    external_id: str = Field("", max_length=100, description="The POS's own customer id")


class MemberBrief(Schema):
    id: str
    status: str
    tier: str | None
    points: dict[str, int]


class PosCustomerOut(Schema):
    contact_id: str
    created: bool
    phone: str | None
    first_name: str
    last_name: str
    member: MemberBrief | None


class PosOrderIn(Schema):
    order_id: str = Field(..., min_length=1, max_length=100)
    phone: str = Field(..., min_length=1, max_length=40, description="The customer's phone")
    total: Decimal = Field(
        ..., ge=0, max_digits=14, decimal_places=2, description="Amount paid that earns points"
    )
    currency: str = Field("", max_length=3)
    name: str = Field("", max_length=100, description="Receipt number shown to staff")
    discount_codes: list[str] = Field(default_factory=list, max_length=20)
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)


class PosOrderOut(Schema):
    id: str
    order_id: str
    contact_id: str | None
    total: Decimal
    points_earned: int
    recorded: bool = Field(description="False when this order was already recorded")
    note: str
    member: MemberBrief | None


def _member(contact: Contact | None) -> MemberBrief | None:
    from patron.loyalty import selectors as loyalty

    if contact is None:
        return None
    member = loyalty.member_for_contact(contact.merchant, contact)
    if member is None:
        return None
    return MemberBrief(
        id=str(member.pk),
        status=member.status,
        tier=member.tier.name if member.tier else None,
        points={
            "available": member.points_available,
            "pending": member.points_pending,
            "lifetime": member.points_lifetime,
        },
    )


@router.post(
    "/pos/customers",
    response={200: PosCustomerOut, 201: PosCustomerOut, **ERRORS},
    summary="Create or update a POS customer (by phone or POS id)",
)
def pos_customer_upsert(request: HttpRequest, payload: PosCustomerIn) -> tuple[int, PosCustomerOut]:
    merchant, actor = tenant(request)
    contact, created = customers.customer_upsert(
        merchant=merchant,
        actor=actor,
        source=OrderSource.POS,
        external_id=payload.external_id,
        phone=payload.phone,
        first_name=payload.first_name,
        last_name=payload.last_name,
        email=payload.email,
        birthday=payload.birthday,
    )
    out = PosCustomerOut(
        contact_id=str(contact.pk),
        created=created,
        phone=str(contact.phone) if contact.phone else None,
        first_name=contact.first_name,
        last_name=contact.last_name,
        member=_member(contact),
    )
    return (201 if created else 200), out


def _order_out(order: Order, recorded: bool) -> PosOrderOut:
    return PosOrderOut(
        id=str(order.pk),
        order_id=order.external_id,
        contact_id=str(order.contact_id) if order.contact_id else None,
        total=order.eligible_total,
        points_earned=order.points_earned,
        recorded=recorded,
        note=order.note,
        member=_member(order.contact),
    )


@router.post(
    "/pos/orders",
    response={200: PosOrderOut, 201: PosOrderOut, **ERRORS},
    summary="Record a POS order: points by the program's earning rule",
)
def pos_order_record(request: HttpRequest, payload: PosOrderIn) -> tuple[int, PosOrderOut]:
    merchant, actor = tenant(request)
    contact, _created = customers.customer_upsert(
        merchant=merchant,
        actor=actor,
        source=OrderSource.POS,
        phone=payload.phone,
        first_name=payload.first_name,
        last_name=payload.last_name,
    )
    order, recorded = orders.order_record(
        merchant=merchant,
        actor=actor,
        source=OrderSource.POS,
        external_id=payload.order_id,
        contact=contact,
        eligible_total=payload.total,
        name=payload.name,
        currency=payload.currency,
        discount_codes=payload.discount_codes,
    )
    return (201 if recorded else 200), _order_out(order, recorded)


class PosRefundIn(Schema):
    refund_id: str = Field(
        ..., min_length=1, max_length=100, description="The POS's id of this refund"
    )
    amount: Decimal | None = Field(
        None,
        ge=0,
        max_digits=14,
        decimal_places=2,
        description="Refunded part of the amount that earned points; leave out to cancel "
        "the whole order",
    )


class PosRefundOut(Schema):
    id: str
    order_id: str
    status: str = Field(description="paid, partially_refunded or refunded")
    total: Decimal
    refunded_total: Decimal
    points_earned: int
    points_reversed: int = Field(description="Points taken back by all refunds so far")
    note: str = Field(description="E.g. points that had already been spent")
    member: MemberBrief | None


@router.post(
    "/pos/orders/{order_id}/refund",
    response={200: PosRefundOut, **ERRORS},
    summary="Refund or cancel a POS order: its points are taken back in proportion",
)
def pos_order_refund(request: HttpRequest, order_id: str, payload: PosRefundIn) -> PosRefundOut:
    """`order_id` is the POS's own id, as sent to `POST /pos/orders`. Without `amount`
    the order is cancelled: all its points go back, and reward coupons used on it are
    undone per the program's policy. The same `refund_id` twice changes nothing."""
    merchant, actor = tenant(request)
    order = selectors.order_get(merchant, OrderSource.POS, order_id)
    if order is None:
        raise orders.OrderNotFound(field="order_id")
    order = orders.order_refund(
        merchant=merchant,
        actor=actor,
        order=order,
        refund_id=payload.refund_id,
        amount=payload.amount,
    )
    return PosRefundOut(
        id=str(order.pk),
        order_id=order.external_id,
        status=order.status,
        total=order.eligible_total,
        refunded_total=order.refunded_total,
        points_earned=order.points_earned,
        points_reversed=order.points_reversed,
        note=order.note,
        member=_member(order.contact),
    )
