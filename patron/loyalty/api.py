"""Members, points, point categories and tiers in the public API."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.contacts import selectors as contact_selectors
from patron.contacts.services import ContactNotFound
from patron.lib.errors import InvalidInput, NotFound
from patron.loyalty import selectors, services
from patron.loyalty.models import (
    LedgerEntry,
    LedgerSource,
    Member,
    PointCategory,
    Tier,
)
from patron.loyalty.services import MemberNotFound

router = Router(tags=["loyalty"])

MAX_POINTS = services.MAX_POINTS


class PointsOut(Schema):
    available: int
    pending: int
    lifetime: int


class MemberOut(Schema):
    id: str
    contact_id: str | None = Field(
        description="Null once the contact is deleted or has another phone"
    )
    phone: str
    status: Literal["not_activated", "active", "excluded"]
    tier: str | None
    tier_manual: bool
    points: PointsOut
    status_changed_at: datetime.datetime
    status_changed_by: str
    status_reason: str
    created_at: datetime.datetime

    @staticmethod
    def from_member(member: Member) -> "MemberOut":
        contact = member.linked_contact
        return MemberOut(
            id=str(member.pk),
            contact_id=str(contact.pk) if contact else None,
            phone=member.phone,
            status=member.status,  # type: ignore[arg-type]
            tier=member.tier.name if member.tier else None,
            tier_manual=member.tier_manual,
            points=PointsOut(**selectors.member_points(member)),
            status_changed_at=member.status_changed_at,
            status_changed_by=member.status_changed_by,
            status_reason=member.status_reason,
            created_at=member.created_at,
        )


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class TransactionOut(Schema):
    id: str
    member_id: str
    kind: str
    amount: int
    category: str | None
    reason: str
    source: str
    reference: str
    balance_after: int
    counterpart_member_id: str | None
    actor: dict[str, str]
    data: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Details beyond the columns, e.g. for a `reverse` of an order's points: "
            "`requested`, `taken`, `from_pending`, `from_available` and `shortfall` (points "
            "the member had already spent)."
        ),
    )
    created_at: datetime.datetime

    @staticmethod
    def from_entry(entry: LedgerEntry) -> "TransactionOut":
        return TransactionOut(
            id=str(entry.pk),
            member_id=str(entry.member_id),
            kind=entry.kind,
            amount=entry.amount,
            category=entry.category.name if entry.category else None,
            reason=entry.reason,
            source=entry.source,
            reference=entry.reference,
            balance_after=entry.balance_after,
            counterpart_member_id=str(entry.counterpart_id) if entry.counterpart_id else None,
            actor=entry.actor.as_dict(),
            data=entry.data or {},
            created_at=entry.created_at,
        )


class TransactionPage(Schema):
    items: list[TransactionOut]
    next_cursor: str | None


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


class ExcludeIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class GivePointsIn(Schema):
    amount: int = Field(..., ge=1, le=MAX_POINTS)
    category_id: str | None = None
    reason: str = Field("", max_length=500)
    source: Literal["manual", "order", "automation", "api", "import"] = "api"
    reference: str = Field("", max_length=200)


class AdjustIn(Schema):
    amount: int = Field(0, ge=-MAX_POINTS, le=MAX_POINTS, description="+ adds, - takes away")
    reason: str = Field(..., min_length=1, max_length=500)
    category_id: str | None = None
    set_tier: bool = Field(False, description="Also set the tier by hand to tier_id")
    tier_id: str | None = Field(None, description="With set_tier; null removes the tier")


class AdjustOut(Schema):
    transaction: TransactionOut | None
    member: MemberOut


class TransferIn(Schema):
    to_member_id: str
    amount: int = Field(..., ge=1, le=MAX_POINTS)
    reason: str = Field(..., min_length=1, max_length=500)
    move_tier: bool = Field(False, description="Also give the receiving member this tier")


class TransferOut(Schema):
    outgoing: TransactionOut
    incoming: TransactionOut


class CategoryIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    color: str = Field("#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")


class CategoryOut(Schema):
    id: str
    name: str
    color: str

    @staticmethod
    def from_category(category: PointCategory) -> "CategoryOut":
        return CategoryOut(id=str(category.pk), name=category.name, color=category.color)


class CategoryPage(Schema):
    items: list[CategoryOut]
    next_cursor: str | None


class TierIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    threshold: int = Field(..., ge=0, le=2_000_000_000)
    color: str = Field("#64748b", pattern=r"^#[0-9a-fA-F]{6}$")
    benefits: str = Field("", max_length=5000)
    earn_multiplier: Decimal = Field(Decimal(1), gt=0, le=100, decimal_places=2)


class TierOut(Schema):
    id: str
    name: str
    threshold: int
    color: str
    benefits: str
    earn_multiplier: Decimal

    @staticmethod
    def from_tier(tier: Tier) -> "TierOut":
        return TierOut(
            id=str(tier.pk),
            name=tier.name,
            threshold=tier.threshold,
            color=tier.color,
            benefits=tier.benefits,
            earn_multiplier=tier.earn_multiplier,
        )


class TierPage(Schema):
    items: list[TierOut]
    next_cursor: str | None


def idempotency_key(request: HttpRequest) -> str | None:
    return request.headers.get("Idempotency-Key", "").strip() or None


def member_or_404(request: HttpRequest, member_id: str) -> Member:
    merchant, _ = tenant(request)
    member = selectors.member_get(merchant, member_id)
    if member is None:
        raise MemberNotFound()
    return member


def member_ref(member_id: str) -> Member:
    """The member named in the path, unread, for a write service that reads the row once
    itself, under its lock, and answers member_not_found if there is none: reading it
    here as well would cost a query whose values the service must not trust anyway."""
    try:
        return Member(pk=int(member_id))
    except ValueError as exc:
        raise MemberNotFound() from exc


def _category(request: HttpRequest, category_id: str | None) -> PointCategory | None:
    if not category_id:
        return None
    merchant, _ = tenant(request)
    category = selectors.point_category_get(merchant, category_id)
    if category is None:
        raise NotFound("No such point category.", field="category_id")
    return category


def _fresh(request: HttpRequest, member: Member) -> MemberOut:
    return MemberOut.from_member(member_or_404(request, str(member.pk)))


@router.get("/contacts/{contact_id}/member", response={200: MemberOut, **ERRORS})
def contact_member(request: HttpRequest, contact_id: str) -> MemberOut:
    """The membership of the contact's current phone: state, tier and balances."""
    merchant, _ = tenant(request)
    contact = contact_selectors.contact_get(merchant, contact_id)
    if contact is None:
        raise ContactNotFound()
    member = selectors.member_for_contact(merchant, contact)
    if member is None:
        raise MemberNotFound("This contact is not a member of the loyalty program.")
    return MemberOut.from_member(member)


@router.get("/members", response={200: MemberPage, **ERRORS}, summary="List members by state")
def list_members(
    request: HttpRequest,
    status: Literal["not_activated", "active", "excluded"] | None = None,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> MemberPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.members(merchant, status), cursor, limit)
    return MemberPage(
        items=[MemberOut.from_member(m) for m in page.items], next_cursor=page.next_cursor
    )


@router.get("/members/{member_id}", response={200: MemberOut, **ERRORS})
def get_member(request: HttpRequest, member_id: str) -> MemberOut:
    return MemberOut.from_member(member_or_404(request, member_id))


@router.post("/members/{member_id}/activate", response={200: MemberOut, **ERRORS})
def activate_member(
    request: HttpRequest, member_id: str, payload: ReasonIn | None = None
) -> MemberOut:
    """ "Activate member", from not activated or excluded."""
    merchant, actor = tenant(request)
    member = services.member_activate(
        merchant=merchant,
        member=member_or_404(request, member_id),
        actor=actor,
        reason=payload.reason if payload else "",
    )
    return _fresh(request, member)


@router.post("/members/{member_id}/exclude", response={200: MemberOut, **ERRORS})
def exclude_member(request: HttpRequest, member_id: str, payload: ExcludeIn) -> MemberOut:
    """ "Remove from program"."""
    merchant, actor = tenant(request)
    member = services.member_exclude(
        merchant=merchant,
        member=member_or_404(request, member_id),
        actor=actor,
        reason=payload.reason,
    )
    return _fresh(request, member)


@router.delete("/members/{member_id}", response={204: None, **ERRORS})
def delete_member(
    request: HttpRequest, member_id: str, reason: str = Query("", max_length=500)
) -> tuple[int, None]:
    """ "Delete member": only once the contact is deleted or has another phone (409
    `member_still_linked` otherwise; use "Remove from program" instead)."""
    merchant, actor = tenant(request)
    services.member_delete(
        merchant=merchant,
        member=member_or_404(request, member_id),
        actor=actor,
        reason=reason,
    )
    return 204, None


@router.post("/members/{member_id}/points", response={201: TransactionOut, **ERRORS})
def give_points(
    request: HttpRequest, member_id: str, payload: GivePointsIn
) -> tuple[int, TransactionOut]:
    """ "Give Points": the amount times the member's tier multiplier."""
    merchant, actor = tenant(request)
    entry = services.points_give(
        merchant=merchant,
        member=member_ref(member_id),
        amount=payload.amount,
        actor=actor,
        category=_category(request, payload.category_id),
        reason=payload.reason,
        source=LedgerSource(payload.source),
        reference=payload.reference,
        idempotency_key=idempotency_key(request),
    )
    return 201, TransactionOut.from_entry(entry)


@router.post("/members/{member_id}/adjustments", response={201: AdjustOut, **ERRORS})
def adjust_points(request: HttpRequest, member_id: str, payload: AdjustIn) -> tuple[int, AdjustOut]:
    """ "Adjust points and tier": add or take points, and/or set the tier by hand."""
    merchant, actor = tenant(request)
    member = member_or_404(request, member_id)
    if not payload.amount and not payload.set_tier:
        raise InvalidInput("Give an amount, or set_tier with a tier.", field="amount")
    entry = None
    if payload.amount:
        entry = services.points_adjust(
            merchant=merchant,
            member=member,
            amount=payload.amount,
            actor=actor,
            reason=payload.reason,
            category=_category(request, payload.category_id),
            idempotency_key=idempotency_key(request),
        )
    if payload.set_tier:
        tier = None
        if payload.tier_id:
            tier = selectors.tiers(merchant).filter(pk=_int(payload.tier_id)).first()
            if tier is None:
                raise NotFound("No such tier.", field="tier_id")
        services.tier_set_manual(
            merchant=merchant, member=member, tier=tier, actor=actor, reason=payload.reason
        )
    return 201, AdjustOut(
        transaction=TransactionOut.from_entry(entry) if entry else None,
        member=_fresh(request, member),
    )


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@router.post("/members/{member_id}/transfers", response={201: TransferOut, **ERRORS})
def transfer_points(
    request: HttpRequest, member_id: str, payload: TransferIn
) -> tuple[int, TransferOut]:
    """ "Adjust points and tier" between two members: a ledger row on each side."""
    merchant, actor = tenant(request)
    source = member_or_404(request, member_id)
    target = selectors.member_get(merchant, payload.to_member_id)
    if target is None:
        raise MemberNotFound(field="to_member_id")
    outgoing, incoming = services.points_transfer(
        merchant=merchant,
        source=source,
        target=target,
        amount=payload.amount,
        actor=actor,
        reason=payload.reason,
        move_tier=payload.move_tier,
        idempotency_key=idempotency_key(request),
    )
    return 201, TransferOut(
        outgoing=TransactionOut.from_entry(outgoing), incoming=TransactionOut.from_entry(incoming)
    )


@router.get("/members/{member_id}/transactions", response={200: TransactionPage, **ERRORS})
def list_transactions(
    request: HttpRequest,
    member_id: str,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> TransactionPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.ledger(merchant, member_or_404(request, member_id)), cursor, limit)
    return TransactionPage(
        items=[TransactionOut.from_entry(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get("/point-categories", response={200: CategoryPage, **ERRORS})
def list_categories(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> CategoryPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.point_categories(merchant), cursor, limit)
    return CategoryPage(
        items=[CategoryOut.from_category(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.post("/point-categories", response={201: CategoryOut, **ERRORS})
def create_category(request: HttpRequest, payload: CategoryIn) -> tuple[int, CategoryOut]:
    merchant, actor = tenant(request)
    category = services.point_category_create(
        merchant=merchant, name=payload.name, color=payload.color, actor=actor
    )
    return 201, CategoryOut.from_category(category)


@router.get("/tiers", response={200: TierPage, **ERRORS})
def list_tiers(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> TierPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.tiers(merchant), cursor, limit)
    return TierPage(items=[TierOut.from_tier(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("/tiers", response={201: TierOut, **ERRORS})
def create_tier(request: HttpRequest, payload: TierIn) -> tuple[int, TierOut]:
    merchant, actor = tenant(request)
    tier = services.tier_create(
        merchant=merchant,
        name=payload.name,
        threshold=payload.threshold,
        color=payload.color,
        benefits=payload.benefits,
        earn_multiplier=payload.earn_multiplier,
        actor=actor,
    )
    return 201, TierOut.from_tier(tier)
