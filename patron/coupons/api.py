"""Coupons (discount codes) in the public API."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.contacts import selectors as contact_selectors
from patron.contacts.models import Contact
from patron.contacts.services import ContactNotFound
from patron.coupons import selectors, services
from patron.coupons.models import Coupon, CouponEvent
from patron.coupons.services import CouponNotFound, CouponValidation

router = Router(tags=["coupons"])


class AppliesToIn(Schema):
    kind: Literal["all", "collections", "products"] = "all"
    ids: list[str] = Field(default_factory=list, max_length=1000)


class CouponTermsIn(Schema):
    """The terms a coupon is issued on, alike for one coupon and for a bulk issue."""

    label: str = Field(..., min_length=1, max_length=100, examples=["Birthday Coupon"])
    type: Literal["percentage", "fixed_amount", "free_shipping"]
    value: Decimal = Field(Decimal(0), ge=0, max_digits=14, decimal_places=2)
    usage_limit: int = Field(1, ge=1, le=1_000_000)
    minimum_order: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    applies_to: AppliesToIn | None = None
    starts_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None
    prefix: str = Field("", max_length=20, description="Letters, digits and dashes")


class CouponIn(CouponTermsIn):
    earning_method: Literal["manual", "loyalty", "automation"] = "manual"
    code: str | None = Field(
        None, min_length=4, max_length=64, description="A code of your own instead of a random one"
    )
    reference: str = Field("", max_length=200)


class CouponBulkIn(CouponTermsIn):
    count: int = Field(..., ge=1, le=services.MAX_BULK_COUNT, examples=[1000])
    reference: str = Field(
        "",
        max_length=200,
        description="Shared by every coupon of the batch; default: a new `bulk:...` one",
    )


class CouponBulkOut(Schema):
    count: int
    label: str
    reference: str
    redrawn: int = Field(..., description="Codes that clashed with existing ones, drawn again")


class CouponOut(Schema):
    id: str
    code: str
    label: str
    type: str
    value: Decimal
    status: str
    usage_limit: int
    usage_count: int
    minimum_order: Decimal | None
    applies_to: dict[str, Any]
    starts_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    earning_method: str
    points_paid: int
    points_refunded: int
    reference: str
    used_at: datetime.datetime | None
    last_order_reference: str
    deleted_at: datetime.datetime | None
    deleted_by: str
    delete_reason: str
    regenerated_from_id: str | None
    contact_id: str
    member_id: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def from_coupon(coupon: Coupon) -> "CouponOut":
        return CouponOut(
            id=str(coupon.pk),
            code=coupon.code,
            label=coupon.label,
            type=coupon.type,
            value=coupon.value,
            status=coupon.status,
            usage_limit=coupon.usage_limit,
            usage_count=coupon.usage_count,
            minimum_order=coupon.minimum_order,
            applies_to=coupon.applies_to,
            starts_at=coupon.starts_at,
            expires_at=coupon.expires_at,
            earning_method=coupon.earning_method,
            points_paid=coupon.points_paid,
            points_refunded=coupon.points_refunded,
            reference=coupon.reference,
            used_at=coupon.used_at,
            last_order_reference=coupon.last_order_reference,
            deleted_at=coupon.deleted_at,
            deleted_by=coupon.deleted_by,
            delete_reason=coupon.delete_reason,
            regenerated_from_id=(
                str(coupon.regenerated_from_id) if coupon.regenerated_from_id else None
            ),
            contact_id=str(coupon.contact_id),
            member_id=str(coupon.member_id) if coupon.member_id else None,
            created_at=coupon.created_at,
            updated_at=coupon.updated_at,
        )


class CouponPage(Schema):
    items: list[CouponOut]
    next_cursor: str | None


class CouponDeleteIn(Schema):
    reason: str = Field("Deleted through the API", min_length=1, max_length=500)
    refund_points: bool = Field(
        False, description="Give back the points that paid for the coupon, if any"
    )


class RegenerateIn(Schema):
    reason: str = Field("Delete and generate new", min_length=1, max_length=500)
    type: Literal["percentage", "fixed_amount", "free_shipping"] | None = Field(
        None, description="A corrected type; default: the old coupon's"
    )
    value: Decimal | None = Field(
        None, ge=0, max_digits=14, decimal_places=2, description="A corrected value"
    )


class RedeemIn(Schema):
    order_reference: str = Field(..., min_length=1, max_length=200)
    order_total: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    product_ids: list[str] | None = Field(None, max_length=1000)
    collection_ids: list[str] | None = Field(None, max_length=1000)


class RollbackIn(Schema):
    order_reference: str = Field("", max_length=200, description="Default: the last order")
    reason: str = Field("", max_length=500)


class ValidateIn(Schema):
    code: str = Field(..., min_length=1, max_length=64)
    order_total: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    product_ids: list[str] | None = Field(None, max_length=1000)
    collection_ids: list[str] | None = Field(None, max_length=1000)


class ValidationOut(Schema):
    valid: bool
    reason: (
        Literal[
            "not_found",
            "not_started",
            "expired",
            "used",
            "deleted",
            "below_minimum",
            "not_applicable",
        ]
        | None
    )
    message: str
    discount: Decimal | None
    free_shipping: bool
    coupon: CouponOut | None

    @staticmethod
    def from_validation(result: CouponValidation) -> "ValidationOut":
        # A failed check on an unknown code must not reveal other merchants' codes; the
        # coupon is only ever one of this merchant's.
        return ValidationOut(
            valid=result.valid,
            reason=result.reason,  # type: ignore[arg-type]
            message=result.message,
            discount=result.discount,
            free_shipping=result.free_shipping,
            coupon=CouponOut.from_coupon(result.coupon) if result.coupon else None,
        )


class CouponEventOut(Schema):
    id: str
    type: str
    at: datetime.datetime
    actor: dict[str, str]
    data: dict[str, Any]

    @staticmethod
    def from_event(event: CouponEvent) -> "CouponEventOut":
        return CouponEventOut(
            id=str(event.pk),
            type=event.type,
            at=event.at,
            actor=event.actor.as_dict(),
            data=event.data,
        )


class CouponEventList(Schema):
    items: list[CouponEventOut]


def _contact(request: HttpRequest, contact_id: str) -> Contact:
    merchant, _ = tenant(request)
    contact = contact_selectors.contact_get(merchant, contact_id)
    if contact is None:
        raise ContactNotFound()
    return contact


def _coupon(request: HttpRequest, coupon_id: str) -> Coupon:
    merchant, _ = tenant(request)
    coupon = selectors.coupon_get(merchant, coupon_id)
    if coupon is None:
        raise CouponNotFound()
    return coupon


def _key(request: HttpRequest) -> str | None:
    return request.headers.get("Idempotency-Key") or None


@router.get(
    "/contacts/{contact_id}/coupons",
    response={200: CouponPage, **ERRORS},
    summary="A contact's coupons",
)
def list_contact_coupons(
    request: HttpRequest,
    contact_id: str,
    status: Literal["available", "used", "deleted", "expired"] | None = None,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> CouponPage:
    merchant, _ = tenant(request)
    found = selectors.contact_coupons(merchant, _contact(request, contact_id))
    if status:
        found = found.filter(status=status)
    page = paginate(found, cursor, limit)
    return CouponPage(
        items=[CouponOut.from_coupon(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/contacts/{contact_id}/coupons",
    response={201: CouponOut, **ERRORS},
    summary="Issue a coupon to a contact",
)
def issue_coupon(request: HttpRequest, contact_id: str, payload: CouponIn) -> tuple[int, CouponOut]:
    merchant, actor = tenant(request)
    terms = payload.model_dump(exclude={"applies_to"})
    coupon = services.coupon_issue(
        merchant=merchant,
        contact=_contact(request, contact_id),
        actor=actor,
        applies_to=payload.applies_to.model_dump() if payload.applies_to else None,
        idempotency_key=_key(request),
        **terms,
    )
    return 201, CouponOut.from_coupon(coupon)


BULK_DESCRIPTION = """
Issues `count` coupons (1 to 1,000,000) on the same terms, each with its own random code,
to one contact (a campaign's holder), in one transaction: all of them or none.

The batch is one `coupon_bulk_issued` event on the contact's timeline, not a
`coupon_issued` event per coupon. **Bulk-issued coupons are not pushed to Shopify**: the
Shopify sync creates discount codes from `coupon_issued` events only, so while a merchant
syncs coupons to its store a bulk issue is refused with 409 `bulk_coupons_not_synced`.

Every coupon of the batch carries the answer's `reference`. Send an `Idempotency-Key`:
a retry with the same key answers the first batch instead of issuing another.
"""


@router.post(
    "/contacts/{contact_id}/coupons/bulk",
    response={201: CouponBulkOut, **ERRORS},
    summary="Issue many coupons with random codes to a contact",
    description=BULK_DESCRIPTION,
)
def issue_coupons_in_bulk(
    request: HttpRequest, contact_id: str, payload: CouponBulkIn
) -> tuple[int, CouponBulkOut]:
    merchant, actor = tenant(request)
    done = services.coupons_issue_bulk(
        merchant=merchant,
        contact=_contact(request, contact_id),
        actor=actor,
        applies_to=payload.applies_to.model_dump() if payload.applies_to else None,
        **payload.model_dump(exclude={"applies_to"}),
    )
    return 201, CouponBulkOut(
        count=done.count, label=done.label, reference=done.reference, redrawn=done.redrawn
    )


@router.post(
    "/coupons/validate",
    response={200: ValidationOut, **ERRORS},
    summary="Check whether a code can be used on an order, and why not",
)
def validate_coupon(request: HttpRequest, payload: ValidateIn) -> ValidationOut:
    merchant, _ = tenant(request)
    result = services.coupon_validate(
        merchant=merchant,
        code=payload.code,
        order_total=payload.order_total,
        product_ids=payload.product_ids,
        collection_ids=payload.collection_ids,
    )
    return ValidationOut.from_validation(result)


@router.get("/coupons/{coupon_id}", response={200: CouponOut, **ERRORS}, summary="A coupon")
def get_coupon(request: HttpRequest, coupon_id: str) -> CouponOut:
    return CouponOut.from_coupon(_coupon(request, coupon_id))


@router.delete(
    "/coupons/{coupon_id}",
    response={200: CouponOut, **ERRORS},
    summary="Delete a coupon, with a reason and a refund choice",
)
def delete_coupon(
    request: HttpRequest, coupon_id: str, payload: CouponDeleteIn | None = None
) -> CouponOut:
    merchant, actor = tenant(request)
    coupon = services.coupon_delete(
        merchant=merchant,
        coupon=_coupon(request, coupon_id),
        actor=actor,
        reason=payload.reason if payload else "Deleted through the API",
        refund_points=payload.refund_points if payload else False,
    )
    return CouponOut.from_coupon(coupon)


@router.post(
    "/coupons/{coupon_id}/regenerate",
    response={201: CouponOut, **ERRORS},
    summary="Delete and generate new: the new coupon, with the same terms",
)
def regenerate_coupon(
    request: HttpRequest, coupon_id: str, payload: RegenerateIn | None = None
) -> tuple[int, CouponOut]:
    merchant, actor = tenant(request)
    coupon = services.coupon_regenerate(
        merchant=merchant,
        coupon=_coupon(request, coupon_id),
        actor=actor,
        reason=payload.reason if payload else "Delete and generate new",
        type=payload.type if payload else None,
        value=payload.value if payload else None,
        idempotency_key=_key(request),
    )
    return 201, CouponOut.from_coupon(coupon)


@router.post(
    "/coupons/{coupon_id}/redeem",
    response={200: CouponOut, **ERRORS},
    summary="Use the coupon on an order",
)
def redeem_coupon(request: HttpRequest, coupon_id: str, payload: RedeemIn) -> CouponOut:
    merchant, actor = tenant(request)
    coupon = services.coupon_redeem(
        merchant=merchant,
        coupon=_coupon(request, coupon_id),
        actor=actor,
        order_reference=payload.order_reference,
        order_total=payload.order_total,
        product_ids=payload.product_ids,
        collection_ids=payload.collection_ids,
        idempotency_key=_key(request),
    )
    return CouponOut.from_coupon(coupon)


@router.post(
    "/coupons/{coupon_id}/rollback",
    response={200: CouponOut, **ERRORS},
    summary="Roll back a use (the order was cancelled)",
)
def rollback_coupon(
    request: HttpRequest, coupon_id: str, payload: RollbackIn | None = None
) -> CouponOut:
    merchant, actor = tenant(request)
    coupon = services.coupon_rollback(
        merchant=merchant,
        coupon=_coupon(request, coupon_id),
        actor=actor,
        order_reference=payload.order_reference if payload else "",
        reason=payload.reason if payload else "",
        idempotency_key=_key(request),
    )
    return CouponOut.from_coupon(coupon)


@router.get(
    "/coupons/{coupon_id}/events",
    response={200: CouponEventList, **ERRORS},
    summary="The coupon's event data: its whole history as JSON",
)
def coupon_events(request: HttpRequest, coupon_id: str) -> CouponEventList:
    merchant, _ = tenant(request)
    history = selectors.coupon_events(merchant, _coupon(request, coupon_id))
    return CouponEventList(items=[CouponEventOut.from_event(e) for e in history])
