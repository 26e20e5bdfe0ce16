"""Writes to coupons: issue, use, roll back, delete, regenerate, expire.

Rules from the seeds: a coupon's usage never goes above its limit whatever runs at the
same time (conditional UPDATE with a row-count check, never read-then-write); available
coupons show as the contact's tags, named by label; deleting a coupon that points paid
for offers a refund through the loyalty ledger; "Delete and generate new" is one step.
"""

import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from patron.contacts import services as contact_services
from patron.contacts.models import Contact, ContactTag
from patron.contacts.services import ContactNotFound
from patron.coupons import events
from patron.coupons.codes import (
    CODE_LENGTH,
    clean_prefix,
    coupon_code_generate,
    coupon_codes_generate,
    normalize_code,
)
from patron.coupons.models import (
    AppliesTo,
    Coupon,
    CouponEvent,
    CouponEventType,
    CouponStatus,
    CouponType,
    EarningMethod,
)
from patron.lib.actors import SYSTEM, Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.sql import first_row, insert_row
from patron.tenants.models import Merchant

__all__ = ["coupon_codes_generate"]  # re-exported: bulk code generation lives in codes.py

CODE_ATTEMPTS = 10
CENT = Decimal("0.01")
MAX_VALUE = Decimal("999999999999.99")


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    title = "No such coupon"


class CouponNotAvailable(Conflict):
    code = "coupon_not_available"
    title = "This coupon is not available"


class CouponUsageLimitReached(Conflict):
    code = "coupon_usage_limit_reached"
    title = "This coupon has been used as many times as it allows"


class CouponExpired(Conflict):
    code = "coupon_expired"
    title = "This coupon has expired"


class CouponNotStarted(Conflict):
    code = "coupon_not_started"
    title = "This coupon cannot be used yet"


class CouponBelowMinimum(Conflict):
    code = "coupon_below_minimum"
    title = "The order is below the coupon's minimum"


class CouponNotApplicable(Conflict):
    code = "coupon_not_applicable"
    title = "The coupon does not apply to this order"


class CouponNotUsed(Conflict):
    code = "coupon_not_used"
    title = "This coupon has no use to roll back"


class CouponCodeTaken(Conflict):
    code = "coupon_code_taken"
    title = "Another coupon already has this code"


class CouponRefundNotPossible(Conflict):
    code = "coupon_refund_not_possible"
    title = "The points of this coupon cannot be refunded"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "This idempotency key was used for another operation"


# ---------------------------------------------------------------------------------------
# Input cleaning


def _clean_label(label: str) -> str:
    # Labels become tag names, so they follow the same spacing rule.
    label = " ".join((label or "").split())
    if not label or len(label) > 100:
        raise InvalidInput("A coupon label has 1 to 100 characters.", field="label")
    return label


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise InvalidInput("This is not an amount.", field=field) from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise InvalidInput("An amount is zero or more.", field=field)
    return amount


def _clean_value(type: str, value: Any) -> Decimal:
    if type not in CouponType.values:
        raise InvalidInput("The type is percentage, fixed_amount or free_shipping.", field="type")
    if type == CouponType.FREE_SHIPPING:
        return Decimal("0.00")
    amount = _money(value, "value")
    if amount <= 0:
        raise InvalidInput("A discount is more than zero.", field="value")
    if type == CouponType.PERCENTAGE and amount > 100:
        raise InvalidInput("A percentage is at most 100.", field="value")
    return amount


def clean_applies_to(applies_to: dict[str, Any] | None) -> dict[str, Any]:
    if not applies_to:
        return {"kind": AppliesTo.ALL.value, "ids": []}
    kind = applies_to.get("kind", AppliesTo.ALL)
    if kind not in AppliesTo.values:
        raise InvalidInput("applies_to.kind is all, collections or products.", field="applies_to")
    raw_ids = applies_to.get("ids") or []
    if not isinstance(raw_ids, list | tuple) or len(raw_ids) > 1000:
        raise InvalidInput("applies_to.ids is a list of at most 1000 ids.", field="applies_to")
    ids = list(dict.fromkeys(str(i).strip() for i in raw_ids if str(i).strip()))
    if kind == AppliesTo.ALL:
        ids = []
    elif not ids:
        raise InvalidInput(f"Name the {kind} the coupon applies to.", field="applies_to")
    return {"kind": kind, "ids": ids}


def _clean_key(idempotency_key: str | None) -> str:
    key = (idempotency_key or "").strip()
    if len(key) > 255:
        raise InvalidInput("An idempotency key has at most 255 characters.", field="key")
    return key


# ---------------------------------------------------------------------------------------
# Tags: available coupons are mirrored as the contact's tags (seed 000)


def _sync_label_tag(
    *, merchant: Merchant, contact: Contact, label: str, actor: Actor, issued: bool = False
) -> None:
    """Tag the contact with `label` while an available coupon has it, untag otherwise
    (`issued`: the caller has just issued an available coupon with that label)."""
    available = (
        issued
        or Coupon.objects.filter(
            merchant=merchant, contact=contact, label__iexact=label, status=CouponStatus.AVAILABLE
        ).exists()
    )
    tagged = ContactTag.objects.filter(
        contact=contact, tag__merchant=merchant, tag__name__iexact=label
    ).exists()
    if available and not tagged:
        contact_services.contact_tag_add(
            merchant=merchant, contact=contact, name=label, actor=actor
        )
    elif tagged and not available:
        contact_services.contact_tag_remove(
            merchant=merchant, contact=contact, name=label, actor=actor
        )


def _reload(merchant: Merchant, pk: int, *, lock: bool = False) -> Coupon:
    queryset = Coupon.objects.select_related("contact", "merchant", "regenerated_from")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(merchant=merchant, pk=pk)
    except Coupon.DoesNotExist as exc:
        raise CouponNotFound() from exc


# ---------------------------------------------------------------------------------------
# Issue


def _check_terms(
    *,
    merchant: Merchant,
    contact: Contact,
    earning_method: str,
    usage_limit: int,
    points_paid: int,
    member_id: int | None,
    starts_at: datetime.datetime | None,
    expires_at: datetime.datetime | None,
) -> None:
    if contact.merchant_id != merchant.pk or contact.deleted_at is not None:
        raise ContactNotFound()
    if earning_method not in EarningMethod.values:
        raise InvalidInput(
            "The earning method is manual, loyalty or automation.", field="earning_method"
        )
    if not isinstance(usage_limit, int) or not 1 <= usage_limit <= 1_000_000:
        raise InvalidInput("The usage limit is 1 or more.", field="usage_limit")
    if not isinstance(points_paid, int) or points_paid < 0:
        raise InvalidInput("Points paid are zero or more.", field="points_paid")
    if points_paid and member_id is None:
        raise InvalidInput("Points paid for a coupon come from a member.", field="member")
    if starts_at and expires_at and expires_at <= starts_at:
        raise InvalidInput("A coupon expires after it starts.", field="expires_at")
    if expires_at and expires_at <= timezone.now():
        raise InvalidInput("The expiry date is in the past.", field="expires_at")


def _issue(
    *,
    merchant: Merchant,
    contact: Contact,
    actor: Actor,
    label: str,
    type: str,
    value: Any,
    earning_method: str,
    usage_limit: int,
    minimum_order: Any,
    applies_to: dict[str, Any] | None,
    starts_at: datetime.datetime | None,
    expires_at: datetime.datetime | None,
    prefix: str,
    code: str | None,
    points_paid: int,
    member_id: int | None,
    reference: str,
    key: str,
    regenerated_from: Coupon | None = None,
) -> Coupon:
    _check_terms(
        merchant=merchant,
        contact=contact,
        earning_method=earning_method,
        usage_limit=usage_limit,
        points_paid=points_paid,
        member_id=member_id,
        starts_at=starts_at,
        expires_at=expires_at,
    )
    now = timezone.now()
    coupon = Coupon(
        merchant=merchant,
        contact=contact,
        member_id=member_id,
        label=_clean_label(label),
        type=type,
        value=_clean_value(type, value),
        usage_limit=usage_limit,
        minimum_order=None if minimum_order is None else _money(minimum_order, "minimum_order"),
        applies_to=clean_applies_to(applies_to),
        starts_at=starts_at,
        expires_at=expires_at,
        earning_method=earning_method,
        points_paid=points_paid,
        reference=(reference or "").strip()[:200],
        regenerated_from=regenerated_from,
        idempotency_key=key,
        prefix=clean_prefix(prefix),
        created_at=now,
        updated_at=now,
    )
    wanted = normalize_code(code) if code else ""
    if code is not None and not 4 <= len(wanted) <= 64:
        raise InvalidInput("A code has 4 to 64 characters.", field="code")
    for _ in range(1 if wanted else CODE_ATTEMPTS):
        coupon.code = wanted or coupon_code_generate(coupon.prefix, CODE_LENGTH)
        try:
            # A savepoint: a collision must not spoil the caller's transaction.
            with transaction.atomic():
                insert_row(coupon)  # fixed SQL (patron.lib.sql)
            break
        except IntegrityError:
            if key:
                # The same request, retried at the same moment, won the race.
                first = first_row(Coupon, {"merchant": merchant, "idempotency_key": key})
                if first is not None:
                    return _reload(merchant, first.pk)
            coupon.pk = None
    else:
        if wanted:
            raise CouponCodeTaken(field="code")
        raise Conflict("No free code was found; try again.")  # 10 collisions in a row
    coupon.issued_now = True
    events.coupon_issued(coupon=coupon, actor=actor)
    _sync_label_tag(
        merchant=merchant, contact=contact, label=coupon.label, actor=actor, issued=True
    )
    return coupon


@transaction.atomic
def coupon_issue(
    *,
    merchant: Merchant,
    contact: Contact,
    actor: Actor,
    label: str,
    type: str,
    value: Any,
    earning_method: str = EarningMethod.MANUAL,
    usage_limit: int = 1,
    minimum_order: Any = None,
    applies_to: dict[str, Any] | None = None,
    starts_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    prefix: str = "",
    points_paid: int = 0,
    member: Any = None,
    reference: str = "",
    code: str | None = None,
    idempotency_key: str | None = None,
) -> Coupon:
    """Issue a coupon to a contact; `member` is the loyalty member whose points paid."""
    key = _clean_key(idempotency_key)
    if key:
        first = first_row(Coupon, {"merchant": merchant, "idempotency_key": key})
        if first is not None:
            return _reload(merchant, first.pk)
    return _issue(
        merchant=merchant,
        contact=contact,
        actor=actor,
        label=label,
        type=type,
        value=value,
        earning_method=earning_method,
        usage_limit=usage_limit,
        minimum_order=minimum_order,
        applies_to=applies_to,
        starts_at=starts_at,
        expires_at=expires_at,
        prefix=prefix,
        code=code,
        points_paid=points_paid,
        member_id=member.pk if member is not None else None,
        reference=reference,
        key=key,
    )


# ---------------------------------------------------------------------------------------
# Issue in bulk

MAX_BULK_COUNT = 1_000_000
_COPY_CHUNK = 100_000


# Checks another app registers to refuse a bulk issue for a merchant (each raises a
# PatronError): the store sync, which creates one store discount per coupon event,
# refuses while it is on, since bulk-issued coupons have no per-coupon events.
BULK_ISSUE_GUARDS: list[Callable[[Merchant], None]] = []


def register_bulk_issue_guard(guard: Callable[[Merchant], None]) -> None:
    if guard not in BULK_ISSUE_GUARDS:
        BULK_ISSUE_GUARDS.append(guard)


@dataclass(frozen=True)
class BulkIssue:
    count: int
    label: str
    # Shared by every coupon of the batch, so they can be found (and deleted) together.
    reference: str
    # Codes that clashed with existing ones and were drawn again.
    redrawn: int


def _insert_codes(template: Coupon, codes: list[str]) -> int:
    """Insert one coupon per code, all alike but for the code; how many went in.

    A code another coupon of the merchant already has is left out, not an error: the
    unique constraint decides, and the caller draws replacements for the missing ones.
    """
    # In code order, each code lands beside the last one in the (merchant, code) unique
    # index instead of on a random page of it: a million rows went in about 1.5 s faster.
    codes = sorted(codes)
    fields = [f for f in Coupon._meta.concrete_fields if not f.primary_key and f.name != "code"]
    values = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    table = connection.ops.quote_name(Coupon._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(column) for column in ["code", *(f.attname for f in fields)]
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            row = ", ".join(["%s"] * (len(fields) + 1))
            insert = f"INSERT INTO {table} ({columns}) VALUES ({row}) ON CONFLICT DO NOTHING"  # noqa: S608
            cursor.executemany(insert, [[code, *values] for code in codes])
            return cursor.rowcount
        # PostgreSQL: the codes alone go in by COPY to a temporary table (no indexes, no
        # WAL), then one INSERT ... SELECT adds the columns every row shares; sending
        # only the codes keeps the client's work to a join of strings. The casts give a
        # NULL its column's type, which a bare parameter in a SELECT list lacks. A scan
        # of the fresh temporary table reads the rows in the order they were copied in
        # (sorted above); only the speed depends on it, not the result.
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS coupon_codes_new (code text) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE coupon_codes_new")
        with cursor.copy("COPY coupon_codes_new (code) FROM STDIN") as copy:
            for start in range(0, len(codes), _COPY_CHUNK):
                copy.write("\n".join(codes[start : start + _COPY_CHUNK]) + "\n")
        shared = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
        # Table and column names come from the model, the values are parameters.
        insert = f"INSERT INTO {table} ({columns}) SELECT code, {shared} FROM coupon_codes_new"  # noqa: S608
        for _ in range(CODE_ATTEMPTS):
            try:
                # A plain INSERT, not ON CONFLICT DO NOTHING, which costs about a third
                # more per row; a clash is rare, and the savepoint keeps the caller's
                # transaction usable when one happens.
                with transaction.atomic():
                    cursor.execute(insert, values)
                return cursor.rowcount
            except IntegrityError:
                cursor.execute(
                    f"DELETE FROM coupon_codes_new n USING {table} c "  # noqa: S608
                    "WHERE c.merchant_id = %s AND c.code = n.code",
                    [template.merchant_id],
                )
                if not cursor.rowcount:
                    raise  # not a code that is taken
        raise Conflict("No free codes were found; try again.")


@transaction.atomic
def coupons_issue_bulk(
    *,
    merchant: Merchant,
    contact: Contact,
    actor: Actor,
    count: int,
    label: str,
    type: str,
    value: Any,
    usage_limit: int = 1,
    minimum_order: Any = None,
    applies_to: dict[str, Any] | None = None,
    starts_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    prefix: str = "",
    reference: str = "",
) -> BulkIssue:
    """Issue `count` coupons with fresh random codes to one contact (a campaign's
    holder), all on the same terms: one transaction, all or none.

    The batch is recorded once on the contact's timeline (`coupon_bulk_issued`), not
    as an "issued" event per coupon: a million timeline rows, webhooks and workflow
    starts would be a flood, not a history.
    """
    if not isinstance(count, int) or not 1 <= count <= MAX_BULK_COUNT:
        raise InvalidInput(f"Issue 1 to {MAX_BULK_COUNT:,} coupons at once.", field="count")
    for guard in BULK_ISSUE_GUARDS:
        guard(merchant)
    _check_terms(
        merchant=merchant,
        contact=contact,
        earning_method=EarningMethod.MANUAL,
        usage_limit=usage_limit,
        points_paid=0,
        member_id=None,
        starts_at=starts_at,
        expires_at=expires_at,
    )
    now = timezone.now()
    reference = (reference or "").strip()[:200] or f"bulk:{secrets.token_hex(8)}"
    template = Coupon(
        merchant=merchant,
        contact=contact,
        label=_clean_label(label),
        type=type,
        value=_clean_value(type, value),
        usage_limit=usage_limit,
        minimum_order=None if minimum_order is None else _money(minimum_order, "minimum_order"),
        applies_to=clean_applies_to(applies_to),
        starts_at=starts_at,
        expires_at=expires_at,
        earning_method=EarningMethod.MANUAL,
        reference=reference,
        prefix=clean_prefix(prefix),
        created_at=now,
        updated_at=now,
    )
    issued = drawn = 0
    for _ in range(CODE_ATTEMPTS):
        wanted = count - issued
        if not wanted:
            break
        drawn += wanted
        codes = coupon_codes_generate(wanted, prefix=template.prefix, length=CODE_LENGTH)
        issued += _insert_codes(template, codes)
    redrawn = drawn - count
    if issued != count:
        raise Conflict("No free codes were found; try again.")  # 10 clashes in a row
    events.coupons_issued_in_bulk(coupon=template, actor=actor, count=count, redrawn=redrawn)
    _sync_label_tag(
        merchant=merchant, contact=contact, label=template.label, actor=actor, issued=True
    )
    return BulkIssue(count=count, label=template.label, reference=reference, redrawn=redrawn)


# ---------------------------------------------------------------------------------------
# Validate


@dataclass(frozen=True)
class CouponValidation:
    """Whether a code can be used on an order, and if not, why (a stable reason code)."""

    valid: bool
    reason: str | None
    message: str
    coupon: Coupon | None = None
    discount: Decimal | None = None
    free_shipping: bool = False


REFUSALS: dict[str, type[Conflict] | type[NotFound]] = {
    "not_found": CouponNotFound,
    "deleted": CouponNotAvailable,
    "used": CouponUsageLimitReached,
    "expired": CouponExpired,
    "not_started": CouponNotStarted,
    "below_minimum": CouponBelowMinimum,
    "not_applicable": CouponNotApplicable,
}

MESSAGES = {
    "not_found": "No coupon has this code.",
    "deleted": "This coupon was deleted.",
    "used": "This coupon has already been used.",
    "expired": "This coupon has expired.",
    "not_started": "This coupon cannot be used yet.",
    "below_minimum": "The order is below this coupon's minimum.",
    "not_applicable": "This coupon does not apply to the products in this order.",
}


def _state_refusal(coupon: Coupon, now: datetime.datetime) -> str | None:
    """Why the coupon itself (not the order) cannot be used now, or None."""
    if coupon.status == CouponStatus.DELETED:
        return "deleted"
    if coupon.status == CouponStatus.USED or coupon.usage_count >= coupon.usage_limit:
        return "used"
    if coupon.status == CouponStatus.EXPIRED or (
        coupon.expires_at is not None and coupon.expires_at <= now
    ):
        return "expired"
    if coupon.starts_at is not None and coupon.starts_at > now:
        return "not_started"
    return None


def _order_refusal(
    coupon: Coupon,
    order_total: Decimal | None,
    product_ids: list[str] | None,
    collection_ids: list[str] | None,
) -> str | None:
    """Why the order does not qualify; terms the caller did not send are not checked."""
    minimum = coupon.minimum_order
    if order_total is not None and minimum is not None and order_total < minimum:
        return "below_minimum"
    kind = coupon.applies_to.get("kind", AppliesTo.ALL)
    wanted = {str(i) for i in coupon.applies_to.get("ids", [])}
    ordered = {AppliesTo.PRODUCTS: product_ids, AppliesTo.COLLECTIONS: collection_ids}.get(kind)
    if ordered is not None and not wanted & {str(i) for i in ordered}:
        return "not_applicable"
    return None


def _discount(coupon: Coupon, order_total: Decimal | None) -> Decimal | None:
    if order_total is None:
        return None
    if coupon.type == CouponType.PERCENTAGE:
        return (order_total * coupon.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    if coupon.type == CouponType.FIXED_AMOUNT:
        return min(coupon.value, order_total)
    return Decimal("0.00")


def coupon_validate(
    *,
    merchant: Merchant,
    code: str,
    order_total: Any = None,
    product_ids: list[str] | None = None,
    collection_ids: list[str] | None = None,
) -> CouponValidation:
    """Can this code be used on this order? Reads only; `coupon_redeem` decides for real."""
    total = None if order_total is None else _money(order_total, "order_total")
    coupon = (
        Coupon.objects.select_related("contact")
        .filter(merchant=merchant, code=normalize_code(code))
        .first()
    )
    reason = "not_found" if coupon is None else _state_refusal(coupon, timezone.now())
    if coupon is not None and reason is None:
        reason = _order_refusal(coupon, total, product_ids, collection_ids)
    if reason is not None:
        return CouponValidation(valid=False, reason=reason, message=MESSAGES[reason], coupon=coupon)
    assert coupon is not None
    return CouponValidation(
        valid=True,
        reason=None,
        message="The coupon can be used on this order.",
        coupon=coupon,
        discount=_discount(coupon, total),
        free_shipping=coupon.type == CouponType.FREE_SHIPPING,
    )


def _refuse(reason: str) -> Exception:
    return REFUSALS[reason](MESSAGES[reason], reason=reason)


# ---------------------------------------------------------------------------------------
# Redeem and roll back


def _replayed(merchant: Merchant, key: str, coupon: Coupon, type: CouponEventType) -> Coupon | None:
    if not key:
        return None
    first = first_row(CouponEvent, {"merchant": merchant, "idempotency_key": key})
    if first is None:
        return None
    if first.coupon_id != coupon.pk or first.type != type:
        raise IdempotencyKeyReused(field="idempotency_key")
    return _reload(merchant, coupon.pk)


@transaction.atomic
def coupon_redeem(
    *,
    merchant: Merchant,
    coupon: Coupon,
    actor: Actor,
    order_reference: str,
    order_total: Any = None,
    product_ids: list[str] | None = None,
    collection_ids: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Coupon:
    """Use the coupon on an order: one more use, `used` once the limit is reached."""
    key = _clean_key(idempotency_key)
    order_reference = (order_reference or "").strip()[:200]
    if not order_reference:
        raise InvalidInput("Say which order used the coupon.", field="order_reference")
    total = None if order_total is None else _money(order_total, "order_total")
    replay = _replayed(merchant, key, coupon, CouponEventType.USED)
    if replay is not None:
        return replay
    current = _reload(merchant, coupon.pk)
    reason = _order_refusal(current, total, product_ids, collection_ids)
    if reason:
        raise _refuse(reason)
    now = timezone.now()
    try:
        with transaction.atomic():
            # The whole decision is this one statement: the database re-checks the
            # WHERE on the latest row version, so of 50 simultaneous uses of a
            # single-use code exactly one matches. Reading first and writing after
            # would let several pass.
            used = (
                Coupon.objects.filter(
                    merchant=merchant,
                    pk=coupon.pk,
                    status=CouponStatus.AVAILABLE,
                    usage_count__lt=F("usage_limit"),
                )
                .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .update(
                    usage_count=F("usage_count") + 1,
                    # SET expressions see the row before the update.
                    status=Case(
                        When(
                            usage_count__gte=F("usage_limit") - 1,
                            then=Value(CouponStatus.USED.value),
                        ),
                        default=Value(CouponStatus.AVAILABLE.value),
                    ),
                    used_at=now,
                    last_order_reference=order_reference,
                    updated_at=now,
                )
            )
            if used != 1:
                current = _reload(merchant, coupon.pk)
                raise _refuse(_state_refusal(current, now) or "used")
            current = _reload(merchant, coupon.pk)
            events.coupon_used(
                coupon=current, actor=actor, order_reference=order_reference, idempotency_key=key
            )
    except (IntegrityError, CouponUsageLimitReached):
        # A retry with the same key that ran at the same moment as the first.
        replay = _replayed(merchant, key, coupon, CouponEventType.USED)
        if replay is not None:
            return replay
        raise
    if current.status != CouponStatus.AVAILABLE:
        _sync_label_tag(
            merchant=merchant, contact=current.contact, label=current.label, actor=actor
        )
    return current


def _uses_left_to_roll_back(coupon: Coupon, order_reference: str) -> int:
    history = CouponEvent.objects.filter(
        merchant=coupon.merchant, coupon=coupon, data__order_reference=order_reference
    )
    uses = history.filter(type=CouponEventType.USED).count()
    return uses - history.filter(type=CouponEventType.ROLLED_BACK).count()


@transaction.atomic
def coupon_rollback(
    *,
    merchant: Merchant,
    coupon: Coupon,
    actor: Actor,
    order_reference: str = "",
    reason: str = "",
    idempotency_key: str | None = None,
) -> Coupon:
    """Undo one use (the order was cancelled): usage count and status return."""
    key = _clean_key(idempotency_key)
    replay = _replayed(merchant, key, coupon, CouponEventType.ROLLED_BACK)
    if replay is not None:
        return replay
    # The row lock makes the "was it used on this order" check and the write one step.
    current = _reload(merchant, coupon.pk, lock=True)
    if current.status == CouponStatus.DELETED:
        raise CouponNotAvailable("A deleted coupon cannot be rolled back.")
    if current.usage_count == 0:
        raise CouponNotUsed()
    order_reference = (order_reference or "").strip()[:200] or current.last_order_reference
    if order_reference and _uses_left_to_roll_back(current, order_reference) <= 0:
        raise CouponNotUsed("This coupon was not used on that order.", field="order_reference")
    now = timezone.now()
    expired = current.expires_at is not None and current.expires_at <= now
    remaining = current.usage_count - 1
    Coupon.objects.filter(merchant=merchant, pk=current.pk, usage_count__gt=0).update(
        usage_count=F("usage_count") - 1,
        status=CouponStatus.EXPIRED if expired else CouponStatus.AVAILABLE,
        used_at=current.used_at if remaining else None,
        last_order_reference=current.last_order_reference if remaining else "",
        updated_at=now,
    )
    current = _reload(merchant, current.pk)
    events.coupon_rolled_back(
        coupon=current,
        actor=actor,
        order_reference=order_reference,
        reason=(reason or "").strip()[:500],
        idempotency_key=key,
    )
    _sync_label_tag(merchant=merchant, contact=current.contact, label=current.label, actor=actor)
    return current


# ---------------------------------------------------------------------------------------
# Delete, regenerate


def _refund(*, merchant: Merchant, coupon: Coupon, actor: Actor, reason: str) -> str:
    """Give the coupon's points back to the member who paid; the ledger entry's id."""
    from patron.loyalty import services as loyalty_services
    from patron.loyalty.models import Member

    member = None
    if coupon.member_id is not None:
        member = Member.objects.filter(merchant=merchant, pk=coupon.member_id).first()
    if member is None:
        raise CouponRefundNotPossible("The member who paid for this coupon no longer exists.")
    entry = loyalty_services.points_return(
        merchant=merchant,
        member=member,
        amount=coupon.points_paid,
        actor=actor,
        reason=f"Coupon {coupon.code} deleted: {reason}"[:500],
        reference=f"coupon:{coupon.pk}",
        idempotency_key=f"coupon-refund:{coupon.pk}",
    )
    return str(entry.pk)


def _mark_deleted(coupon: Coupon, actor: Actor, reason: str) -> None:
    now = timezone.now()
    coupon.status = CouponStatus.DELETED
    coupon.deleted_at = now
    coupon.deleted_by = actor.label[:200]
    coupon.delete_reason = reason[:500]
    coupon.updated_at = now


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the coupon is deleted.", field="reason")
    return reason[:500]


@transaction.atomic
def coupon_delete(
    *, merchant: Merchant, coupon: Coupon, actor: Actor, reason: str, refund_points: bool = False
) -> Coupon:
    """Delete with a reason; with `refund_points`, the points that paid for it go back.

    Whether or not points are refunded, the deletion event says how many points paid
    for the coupon and how many came back, so the timeline explains the balance.
    """
    reason = _clean_reason(reason)
    current = _reload(merchant, coupon.pk, lock=True)
    if current.status == CouponStatus.DELETED:
        return current
    if current.status == CouponStatus.USED:
        raise CouponNotAvailable("A used coupon cannot be deleted; roll back its use first.")
    ledger_entry_id = ""
    if refund_points and current.points_paid:
        if current.usage_count:
            raise CouponRefundNotPossible("A coupon that was used cannot be refunded.")
        ledger_entry_id = _refund(merchant=merchant, coupon=current, actor=actor, reason=reason)
        current.points_refunded = current.points_paid
    _mark_deleted(current, actor, reason)
    current.save()
    events.coupon_deleted(
        coupon=current,
        actor=actor,
        reason=reason,
        refund_requested=refund_points,
        ledger_entry_id=ledger_entry_id,
    )
    _sync_label_tag(merchant=merchant, contact=current.contact, label=current.label, actor=actor)
    return current


@transaction.atomic
def coupon_regenerate(
    *,
    merchant: Merchant,
    coupon: Coupon,
    actor: Actor,
    reason: str = "Delete and generate new",
    type: str | None = None,
    value: Any = None,
    idempotency_key: str | None = None,
) -> Coupon:
    """Delete and generate new: the old code is deleted, a new one has the same terms.

    Seed 002: when a customer got the wrong discount, staff correct it in the same step,
    so `type` and `value` may be given to replace the old ones. Points that paid for the
    old coupon now stand behind the new one (no refund).
    """
    key = _clean_key(idempotency_key)
    if key:
        first = first_row(Coupon, {"merchant": merchant, "idempotency_key": key})
        if first is not None:
            if first.regenerated_from_id != coupon.pk:
                raise IdempotencyKeyReused(field="idempotency_key")
            return _reload(merchant, first.pk)
    reason = _clean_reason(reason)
    old = _reload(merchant, coupon.pk, lock=True)
    if old.status != CouponStatus.AVAILABLE or old.usage_count:
        raise CouponNotAvailable("Only an available, unused coupon can be regenerated.")
    _mark_deleted(old, actor, reason)
    old.save()
    events.coupon_deleted(
        coupon=old, actor=actor, reason=reason, refund_requested=False, ledger_entry_id=""
    )
    new = _issue(
        merchant=merchant,
        contact=old.contact,
        actor=actor,
        label=old.label,
        type=type or old.type,
        value=old.value if value is None else value,
        earning_method=old.earning_method,
        usage_limit=old.usage_limit,
        minimum_order=old.minimum_order,
        applies_to=old.applies_to,
        starts_at=old.starts_at,
        expires_at=old.expires_at,
        prefix=old.prefix,
        code=None,
        points_paid=old.points_paid,
        member_id=old.member_id,
        reference=old.reference,
        key=key,
        regenerated_from=old,
    )
    events.coupon_regenerated(coupon=old, actor=actor, new_coupon=new)
    return new


# ---------------------------------------------------------------------------------------
# Expiry, and history written by other apps


@transaction.atomic
def coupons_expire(
    *,
    merchant: Merchant,
    actor: Actor = SYSTEM,
    now: datetime.datetime | None = None,
    limit: int = 500,
) -> int:
    """Mark available coupons past their expiry as expired; how many were."""
    now = now or timezone.now()
    due = list(
        Coupon.objects.filter(merchant=merchant, status=CouponStatus.AVAILABLE, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in due:
        # Conditional, so a coupon used a moment ago is not turned to "expired".
        changed = Coupon.objects.filter(
            merchant=merchant, pk=pk, status=CouponStatus.AVAILABLE, expires_at__lte=now
        ).update(status=CouponStatus.EXPIRED, updated_at=now)
        if not changed:
            continue
        coupon = _reload(merchant, pk)
        events.coupon_expired(coupon=coupon, actor=actor)
        _sync_label_tag(merchant=merchant, contact=coupon.contact, label=coupon.label, actor=actor)
        expired += 1
    return expired


@transaction.atomic
def coupon_record_sent(
    *, merchant: Merchant, coupon: Coupon, actor: Actor, channel: str, to: str = ""
) -> Coupon:
    """Note in the coupon's history that its code was sent (SMS, email)."""
    current = _reload(merchant, coupon.pk)
    events.coupon_sent(coupon=current, actor=actor, channel=channel, to=to)
    return current


@transaction.atomic
def coupon_record_synced(
    *, merchant: Merchant, coupon: Coupon, actor: Actor, platform: str, external_id: str = ""
) -> Coupon:
    """Note that the code was created in a store platform (e.g. Shopify)."""
    current = _reload(merchant, coupon.pk)
    events.coupon_synced(coupon=current, actor=actor, platform=platform, external_id=external_id)
    return current


@transaction.atomic
def coupons_delete_by_label(
    *,
    merchant: Merchant,
    contact: Contact,
    label: str,
    actor: Actor,
    reason: str,
    refund_points: bool = False,
) -> list[Coupon]:
    """Removing a coupon chip (X, then Save, seed 000): delete the contact's available
    coupons with that label."""
    found = Coupon.objects.filter(
        merchant=merchant,
        contact=contact,
        label__iexact=" ".join((label or "").split()),
        status=CouponStatus.AVAILABLE,
    ).order_by("pk")
    deleted = [
        coupon_delete(
            merchant=merchant,
            coupon=coupon,
            actor=actor,
            reason=reason,
            refund_points=refund_points,
        )
        for coupon in found
    ]
    if not deleted:
        raise CouponNotFound("The contact has no available coupon with this label.")
    return deleted
