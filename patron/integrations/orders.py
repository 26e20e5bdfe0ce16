"""Orders from a point of sale or a store: points on what was paid, back on refunds.

An order is recorded once per source and external id (a replayed webhook or a retried
POS call finds it and changes nothing). Its points go through loyalty's
`points_earn_for_order` with an idempotency key made from the same id, so even two
concurrent deliveries earn once. Refunds take back points in proportion to the amount
refunded; the last refund of the whole amount takes back exactly what is left.
"""

import math
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from patron.contacts.models import Contact
from patron.integrations import events
from patron.integrations.models import Order, OrderStatus
from patron.lib.actors import Actor
from patron.lib.errors import InvalidInput, PatronError
from patron.tenants.models import Merchant


def _earn(order: Order, actor: Actor) -> None:
    from patron.loyalty import selectors as loyalty_selectors
    from patron.loyalty import services as loyalty
    from patron.loyalty.models import MemberStatus

    if order.contact is None or order.eligible_total <= 0:
        return
    member = loyalty_selectors.member_for_contact(order.merchant, order.contact)
    if member is None:
        order.note = "No loyalty member for this customer: no points."
        return
    order.member_id = member.pk
    if member.status != MemberStatus.ACTIVE:
        # Seed 004: not activated and excluded members earn nothing.
        order.note = f"Member is {member.get_status_display().lower()}: no points."
        return
    entry = loyalty.points_earn_for_order(
        merchant=order.merchant,
        member=member,
        order_total=order.eligible_total,
        reference=f"{order.source}:{order.name or order.external_id}",
        actor=actor,
        idempotency_key=f"order:{order.source}:{order.external_id}",
    )
    if entry is not None:
        order.points_earned = entry.amount
        order.earn_entry_id = entry.pk


def _use_codes(order: Order, actor: Actor) -> list[str]:
    """Mark the order's discount codes used; codes Patron did not issue are ignored."""
    from patron.coupons import selectors as coupon_selectors
    from patron.coupons import services as coupons

    problems = []
    for code in order.discount_codes:
        coupon = coupon_selectors.coupon_by_code(order.merchant, code)
        if coupon is None:
            continue
        try:
            # Its own savepoint: a refusal (already used, expired) must not undo the order.
            with transaction.atomic():
                coupons.coupon_redeem(
                    merchant=order.merchant,
                    coupon=coupon,
                    actor=actor,
                    order_reference=f"{order.source}:{order.name or order.external_id}",
                    idempotency_key=f"order:{order.source}:{order.external_id}:code:{code}",
                )
        except PatronError as error:
            problems.append(f"{code}: {error.message}")
    return problems


@transaction.atomic
def order_record(
    *,
    merchant: Merchant,
    actor: Actor,
    source: str,
    external_id: str,
    contact: Contact | None,
    eligible_total: Decimal,
    name: str = "",
    currency: str = "",
    discount_codes: list[str] | None = None,
) -> tuple[Order, bool]:
    """The order, and whether this call recorded it (False: it was already known)."""
    external_id = (external_id or "").strip()[:100]
    if not external_id:
        raise InvalidInput("An order needs its id.", field="order_id")
    if eligible_total < 0:
        raise InvalidInput("An order total cannot be negative.", field="total")
    known = Order.objects.filter(merchant=merchant, source=source, external_id=external_id)
    existing = known.first()
    if existing is not None:
        return existing, False
    order = Order(
        merchant=merchant,
        source=source,
        external_id=external_id,
        name=(name or "")[:100],
        contact=contact,
        currency=(currency or merchant.currency)[:3],
        eligible_total=eligible_total.quantize(Decimal("0.01")),
        discount_codes=[c.strip().upper() for c in discount_codes or [] if c.strip()],
    )
    try:
        # The unique constraint decides between two deliveries of the same order.
        with transaction.atomic():
            order.save()
    except IntegrityError:
        return known.get(), False
    _earn(order, actor)
    problems = _use_codes(order, actor)
    if problems:
        order.note = " ".join([order.note, *problems]).strip()[:500]
    order.save()
    events.order_placed(order=order, actor=actor)
    return order, True


@transaction.atomic
def order_refund(
    *, merchant: Merchant, actor: Actor, order: Order, refund_id: str, amount: Decimal
) -> Order:
    """Take back the points of the refunded share of the order, once per refund id."""
    order = Order.objects.select_for_update().get(merchant=merchant, pk=order.pk)
    refund_id = str(refund_id)
    if refund_id in order.refund_ids:
        return order
    order.refund_ids = [*order.refund_ids, refund_id]
    order.refunded_total = min(order.eligible_total, order.refunded_total + max(amount, Decimal(0)))
    full = order.refunded_total >= order.eligible_total
    if full or not order.eligible_total:
        target = order.points_earned
    else:
        target = math.floor(order.points_earned * order.refunded_total / order.eligible_total)
    to_reverse = max(0, target - order.points_reversed)
    if to_reverse and order.member_id:
        taken = _reverse(order, to_reverse, refund_id, actor)
        if taken < to_reverse:
            order.note = f"{to_reverse - taken} points of this refund were already spent."
        to_reverse = taken
        order.points_reversed += taken
    order.status = OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED
    order.updated_at = timezone.now()
    order.save()
    events.order_refunded(order=order, actor=actor, amount=str(amount), points_reversed=to_reverse)
    return order


def _reverse(order: Order, amount: int, refund_id: str, actor: Actor) -> int:
    """Take back up to `amount` earned points; how many were taken.

    Loyalty has no dedicated reversal of earned points yet, so this is its
    "Adjust points and tier" with a negative amount and the refund as the reason; it
    re-evaluates the tier. Points the customer already spent stay spent: the balance
    never goes negative (PRODUCT.md), so only what is still available comes back.
    """
    from patron.loyalty import services as loyalty
    from patron.loyalty.models import Member, MemberStatus

    assert order.member_id is not None
    member = Member.objects.get(merchant=order.merchant, pk=order.member_id)
    take = min(amount, member.points_available)
    if take <= 0 or member.status != MemberStatus.ACTIVE:
        return 0
    loyalty.points_adjust(
        merchant=order.merchant,
        member=member,
        amount=-take,
        actor=actor,
        reason=f"Refund of order {order.name or order.external_id}",
        idempotency_key=f"refund:{order.source}:{order.external_id}:{refund_id}",
    )
    return take
