"""Domain events about coupons.

Each event is written twice, on purpose: as a `CouponEvent` (the coupon's own history,
the "Event Data" JSON of the Discount Codes tab) and as an `ActivityEvent` on the
contact (the timeline, automations such as "coupon used", and webhooks). Activity types
are the coupon event types prefixed with `coupon_`.
"""

from typing import Any

from patron.contacts.events import record
from patron.coupons.models import Coupon, CouponEvent, CouponEventType
from patron.lib.actors import Actor
from patron.lib.sql import insert_row


def _summary(coupon: Coupon) -> dict[str, Any]:
    return {
        "coupon_id": str(coupon.pk),
        "code": coupon.code,
        "label": coupon.label,
        "type": coupon.type,
        "value": str(coupon.value),
        "status": coupon.status,
        "usage_count": coupon.usage_count,
        "usage_limit": coupon.usage_limit,
    }


def _write(
    *,
    coupon: Coupon,
    type: CouponEventType,
    actor: Actor,
    data: dict[str, Any] | None = None,
    idempotency_key: str = "",
) -> CouponEvent:
    data = data or {}
    event = CouponEvent(
        merchant=coupon.merchant,
        coupon=coupon,
        type=type,
        data={**_summary(coupon), **data},
        idempotency_key=idempotency_key,
    )
    event.set_actor(actor)
    insert_row(event)  # fixed SQL (patron.lib.sql)
    record(
        merchant=coupon.merchant,
        type=f"coupon_{type.value}",
        actor=actor,
        contact=coupon.contact,
        data=event.data,
    )
    return event


def coupon_issued(*, coupon: Coupon, actor: Actor) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.ISSUED,
        actor=actor,
        data={
            "earning_method": coupon.earning_method,
            "minimum_order": str(coupon.minimum_order) if coupon.minimum_order else None,
            "applies_to": coupon.applies_to,
            "starts_at": coupon.starts_at.isoformat() if coupon.starts_at else None,
            "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None,
            "points_paid": coupon.points_paid,
            "reference": coupon.reference,
            "regenerated_from": coupon.regenerated_from.code if coupon.regenerated_from else None,
        },
    )


def coupons_issued_in_bulk(*, coupon: Coupon, actor: Actor, count: int, redrawn: int) -> None:
    """A batch of coupons alike but for their codes (`coupon` is their unsaved pattern):
    one timeline event for the batch, no history row per coupon."""
    record(
        merchant=coupon.merchant,
        type="coupon_bulk_issued",
        actor=actor,
        contact=coupon.contact,
        data={
            "count": count,
            "redrawn": redrawn,
            "label": coupon.label,
            "type": coupon.type,
            "value": str(coupon.value),
            "usage_limit": coupon.usage_limit,
            "prefix": coupon.prefix,
            "minimum_order": str(coupon.minimum_order) if coupon.minimum_order else None,
            "applies_to": coupon.applies_to,
            "starts_at": coupon.starts_at.isoformat() if coupon.starts_at else None,
            "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None,
            "reference": coupon.reference,
        },
    )


def coupon_sent(*, coupon: Coupon, actor: Actor, channel: str, to: str = "") -> CouponEvent:
    return _write(
        coupon=coupon, type=CouponEventType.SENT, actor=actor, data={"channel": channel, "to": to}
    )


def coupon_synced(
    *, coupon: Coupon, actor: Actor, platform: str, external_id: str = ""
) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.SYNCED,
        actor=actor,
        data={"platform": platform, "external_id": external_id},
    )


def coupon_used(
    *, coupon: Coupon, actor: Actor, order_reference: str, idempotency_key: str = ""
) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.USED,
        actor=actor,
        data={"order_reference": order_reference},
        idempotency_key=idempotency_key,
    )


def coupon_rolled_back(
    *, coupon: Coupon, actor: Actor, order_reference: str, reason: str, idempotency_key: str = ""
) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.ROLLED_BACK,
        actor=actor,
        data={"order_reference": order_reference, "reason": reason},
        idempotency_key=idempotency_key,
    )


def coupon_deleted(
    *, coupon: Coupon, actor: Actor, reason: str, refund_requested: bool, ledger_entry_id: str
) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.DELETED,
        actor=actor,
        data={
            "reason": reason,
            "points_paid": coupon.points_paid,
            "refund_requested": refund_requested,
            "points_refunded": coupon.points_refunded,
            "ledger_entry_id": ledger_entry_id or None,
        },
    )


def coupon_expired(*, coupon: Coupon, actor: Actor) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.EXPIRED,
        actor=actor,
        data={"expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None},
    )


def coupon_regenerated(*, coupon: Coupon, actor: Actor, new_coupon: Coupon) -> CouponEvent:
    return _write(
        coupon=coupon,
        type=CouponEventType.REGENERATED,
        actor=actor,
        data={"new_coupon_id": str(new_coupon.pk), "new_code": new_coupon.code},
    )
