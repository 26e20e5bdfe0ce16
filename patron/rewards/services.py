"""Writes to the rewards catalog, and claims: points out and a coupon in, or neither.

A claim runs in one transaction: the coupon is issued through the coupons app, then,
under the member's row lock, the points are taken from the ledger and the stock (if
any) is decremented with a conditional UPDATE. Any refusal on the way rolls back all
three.
"""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from patron.audit.services import audit_record, snapshot
from patron.coupons import services as coupon_services
from patron.coupons.models import AppliesTo, Coupon, CouponType, EarningMethod
from patron.lib.actors import Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.keys import derived_key
from patron.lib.memo import shared_reads
from patron.lib.sql import first_row, insert_row
from patron.loyalty import selectors as loyalty_selectors
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerSource, Member
from patron.rewards import events, selectors
from patron.rewards.models import Redemption, Reward, RewardKind
from patron.tenants.models import Merchant


class RewardNotFound(NotFound):
    code = "reward_not_found"
    title = "No such reward"


class RewardNotAvailable(Conflict):
    code = "reward_not_available"
    title = "This reward is not on offer now"


class RewardOutOfStock(Conflict):
    code = "reward_out_of_stock"
    title = "This reward is out of stock"


class MemberHasNoContact(Conflict):
    code = "member_has_no_contact"
    title = "This member no longer belongs to a contact, so no coupon can be issued to it"


# How each reward kind becomes a coupon (custom rewards are handed over by staff).
COUPON_TYPES = {
    RewardKind.PERCENTAGE: CouponType.PERCENTAGE,
    RewardKind.FIXED_AMOUNT: CouponType.FIXED_AMOUNT,
    RewardKind.FREE_SHIPPING: CouponType.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: CouponType.PERCENTAGE,
}


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput("This is not a number.", field=field) from exc
    if number < 0 or not number.is_finite():
        raise InvalidInput("The value is zero or more.", field=field)
    return number


@transaction.atomic
def reward_create(
    *,
    merchant: Merchant,
    actor: Actor,
    name: str,
    kind: str,
    points_cost: int,
    value: Any = 0,
    description: str = "",
    coupon_label: str = "",
    coupon_prefix: str = "",
    coupon_valid_days: int | None = None,
    minimum_order: Any = None,
    product_ids: list[str] | None = None,
    starts_at: datetime.datetime | None = None,
    ends_at: datetime.datetime | None = None,
    stock: int | None = None,
    is_active: bool = True,
) -> Reward:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("A reward name has 1 to 100 characters.", field="name")
    if kind not in RewardKind.values:
        raise InvalidInput(f"The kind is one of {', '.join(RewardKind.values)}.", field="kind")
    if not isinstance(points_cost, int) or points_cost < 1:
        raise InvalidInput("A reward costs at least 1 point.", field="points_cost")
    amount = _decimal(value, "value")
    if kind == RewardKind.PERCENTAGE and not Decimal(0) < amount <= Decimal(100):
        raise InvalidInput("A percentage is above 0 and at most 100.", field="value")
    if kind == RewardKind.FIXED_AMOUNT and amount <= 0:
        raise InvalidInput("A fixed amount is above zero.", field="value")
    if kind == RewardKind.FREE_PRODUCT and not product_ids:
        raise InvalidInput("Name the product(s) the reward makes free.", field="product_ids")
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidInput("The end comes after the start.", field="ends_at")
    if stock is not None and stock < 0:
        raise InvalidInput("Stock is zero or more.", field="stock")
    return Reward.objects.create(
        merchant=merchant,
        name=name,
        description=(description or "").strip(),
        kind=kind,
        value=amount,
        points_cost=points_cost,
        coupon_label=(coupon_label or "").strip()[:100],
        coupon_prefix=(coupon_prefix or "").strip()[:12],
        coupon_valid_days=coupon_valid_days,
        minimum_order=None if minimum_order is None else _decimal(minimum_order, "minimum_order"),
        product_ids=[str(p) for p in product_ids or []],
        starts_at=starts_at,
        ends_at=ends_at,
        stock=stock,
        is_active=is_active,
    )


def _on_offer(merchant: Merchant, reward: Reward) -> Reward:
    """The reward as it is now, if it is on offer: the caller's copy may be older than an
    edit of its offer, cost or stock (or be only its key, as the API's is)."""
    if reward.merchant_id is not None and reward.merchant_id != merchant.pk:
        raise RewardNotFound(field="reward_id")
    current = selectors.reward_get(merchant, reward.pk)
    if current is None:
        raise RewardNotFound(field="reward_id")
    if not selectors.is_on_offer(current, timezone.now()):
        if current.stock == 0:
            raise RewardOutOfStock(field="reward_id")
        raise RewardNotAvailable(field="reward_id")
    return current


def _issue_coupon(
    *, merchant: Merchant, member: Member, reward: Reward, actor: Actor, key: str | None
) -> Coupon:
    contact = member.linked_contact
    if contact is None:
        raise MemberHasNoContact()
    applies_to = None
    value = reward.value
    if reward.kind == RewardKind.FREE_PRODUCT:
        applies_to = {"kind": AppliesTo.PRODUCTS.value, "ids": reward.product_ids}
        value = Decimal(100)
    elif reward.kind == RewardKind.FREE_SHIPPING:
        value = Decimal(0)
    expires_at = (
        timezone.now() + datetime.timedelta(days=reward.coupon_valid_days)
        if reward.coupon_valid_days
        else None
    )
    return coupon_services.coupon_issue(
        merchant=merchant,
        contact=contact,
        actor=actor,
        label=reward.coupon_label or reward.name,
        type=COUPON_TYPES[RewardKind(reward.kind)],
        value=value,
        earning_method=EarningMethod.LOYALTY,
        minimum_order=reward.minimum_order,
        applies_to=applies_to,
        expires_at=expires_at,
        prefix=reward.coupon_prefix,
        points_paid=reward.points_cost,
        member=member,
        reference=f"reward:{reward.pk}",
        idempotency_key=derived_key(key, prefix="claim:") if key else None,
    )


@transaction.atomic
def reward_claim(
    *,
    merchant: Merchant,
    member: Member,
    reward: Reward,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Redemption:
    """ "Claim Reward": the points leave the ledger and the coupon is issued, together.

    The member's lock orders the claims of one member, and every claim of that member
    waits for it until the holder commits, so the lock is taken as late as it can be:
    the checks, the coupon (rows of their own, which no other claim touches) and the
    reads of the program and tiers come first, and only the points, the stock and the
    redemption row are written under it.
    """
    with shared_reads():
        if idempotency_key:
            first = _claimed(merchant, idempotency_key)
            if first is not None:
                return first
        reward = _on_offer(merchant, reward)
        coupon = None
        if reward.kind != RewardKind.CUSTOM:
            # A retry with the same key that runs at the same moment waits on the coupon's
            # own key until this claim ends, then finds its coupon and, below, its
            # redemption. A coupon inserted just now means no claim with this key has
            # committed (it would have committed its coupon too): nothing to look for.
            coupon = _issue_coupon(
                merchant=merchant, member=member, reward=reward, actor=actor, key=idempotency_key
            )
            if idempotency_key and not coupon.issued_now:
                first = _claimed(merchant, idempotency_key)
                if first is not None:
                    return first
        loyalty_selectors.share_settings(merchant)
        member = loyalty_services.member_lock(merchant=merchant, member=member)
        if idempotency_key and coupon is None:
            # Without a coupon, the member's lock is what orders two claims of one key.
            first = _claimed(merchant, idempotency_key)
            if first is not None:
                return first
        return _claim_locked(
            merchant=merchant,
            member=member,
            reward=reward,
            coupon=coupon,
            actor=actor,
            idempotency_key=idempotency_key,
        )


def _claim_locked(
    *,
    merchant: Merchant,
    member: Member,
    reward: Reward,
    coupon: Coupon | None,
    actor: Actor,
    idempotency_key: str | None,
) -> Redemption:
    """The claim's writes under the member's lock: points, stock, redemption."""
    if coupon is not None:
        contact = member.linked_contact
        if contact is None or contact.pk != coupon.contact_id:
            raise MemberHasNoContact()  # the phone moved to another contact meanwhile
    entry = loyalty_services.points_redeem_locked(
        merchant=merchant,
        member=member,
        amount=reward.points_cost,
        actor=actor,
        reason=f"Reward: {reward.name}",
        source=LedgerSource.REWARD,
        reference=f"reward:{reward.pk}",
        idempotency_key=derived_key(idempotency_key, prefix="claim:") if idempotency_key else None,
    )
    if reward.stock is not None:
        # Conditional UPDATE: the row count says whether this claim got a unit.
        taken = Reward.objects.filter(merchant=merchant, pk=reward.pk, stock__gt=0).update(
            stock=F("stock") - 1
        )
        if not taken:
            raise RewardOutOfStock(field="reward_id")
    redemption = Redemption(
        merchant=merchant,
        member=member,
        reward=reward,
        points=reward.points_cost,
        entry=entry,
        coupon=coupon,
        reward_kind=reward.kind,
        reward_value=reward.value,
        idempotency_key=idempotency_key or "",
    )
    redemption.set_actor(actor)
    insert_row(redemption)
    events.reward_claimed(redemption=redemption, actor=actor)
    return redemption


def _claimed(merchant: Merchant, key: str) -> Redemption | None:
    return first_row(
        Redemption,
        {"merchant": merchant, "idempotency_key": key},
        related=("coupon", "reward", "member"),
    )


@transaction.atomic
def redemption_manual(
    *,
    merchant: Merchant,
    member: Member,
    points: int,
    note: str,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Redemption:
    """ "Redeem Points Manually": a typed amount and a note, no reward, no coupon."""
    member = loyalty_services.member_lock(merchant=merchant, member=member)
    if idempotency_key:
        first = _claimed(merchant, idempotency_key)
        if first is not None:
            return first
    entry = loyalty_services.points_redeem_manual(
        merchant=merchant,
        member=member,
        amount=points,
        note=note,
        actor=actor,
        idempotency_key=derived_key(idempotency_key, prefix="manual:") if idempotency_key else None,
    )
    redemption = Redemption(
        merchant=merchant,
        # The copy points_redeem locked and changed, with the balance after this row.
        member=entry.member,
        points=points,
        note=entry.reason,
        entry=entry,
        idempotency_key=idempotency_key or "",
    )
    redemption.set_actor(actor)
    redemption.save()
    return redemption


# --- editing and ending rewards -----------------------------------------------------------

REWARD_FIELDS = {
    "name",
    "description",
    "kind",
    "value",
    "points_cost",
    "coupon_label",
    "coupon_prefix",
    "coupon_valid_days",
    "minimum_order",
    "product_ids",
    "starts_at",
    "ends_at",
    "stock",
}


def _check_reward(reward: Reward) -> None:
    """The rules reward_create applies, on a reward's new terms."""
    if not reward.name or len(reward.name) > 100:
        raise InvalidInput("A reward name has 1 to 100 characters.", field="name")
    if reward.kind not in RewardKind.values:
        raise InvalidInput(f"The kind is one of {', '.join(RewardKind.values)}.", field="kind")
    if not isinstance(reward.points_cost, int) or reward.points_cost < 1:
        raise InvalidInput("A reward costs at least 1 point.", field="points_cost")
    if reward.kind == RewardKind.PERCENTAGE and not Decimal(0) < reward.value <= Decimal(100):
        raise InvalidInput("A percentage is above 0 and at most 100.", field="value")
    if reward.kind == RewardKind.FIXED_AMOUNT and reward.value <= 0:
        raise InvalidInput("A fixed amount is above zero.", field="value")
    if reward.kind == RewardKind.FREE_PRODUCT and not reward.product_ids:
        raise InvalidInput("Name the product(s) the reward makes free.", field="product_ids")
    if reward.starts_at and reward.ends_at and reward.ends_at <= reward.starts_at:
        raise InvalidInput("The end comes after the start.", field="ends_at")
    if reward.stock is not None and reward.stock < 0:
        raise InvalidInput("Stock is zero or more.", field="stock")
    if reward.coupon_valid_days is not None and reward.coupon_valid_days < 1:
        raise InvalidInput("A coupon is valid at least 1 day.", field="coupon_valid_days")


def _clean_field(name: str, value: Any) -> Any:
    if name == "name":
        return " ".join((value or "").split())
    if name in {"description", "coupon_label", "coupon_prefix"}:
        limit = {"description": None, "coupon_label": 100, "coupon_prefix": 12}[name]
        return (value or "").strip()[:limit]
    if name == "minimum_order" and value is None:
        return None
    if name in {"value", "minimum_order"}:
        return _decimal(value, name)
    if name == "product_ids":
        return [str(p) for p in value or []]
    return value


def _locked_reward(merchant: Merchant, reward: Reward) -> Reward:
    locked = Reward.objects.select_for_update().filter(merchant=merchant, pk=reward.pk).first()
    if locked is None:
        raise RewardNotFound(field="reward_id")
    return locked


@transaction.atomic
def reward_update(*, merchant: Merchant, reward: Reward, actor: Actor, **fields: Any) -> Reward:
    """Change a reward's terms. Coupons already issued keep the terms they were issued
    with; only later claims get the new ones."""
    unknown = set(fields) - REWARD_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown reward fields: {', '.join(sorted(unknown))}.")
    reward = _locked_reward(merchant, reward)
    before = snapshot(reward)
    for name, value in fields.items():
        setattr(reward, name, _clean_field(name, value))
    _check_reward(reward)
    reward.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="rewards.reward_update",
        obj=reward,
        before=before,
        after=snapshot(reward),
    )
    return reward


@transaction.atomic
def reward_end(*, merchant: Merchant, reward: Reward, actor: Actor, reason: str) -> Reward:
    """End a reward: it leaves the catalog and no one can claim it any more. Coupons
    already issued for it stay valid, and past redemptions keep pointing at it."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the reward ends.", field="reason")
    reward = _locked_reward(merchant, reward)
    before = snapshot(reward)
    now = timezone.now()
    reward.is_active = False
    if reward.ends_at is None or reward.ends_at > now:
        reward.ends_at = now
    if reward.starts_at and reward.starts_at >= reward.ends_at:
        reward.starts_at = None
    reward.save(update_fields=["is_active", "ends_at", "starts_at"])
    audit_record(
        merchant=merchant,
        actor=actor,
        action="rewards.reward_end",
        obj=reward,
        before=before,
        after={**(snapshot(reward) or {}), "reason": reason[:500]},
    )
    return reward


@transaction.atomic
def reward_reopen(*, merchant: Merchant, reward: Reward, actor: Actor, reason: str) -> Reward:
    """Offer an ended reward again, with no end date: members can claim it from now on."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the reward is offered again.", field="reason")
    reward = _locked_reward(merchant, reward)
    before = snapshot(reward)
    reward.is_active = True
    reward.ends_at = None
    reward.save(update_fields=["is_active", "ends_at"])
    audit_record(
        merchant=merchant,
        actor=actor,
        action="rewards.reward_reopen",
        obj=reward,
        before=before,
        after={**(snapshot(reward) or {}), "reason": reason[:500]},
    )
    return reward
