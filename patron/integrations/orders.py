"""Orders from a point of sale or a store: points on what was paid, back on refunds.

An order is recorded once per source and external id (a replayed webhook or a retried
POS call finds it and changes nothing). Its points go through loyalty's
`points_earn_for_order` with an idempotency key made from the same id, so even two
concurrent deliveries earn once. Refunds take back points in proportion to the amount
refunded, through loyalty's `points_reverse` (any member state, never below zero); the
last refund of the whole amount takes back exactly what is left, and a cancelled or
fully refunded order undoes its reward coupons per the program's policy.
"""

import math
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from patron.contacts.models import Contact
from patron.integrations import events
from patron.integrations.models import Order, OrderStatus
from patron.lib.actors import Actor
from patron.lib.errors import InvalidInput, NotFound, PatronError
from patron.tenants.models import Merchant


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "No such order"


def _reference(order: Order) -> str:
    # The order as ledger rows and coupon uses name it; a reversal finds the order's
    # own lots by it.
    return f"{order.source}:{order.name or order.external_id}"


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
        reference=_reference(order),
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
                    order_reference=_reference(order),
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
    *,
    merchant: Merchant,
    actor: Actor,
    order: Order,
    refund_id: str,
    amount: Decimal | None = None,
) -> Order:
    """Take back the points of the refunded share of the order, once per refund id.

    `amount` is the refunded part of the amount that earned points; None refunds all
    that is left (a cancelled order). The member gives the points back whatever its
    state; points already spent stay spent and the order's note says how many. Once
    the whole amount is refunded, the reward coupons used on the order are undone
    per the program's policy (`_undo_coupons`).
    """
    order = Order.objects.select_for_update().get(merchant=merchant, pk=order.pk)
    refund_id = str(refund_id or "").strip()[:100]
    if not refund_id:
        raise InvalidInput("A refund needs its id.", field="refund_id")
    if refund_id in order.refund_ids:
        return order
    was_full = order.status == OrderStatus.REFUNDED
    left = order.eligible_total - order.refunded_total
    refunded = left if amount is None else min(left, max(amount, Decimal(0)))
    order.refund_ids = [*order.refund_ids, refund_id]
    order.refunded_total += refunded
    full = amount is None or order.refunded_total >= order.eligible_total
    if full or not order.eligible_total:
        target = order.points_earned
    else:
        target = math.floor(order.points_earned * order.refunded_total / order.eligible_total)
    to_reverse = max(0, target - order.points_reversed)
    shortfall = 0
    if to_reverse and order.member_id:
        taken = _reverse(order, to_reverse, refund_id, refunded, actor)
        shortfall = to_reverse - taken
        if shortfall:
            order.note = (f"{shortfall} points of refund {refund_id} had already been spent.")[:500]
        order.points_reversed += taken
        to_reverse = taken
    coupons: list[dict[str, str]] = []
    if full and not was_full:
        coupons = _undo_coupons(order, actor)
    order.status = OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED
    order.updated_at = timezone.now()
    order.save()
    events.order_refunded(
        order=order,
        actor=actor,
        amount=str(refunded),
        points_reversed=to_reverse,
        points_shortfall=shortfall,
        refund_id=refund_id,
        coupons=coupons,
    )
    return order


def _reverse(order: Order, amount: int, refund_id: str, money: Decimal, actor: Actor) -> int:
    """Take back up to `amount` earned points through loyalty's reversal; how many."""
    from patron.loyalty import services as loyalty
    from patron.loyalty.models import Member

    assert order.member_id is not None
    member = Member.objects.filter(
        merchant=order.merchant, pk=order.member_id, deleted_at__isnull=True
    ).first()
    if member is None:
        return 0  # a deleted membership has nothing left to give back
    entry = loyalty.points_reverse(
        merchant=order.merchant,
        member=member,
        amount=amount,
        reference=_reference(order),
        reason=f"Refund of order {order.name or order.external_id}",
        actor=actor,
        idempotency_key=f"refund:{order.source}:{order.external_id}:{refund_id}",
        spend=money or None,
    )
    return -entry.amount if entry is not None else 0


def _undo_coupons(order: Order, actor: Actor) -> list[dict[str, str]]:
    """The order is cancelled or fully refunded: its Patron coupons' uses are rolled
    back (PRODUCT.md: status and usage count return). For a reward coupon that points
    paid for, the program's `cancelled_order_reward_points` decides the points:
    `return` deletes the coupon with a refund of its points (loyalty's
    `points_return`), `keep` leaves the points spent and the coupon usable again.
    Each coupon has its own savepoint: one that cannot be undone (deleted since) is
    reported and does not stop the refund."""
    from patron.coupons import selectors as coupon_selectors
    from patron.coupons import services as coupon_services
    from patron.loyalty import selectors as loyalty_selectors
    from patron.loyalty.models import CancelledOrderRewardPoints

    policy = loyalty_selectors.program(order.merchant).cancelled_order_reward_points
    done = []
    for code in order.discount_codes:
        coupon = coupon_selectors.coupon_by_code(order.merchant, code)
        if coupon is None:
            continue
        key = f"order:{order.source}:{order.external_id}:code:{code}"
        reason = f"Order {order.name or order.external_id} cancelled or refunded"
        try:
            with transaction.atomic():
                coupon = coupon_services.coupon_rollback(
                    merchant=order.merchant,
                    coupon=coupon,
                    actor=actor,
                    order_reference=_reference(order),
                    reason=reason,
                    idempotency_key=f"{key}:rollback",
                )
                outcome = "rolled_back"
                if coupon.points_paid and policy == CancelledOrderRewardPoints.RETURN:
                    coupon_services.coupon_delete(
                        merchant=order.merchant,
                        coupon=coupon,
                        actor=actor,
                        reason=reason,
                        refund_points=True,
                    )
                    outcome = "points_returned"
                elif coupon.points_paid:
                    outcome = "points_kept"
        except PatronError as error:
            outcome = f"not undone: {error.message}"
            order.note = " ".join([order.note, f"{code}: {error.message}"]).strip()[:500]
        done.append({"code": code, "outcome": outcome})
    return done
