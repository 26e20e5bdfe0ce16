"""Domain events of integrations: orders from a POS or a store, and their refunds."""

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent
from patron.integrations.models import Order
from patron.lib.actors import Actor


def _order(order: Order) -> dict[str, object]:
    return {
        "order_id": str(order.pk),
        "source": order.source,
        "external_id": order.external_id,
        "name": order.name,
        "total": str(order.eligible_total),
        "currency": order.currency,
        "points_earned": order.points_earned,
        "discount_codes": order.discount_codes,
    }


def order_placed(*, order: Order, actor: Actor) -> ActivityEvent:
    return record(
        merchant=order.merchant,
        type="order_placed",
        actor=actor,
        contact=order.contact,
        data=_order(order),
    )


def order_refunded(
    *,
    order: Order,
    actor: Actor,
    amount: str,
    points_reversed: int,
    points_shortfall: int = 0,
    refund_id: str = "",
    coupons: list[dict[str, str]] | None = None,
) -> ActivityEvent:
    return record(
        merchant=order.merchant,
        type="order_refunded",
        actor=actor,
        contact=order.contact,
        data={
            **_order(order),
            "refund_id": refund_id,
            "refund_amount": amount,
            "refunded_total": str(order.refunded_total),
            "status": order.status,
            "points_reversed": points_reversed,
            # Points of this refund the member had already spent: not taken back.
            "points_shortfall": points_shortfall,
            "coupons": coupons or [],
        },
    )
