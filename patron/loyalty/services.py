"""Writes to the loyalty program: members, points and tiers.

Every points change follows the same steps, inside one transaction:
1. lock the member row (`select_for_update`; two members in primary-key order), so no
   two writers read the same balance. Checking the balance first and locking later
   would let two claims both see enough points (check-then-act).
2. settle the member's lots: pending lots that are due become available, expired lots
   are written off, so the balance read next is the true one;
3. write the ledger row and its lot (adding) or consume lots (taking), and change the
   cached balances in the same transaction;
4. re-evaluate the tier and record the events.
On SQLite `select_for_update` is a no-op; there the IMMEDIATE transactions of
settings.py serialize writers instead.
"""

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.contacts.models import Contact, ContactSource
from patron.contacts.privacy import phone_was_erased
from patron.lib.actors import SYSTEM, Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.keys import derived_key
from patron.lib.sql import any_row, first_row, insert_row, rows, update_rows
from patron.loyalty import events, selectors
from patron.loyalty.models import (
    DowngradePolicy,
    ExpiryPeriod,
    ExpiryPolicy,
    LedgerEntry,
    LedgerKind,
    LedgerSource,
    LoyaltyProgram,
    Member,
    MemberStatus,
    PointCategory,
    PointLot,
    Tier,
)
from patron.tenants.models import Merchant

# Seed 004: customers that arrive from a POS or a store with a phone become members.
AUTO_MEMBER_SOURCES = {ContactSource.POS, ContactSource.SHOPIFY, ContactSource.IMPORT}
DEFAULT_CATEGORIES = [
    ("Purchase", "#2563eb"),
    ("Referral", "#16a34a"),
    ("Review", "#f59e0b"),
    ("Birthday", "#db2777"),
    ("Bonus", "#7c3aed"),
]
MAX_POINTS = 100_000_000


class MemberNotActive(Conflict):
    code = "member_not_active"
    title = "This member is not active in the loyalty program"


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    title = "The member does not have enough points"


class MemberStillLinked(Conflict):
    code = "member_still_linked"
    title = (
        "This member still belongs to a contact with this phone number. "
        'Use "Remove from program" instead, or delete the contact or change its phone first.'
    )


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "No such member"


class ContactHasNoPhone(InvalidInput):
    code = "contact_has_no_phone"
    title = "A member needs a phone number; this contact has none"


class NameTaken(Conflict):
    code = "name_taken"
    title = "This name is already used"


# --- program, categories, tiers -------------------------------------------------------


@transaction.atomic
def program_install_defaults(*, merchant: Merchant) -> LoyaltyProgram:
    """The program and the default point categories of a new merchant; safe to re-run.

    Opens the merchant's scope itself: merchant creation runs outside any scope.
    """
    with scope(merchant=merchant):
        program, _ = LoyaltyProgram.objects.get_or_create(merchant=merchant)
        for position, (name, color) in enumerate(DEFAULT_CATEGORIES):
            PointCategory.objects.get_or_create(
                merchant=merchant, name=name, defaults={"color": color, "position": position}
            )
    return program


PROGRAM_FIELDS = {
    "points_name",
    "earn_per_currency_unit",
    "signup_bonus",
    "birthday_bonus",
    "pending_days",
    "expiry_policy",
    "expiry_days",
    "expiry_period",
    "tier_basis",
    "tier_window_days",
    "downgrade_policy",
    "manual_tier_days",
    "activate_on_create",
    "cancelled_order_reward_points",
}


@transaction.atomic
def program_update(*, merchant: Merchant, actor: Actor, **fields: Any) -> LoyaltyProgram:
    unknown = set(fields) - PROGRAM_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown program settings: {', '.join(sorted(unknown))}.")
    program, _ = LoyaltyProgram.objects.select_for_update().get_or_create(merchant=merchant)
    for name, value in fields.items():
        setattr(program, name, value)
    program.updated_at = timezone.now()
    program.full_clean(exclude=["merchant"])
    program.save()
    return program


def _clean_color(color: str) -> str:
    color = (color or "").strip()
    if len(color) != 7 or not color.startswith("#"):
        raise InvalidInput("A colour is written #rrggbb.", field="color")
    try:
        int(color[1:], 16)
    except ValueError as exc:
        raise InvalidInput("A colour is written #rrggbb.", field="color") from exc
    return color.lower()


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise InvalidInput("A name has 1 to 60 characters.", field="name")
    return name


def _save_named(row: Any) -> None:
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise NameTaken(field="name") from exc


@transaction.atomic
def point_category_create(
    *, merchant: Merchant, name: str, color: str, actor: Actor
) -> PointCategory:
    position = PointCategory.objects.filter(merchant=merchant).count()
    category = PointCategory(
        merchant=merchant, name=_clean_name(name), color=_clean_color(color), position=position
    )
    _save_named(category)
    return category


@transaction.atomic
def tier_create(
    *,
    merchant: Merchant,
    name: str,
    threshold: int,
    actor: Actor,
    color: str = "#64748b",
    benefits: str = "",
    earn_multiplier: Decimal = Decimal(1),
) -> Tier:
    if threshold < 0:
        raise InvalidInput("A threshold is zero or more.", field="threshold")
    if earn_multiplier <= 0 or earn_multiplier > 100:
        raise InvalidInput(
            "The earning multiplier is above 0 and at most 100.", field="earn_multiplier"
        )
    tier = Tier(
        merchant=merchant,
        name=_clean_name(name),
        threshold=threshold,
        color=_clean_color(color),
        benefits=(benefits or "").strip(),
        earn_multiplier=earn_multiplier,
    )
    _save_named(tier)
    return tier


# --- editing and removing categories and tiers ------------------------------------------


class PointCategoryInUse(Conflict):
    code = "point_category_in_use"
    title = (
        "Points were already given in this category, so it cannot be deleted. "
        "Archive it instead: the history keeps it and Give Points stops offering it."
    )


class PointCategoryArchived(InvalidInput):
    code = "point_category_archived"
    title = "This point category is archived. Restore it in Settings to give points in it."


class TierSetByHand(Conflict):
    code = "tier_set_by_hand"
    title = (
        "Some members were given this tier by hand, so it cannot be deleted. "
        'Move them to another tier with "Adjust points and tier" first.'
    )


def _settings_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", field="reason")
    return reason[:500]


def _settings_audit(
    merchant: Merchant, actor: Actor, action: str, row: Any, before: Any, **extra: Any
) -> None:
    from patron.audit.services import audit_record, snapshot

    after = snapshot(row) if row.pk is not None else None
    if extra:
        after = {**(after or {}), **extra}
    audit_record(merchant=merchant, actor=actor, action=action, obj=row, before=before, after=after)


def _locked_category(merchant: Merchant, category: PointCategory) -> PointCategory:
    found = PointCategory.objects.select_for_update().filter(merchant=merchant, pk=category.pk)
    locked = found.first()
    if locked is None:
        raise NotFound("No such point category.", field="category")
    return locked


@transaction.atomic
def point_category_update(
    *, merchant: Merchant, category: PointCategory, name: str, color: str, actor: Actor
) -> PointCategory:
    from patron.audit.services import snapshot

    category = _locked_category(merchant, category)
    before = snapshot(category)
    category.name = _clean_name(name)
    category.color = _clean_color(color)
    _save_named(category)
    _settings_audit(merchant, actor, "loyalty.point_category_update", category, before)
    return category


@transaction.atomic
def point_category_archive(
    *, merchant: Merchant, category: PointCategory, actor: Actor, reason: str, archived: bool = True
) -> PointCategory:
    """Archive (or bring back) a category: its history stays, Give Points hides it."""
    from patron.audit.services import snapshot

    reason = _settings_reason(reason)
    category = _locked_category(merchant, category)
    before = snapshot(category)
    category.archived_at = (category.archived_at or timezone.now()) if archived else None
    category.save(update_fields=["archived_at"])
    action = "loyalty.point_category_archive" if archived else "loyalty.point_category_restore"
    _settings_audit(merchant, actor, action, category, before, reason=reason)
    return category


@transaction.atomic
def point_category_delete(
    *, merchant: Merchant, category: PointCategory, actor: Actor, reason: str
) -> None:
    """Delete a category nobody used yet; a used one is refused (archive it instead)."""
    from patron.audit.services import audit_record, snapshot

    reason = _settings_reason(reason)
    category = _locked_category(merchant, category)
    used = LedgerEntry.objects.filter(merchant=merchant, category=category).count()
    if used:
        raise PointCategoryInUse(field="category", entries=used)
    before = snapshot(category)
    pk = category.pk
    category.delete()
    category.pk = pk
    audit_record(
        merchant=merchant,
        actor=actor,
        action="loyalty.point_category_delete",
        obj=category,
        before=before,
        after={"reason": reason},
    )


def _locked_tier(merchant: Merchant, tier: Tier) -> Tier:
    locked = Tier.objects.select_for_update().filter(merchant=merchant, pk=tier.pk).first()
    if locked is None:
        raise NotFound("No such tier.", field="tier")
    return locked


@transaction.atomic
def tier_update(
    *,
    merchant: Merchant,
    tier: Tier,
    actor: Actor,
    name: str,
    threshold: int,
    color: str,
    benefits: str = "",
    earn_multiplier: Decimal | None = None,
) -> Tier:
    """Change a tier; a new threshold re-evaluates the members at once (the program's
    downgrade policy still decides whether anyone goes down)."""
    from patron.audit.services import snapshot

    if threshold < 0:
        raise InvalidInput("A threshold is zero or more.", field="threshold")
    if earn_multiplier is not None and (earn_multiplier <= 0 or earn_multiplier > 100):
        raise InvalidInput(
            "The earning multiplier is above 0 and at most 100.", field="earn_multiplier"
        )
    tier = _locked_tier(merchant, tier)
    before = snapshot(tier)
    moved = tier.threshold != threshold
    tier.name = _clean_name(name)
    tier.threshold = threshold
    tier.color = _clean_color(color)
    tier.benefits = (benefits or "").strip()
    if earn_multiplier is not None:
        tier.earn_multiplier = earn_multiplier
    _save_named(tier)
    _settings_audit(merchant, actor, "loyalty.tier_update", tier, before)
    if moved:
        program = selectors.program(merchant)
        ids = Member.objects.filter(merchant=merchant, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
        for member in Member.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"):
            _evaluate_tier(program, member, actor)
    return tier


@transaction.atomic
def tier_delete(*, merchant: Merchant, tier: Tier, actor: Actor, reason: str) -> int:
    """Delete a tier and move each member who had it to the best remaining tier they
    qualify for. Refused while members hold it by hand. Returns how many moved."""
    from patron.audit.services import audit_record, snapshot

    reason = _settings_reason(reason)
    tier = _locked_tier(merchant, tier)
    holders = Member.objects.filter(merchant=merchant, tier=tier, deleted_at__isnull=True)
    # Counted without a lock: PostgreSQL refuses FOR UPDATE with an aggregate.
    by_hand = holders.filter(tier_manual=True).count()
    if by_hand:
        raise TierSetByHand(field="tier", members=by_hand)
    program = selectors.program(merchant)
    remaining = selectors.tiers(merchant).exclude(pk=tier.pk)
    note = f"Tier {tier.name} deleted: {reason}"[:500]
    moved = 0
    for member in holders.select_for_update().order_by("pk"):
        value = selectors.tier_qualifying_value(merchant, member)
        target = remaining.filter(threshold__lte=value).order_by("-threshold").first()
        _set_tier(program, member, target, actor, note, manual=False)
        moved += 1
    before = snapshot(tier)
    pk = tier.pk
    tier.delete()
    tier.pk = pk
    audit_record(
        merchant=merchant,
        actor=actor,
        action="loyalty.tier_delete",
        obj=tier,
        before=before,
        after={"reason": reason, "members_moved": moved},
    )
    return moved


# --- members ----------------------------------------------------------------------------


def _lock(merchant: Merchant, member: Member) -> Member:
    """The member row, read afresh under its lock; only `member.pk` is used.

    The contact and tier come in the same statement (the events and the multiplier need
    them) but stay unlocked (`of=self`): PostgreSQL could not lock the nullable side of
    the outer joins, and nothing here changes them.
    """
    locked = _lock_where(merchant, {"merchant": merchant, "pk": member.pk})
    if locked is None:
        raise MemberNotFound()
    return locked


def _lock_where(
    merchant: Merchant, where: dict[str, Any], order_by: tuple[str, ...] = ()
) -> Member | None:
    """The first member row matching `where` (of this merchant, not deleted), locked, with
    its contact and tier (see `_lock`)."""
    locked = first_row(
        Member,
        {**where, "merchant": merchant, "deleted_at__isnull": True},
        order_by=order_by,
        related=("contact", "tier"),
        lock=True,
    )
    if locked is not None:
        # The row was found by this merchant, so the caller's object is its merchant.
        locked.merchant = merchant
    return locked


def member_lock(*, merchant: Merchant, member: Member) -> Member:
    """The member row, locked until the caller's transaction ends (for other apps'
    writes that must be ordered with points changes, such as reward claims)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("member_lock must run inside the caller's transaction")
    return _lock(merchant, member)


def _lock_pair(merchant: Merchant, first: Member, second: Member) -> tuple[Member, Member]:
    # Always in primary-key order: two transfers A→B and B→A at once would otherwise
    # each hold one lock and wait for the other.
    low, high = sorted([first, second], key=lambda m: m.pk)
    locked_low, locked_high = _lock(merchant, low), _lock(merchant, high)
    if first.pk == low.pk:
        return locked_low, locked_high
    return locked_high, locked_low


def _set_status(member: Member, status: str, actor: Actor, reason: str) -> None:
    member.status = status
    member.status_changed_at = timezone.now()
    member.status_changed_by = actor.label
    member.status_reason = reason[:500]
    member.updated_at = member.status_changed_at


@transaction.atomic
def member_ensure(*, merchant: Merchant, contact: Contact, actor: Actor) -> Member:
    """The member of the contact's current phone, created `not_activated` if missing."""
    if not contact.phone:
        raise ContactHasNoPhone(field="phone")
    phone = str(contact.phone)
    member = (
        Member.objects.select_for_update()
        .filter(merchant=merchant, phone=phone, deleted_at__isnull=True)
        .first()
    )
    if member is None:
        member = Member(merchant=merchant, contact=contact, phone=phone)
        member.status_changed_by = actor.label
        try:
            # The partial unique index decides when two requests create the same phone.
            with transaction.atomic():
                member.save()
        except IntegrityError:
            return Member.objects.get(merchant=merchant, phone=phone, deleted_at__isnull=True)
        events.member_created(member=member, actor=actor)
        return member
    if member.contact_id != contact.pk and member.linked_contact is None:
        # The number's membership waits for whoever holds the number: the same contact
        # changing back, or a new contact after the old one was deleted.
        member.contact = contact
        member.updated_at = timezone.now()
        member.save(update_fields=["contact", "updated_at"])
    return member


@transaction.atomic
def member_on_contact_created(
    *, merchant: Merchant, contact: Contact, actor: Actor
) -> Member | None:
    """Seed 004: POS, store and imported contacts with a phone become members."""
    if not contact.phone or contact.source not in AUTO_MEMBER_SOURCES:
        return None
    member = member_ensure(merchant=merchant, contact=contact, actor=actor)
    if (
        selectors.program(merchant).activate_on_create
        and member.status == MemberStatus.NOT_ACTIVATED
    ):
        member = member_activate(
            merchant=merchant, member=member, actor=actor, reason="Activated on creation"
        )
    return member


@transaction.atomic
def member_on_phone_changed(
    *, merchant: Merchant, contact: Contact, old_phone: str | None, actor: Actor
) -> Member | None:
    """Seed 004: a new phone is a new membership; the old one keeps points and tier.

    Moving the points is a deliberate act ("Adjust points and tier"), so that a changed
    phone at the counter cannot carry someone else's points and tier along (fraud).
    """
    detached = None
    if old_phone:
        detached = (
            Member.objects.select_for_update()
            .filter(merchant=merchant, phone=old_phone, contact=contact, deleted_at__isnull=True)
            .first()
        )
    if detached is not None:
        events.member_detached(
            member=detached, contact=contact, actor=actor, new_phone=str(contact.phone or "")
        )
        detached.contact = None
        detached.updated_at = timezone.now()
        detached.save(update_fields=["contact", "updated_at"])
    if contact.phone and (detached is not None or contact.source in AUTO_MEMBER_SOURCES):
        return member_ensure(merchant=merchant, contact=contact, actor=actor)
    return None


@transaction.atomic
def member_activate(
    *, merchant: Merchant, member: Member, actor: Actor, reason: str = ""
) -> Member:
    """Activate a member, from `not_activated` or from `excluded`."""
    member = _lock(merchant, member)
    if member.status == MemberStatus.ACTIVE:
        return member
    first_time = member.first_activated_at is None
    _set_status(member, MemberStatus.ACTIVE, actor, (reason or "").strip())
    if first_time:
        member.first_activated_at = member.status_changed_at
    member.save()
    events.member_activated(member=member, actor=actor, reason=member.status_reason)
    program = selectors.program(merchant)
    # A number whose earlier owner was erased has had its sign-up bonus (seed 004's
    # anti-fraud rule: a phone does not earn the welcome twice).
    if first_time and program.signup_bonus and not phone_was_erased(merchant, member.phone):
        bonus = PointCategory.objects.filter(merchant=merchant, name="Bonus").first()
        _add(
            program,
            member,
            amount=program.signup_bonus,
            kind=LedgerKind.EARN,
            actor=actor,
            category=bonus,
            reason="Sign-up bonus",
            source=LedgerSource.AUTOMATION,
            idempotency_key=f"signup-bonus:{member.pk}",
        )
    _evaluate_tier(program, member, actor)
    return member


@transaction.atomic
def member_exclude(*, merchant: Merchant, member: Member, actor: Actor, reason: str) -> Member:
    """ "Remove from program": no earning, no spending, no tier benefits, nothing shown."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the member is removed from the program.", field="reason")
    member = _lock(merchant, member)
    if member.status == MemberStatus.EXCLUDED:
        return member
    _set_status(member, MemberStatus.EXCLUDED, actor, reason)
    member.save()
    events.member_excluded(member=member, actor=actor, reason=member.status_reason)
    return member


@transaction.atomic
def member_delete(*, merchant: Merchant, member: Member, actor: Actor, reason: str = "") -> Member:
    """Seed 004: only once the contact is deleted or no longer has this phone.

    The row stays (soft delete) because the ledger refers to it; the phone becomes free
    for a new membership.
    """
    member = _lock(merchant, member)
    if member.linked_contact is not None:
        raise MemberStillLinked()
    member.deleted_at = timezone.now()
    member.deleted_by = actor.label
    member.updated_at = member.deleted_at
    member.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    events.member_deleted(member=member, actor=actor, reason=(reason or "").strip())
    return member


# --- lots and balances ------------------------------------------------------------------


def _end_of_period(moment: datetime.datetime, period: str, tz_name: str) -> datetime.datetime:
    import zoneinfo

    local = moment.astimezone(zoneinfo.ZoneInfo(tz_name))
    if period == ExpiryPeriod.MONTH:
        months = 1
    elif period == ExpiryPeriod.QUARTER:
        months = 3 - (local.month - 1) % 3
    else:
        months = 13 - local.month
    year, month = local.year, local.month + months
    if month > 12:
        year, month = year + 1, month - 12
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _expiry(program: LoyaltyProgram, now: datetime.datetime) -> datetime.datetime | None:
    if program.expiry_policy == ExpiryPolicy.AFTER_DAYS:
        return now + datetime.timedelta(days=program.expiry_days)
    if program.expiry_policy == ExpiryPolicy.END_OF_PERIOD:
        return _end_of_period(now, program.expiry_period, program.merchant.timezone or "UTC")
    return None


def _replay(merchant: Merchant, key: str | None) -> LedgerEntry | None:
    if not key:
        return None
    return first_row(LedgerEntry, {"merchant": merchant, "idempotency_key": key})


def _entry(member: Member, **fields: Any) -> LedgerEntry:
    """`_new_entry`, written. Fixed SQL: this runs for every point given or spent
    (patron.lib.sql)."""
    return insert_row(_new_entry(member, **fields))


def _new_entry(
    member: Member,
    *,
    kind: str,
    amount: int,
    actor: Actor,
    category: PointCategory | None = None,
    reason: str = "",
    source: str = LedgerSource.MANUAL,
    reference: str = "",
    counterpart: Member | None = None,
    idempotency_key: str | None = None,
    spend: Decimal | None = None,
    data: dict[str, Any] | None = None,
) -> LedgerEntry:
    """The unsaved ledger row of a change the member's balance already holds."""
    entry = LedgerEntry(
        merchant=member.merchant,
        member=member,
        kind=kind,
        amount=amount,
        category=category,
        reason=reason[:500],
        source=source,
        reference=reference[:200],
        counterpart=counterpart,
        idempotency_key=idempotency_key or "",
        balance_after=member.points_available + member.points_pending,
        spend=spend,
        data=data or {},
    )
    entry.set_actor(actor)
    return entry


def _add(
    program: LoyaltyProgram,
    member: Member,
    *,
    amount: int,
    kind: str,
    actor: Actor,
    activates_at: datetime.datetime | None = None,
    pieces: list[tuple[int, datetime.datetime | None]] | None = None,
    counts_as_earning: bool = True,
    **entry_fields: Any,
) -> LedgerEntry:
    """Add points to a locked member: a ledger row and its lot(s)."""
    now = timezone.now()
    pending = activates_at is not None and activates_at > now
    if pending:
        member.points_pending += amount
    else:
        member.points_available += amount
    if counts_as_earning and kind in selectors.EARNING_KINDS:
        member.points_lifetime += amount
    member.updated_at = now
    # Fixed SQL: this runs for every point given (patron.lib.sql).
    update_rows(
        Member, [member], ["points_available", "points_pending", "points_lifetime", "updated_at"]
    )
    entry = _entry(member, kind=kind, amount=amount, actor=actor, **entry_fields)
    for size, expires_at in pieces or [(amount, _expiry(program, now))]:
        lot = PointLot(
            merchant=member.merchant,
            member=member,
            entry=entry,
            amount=size,
            remaining=size,
            activates_at=activates_at if pending else None,
            activated=not pending,
            expires_at=expires_at,
        )
        insert_row(lot)
    return entry


def _take(
    member: Member,
    *,
    amount: int,
    kind: str,
    actor: Actor,
    lots: list[PointLot] | None = None,
    **entry_fields: Any,
) -> tuple[LedgerEntry, list[tuple[int, datetime.datetime | None]]]:
    """Take available points from a locked member, soonest-expiring lots first; `lots`
    are its available lots with points left, when the caller has read them (`_spend_lots`).

    Returns the row and the pieces consumed (size, expiry), so a transfer can hand the
    same expiries to the other side.
    """
    now = timezone.now()
    if amount > member.points_available:
        raise InsufficientPoints(
            f"The member has {member.points_available} points available; {amount} are needed.",
            field="amount",
            available=member.points_available,
        )
    pieces: list[tuple[int, datetime.datetime | None]] = []
    left = amount
    # Fixed SQL (patron.lib.sql): a claim holds the member's lock while this runs. Every
    # lot that can be spent is locked, as the ORM's iteration would; soonest expiry first,
    # lots that never expire last.
    if lots is None:
        lots = rows(
            PointLot,
            {
                "merchant": member.merchant_id,
                "member": member,
                "activated": True,
                "remaining__gt": 0,
            },
            lock=True,
        )
    lots.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or now, lot.pk))
    used_lots = []
    for lot in lots:
        used = min(lot.remaining, left)
        lot.remaining -= used
        used_lots.append(lot)
        pieces.append((used, lot.expires_at))
        left -= used
        if left == 0:
            break
    if left:
        # The cached balance and the lots disagree: refuse rather than go negative.
        raise InsufficientPoints(field="amount", available=amount - left)
    update_rows(PointLot, used_lots, ["remaining"])
    member.points_available -= amount
    member.updated_at = now
    update_rows(Member, [member], ["points_available", "updated_at"])
    entry = _entry(member, kind=kind, amount=-amount, actor=actor, **entry_fields)
    return entry, pieces


def _settle_lots(
    merchant_id: int, members: Sequence[Member], now: datetime.datetime
) -> list[PointLot]:
    """One locked read of every lot of the members that may change: the due pending ones
    and the expired available ones."""
    return rows(
        PointLot,
        {"merchant": merchant_id, "member": [member.pk for member in members]},
        any_of=[
            {"activated": False, "activates_at__lte": now},
            {"activated": True, "remaining__gt": 0, "expires_at__lte": now},
        ],
        lock=True,
    )


def _spend_lots(member: Member, now: datetime.datetime) -> list[PointLot]:
    """One locked read of the lots a spend may change: the due pending ones, which
    `_settle` makes available, and every available one with points left (`_settle`
    writes off the expired among them, `_take` spends from the rest)."""
    return rows(
        PointLot,
        {"merchant": member.merchant_id, "member": member},
        any_of=[
            {"activated": False, "activates_at__lte": now},
            {"activated": True, "remaining__gt": 0},
        ],
        lock=True,
    )


def _settle_many(merchant: Merchant, members: Sequence[Member], now: datetime.datetime) -> None:
    """`_settle` for each of the (locked) members, their lots read by one statement."""
    lots: dict[int, list[PointLot]] = {member.pk: [] for member in members}
    for lot in _settle_lots(merchant.pk, members, now) if members else []:
        lots[lot.member_id].append(lot)
    for member in members:
        _settle(member, now, lots=lots[member.pk])


def _settle(
    member: Member,
    now: datetime.datetime,
    actor: Actor = SYSTEM,
    *,
    lots: list[PointLot] | None = None,
) -> None:
    """Make due pending lots available and write off expired ones (member locked); `lots`
    are those `_settle_lots` (or `_spend_lots`) read for it, when the caller has read
    them. The lots passed are changed in place as their rows are."""
    # A due lot may also have expired; it is written off once activated.
    if lots is None:
        lots = _settle_lots(member.merchant_id, [member], now)
    due = [lot for lot in lots if not lot.activated]
    if due:
        moved = sum(lot.remaining for lot in due)
        PointLot.objects.filter(pk__in=[lot.pk for lot in due]).update(activated=True)
        for lot in due:
            lot.activated = True
        member.points_pending -= moved
        member.points_available += moved
        member.save(update_fields=["points_pending", "points_available"])
        if moved:
            events.points_activated(member=member, amount=moved, actor=actor)
    expired = [
        lot
        for lot in lots
        if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now
    ]
    if expired:
        total = sum(lot.remaining for lot in expired)
        PointLot.objects.filter(pk__in=[lot.pk for lot in expired]).update(remaining=0)
        for lot in expired:
            lot.remaining = 0
        member.points_available -= total
        member.save(update_fields=["points_available"])
        entry = _entry(
            member, kind=LedgerKind.EXPIRE, amount=-total, actor=actor, reason="Points expired"
        )
        events.points_expired(member=member, entry=entry, actor=actor)


def _require_active(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(
            f"This member is {member.get_status_display().lower()}: "
            "activate the member first to earn or spend points."
        )


def _check_amount(amount: int, field: str = "amount") -> None:
    if not isinstance(amount, int) or amount <= 0 or amount > MAX_POINTS:
        raise InvalidInput(f"Points are a whole number from 1 to {MAX_POINTS}.", field=field)


def _check_category(merchant: Merchant, category: PointCategory | None) -> None:
    if category is not None and category.merchant_id != merchant.pk:
        raise NotFound("No such point category.", field="category")
    if category is not None and category.archived_at is not None:
        raise PointCategoryArchived(field="category")


# --- points -----------------------------------------------------------------------------


@transaction.atomic
def points_give(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    actor: Actor,
    category: PointCategory | None = None,
    reason: str = "",
    source: str = LedgerSource.MANUAL,
    reference: str = "",
    idempotency_key: str | None = None,
    spend: Decimal | None = None,
    pending: bool | None = None,
) -> LedgerEntry:
    """ "Give Points": `amount` times the tier's multiplier, as a new lot.

    Points stay pending for the program's pending days when they come from an order
    (the return window) or when `pending` says so; they expire per the program.
    """
    _check_give(merchant, amount, category, source)
    return _give(
        merchant,
        _lock(merchant, member),
        amount=amount,
        actor=actor,
        category=category,
        reason=reason,
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
        spend=spend,
        pending=pending,
    )


@transaction.atomic
def points_give_to_contact(
    *,
    merchant: Merchant,
    contact: Contact,
    amount: int,
    actor: Actor,
    reason: str = "",
    source: str = LedgerSource.MANUAL,
    reference: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """`points_give` to the contact's membership, found and locked in one statement: a
    workflow's step gives points this way, once per enrollment. `MemberNotFound` if the
    contact is not a member."""
    _check_give(merchant, amount, None, source)
    where = selectors.membership_where(merchant, contact)
    # The order of `selectors.members`, newest first, as `member_for_contact` picks.
    member = _lock_where(merchant, where, order_by=("-id",)) if where else None
    if member is None:
        raise MemberNotFound()
    return _give(
        merchant,
        member,
        amount=amount,
        actor=actor,
        reason=reason,
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
    )


@dataclass(frozen=True)
class Gift:
    """One contact's points in `points_give_to_contacts`."""

    contact: Contact
    amount: int
    actor: Actor
    reason: str = ""
    reference: str = ""
    idempotency_key: str | None = None


@transaction.atomic
def points_give_to_contacts(
    *, merchant: Merchant, gifts: Sequence[Gift], source: str = LedgerSource.MANUAL
) -> list[LedgerEntry]:
    """`points_give_to_contact` for each gift, in as many statements for a hundred gifts as
    for one: the members locked by one (in contact order, as a workflow's chunk takes
    them one by one), the idempotency keys looked up by one, the lots to settle read by
    one, and the members, rows and lots written by one each. Returns the ledger rows in
    the gifts' order.

    All or nothing: one gift to a contact who is no member (`MemberNotFound`) or to a
    member who is not active refuses them all. A member named twice earns both at the
    tier it had when the batch began, and its tier is weighed once, after both.
    """
    _check_source(source)
    for gift in gifts:
        _check_amount(gift.amount)
    members = _lock_memberships(merchant, [gift.contact for gift in gifts])
    keys = [gift.idempotency_key for gift in gifts if gift.idempotency_key]
    done = {
        entry.idempotency_key: entry
        for entry in (rows(LedgerEntry, {"merchant": merchant, "idempotency_key": keys}))
    }
    fresh = [gift for gift in gifts if not gift.idempotency_key or gift.idempotency_key not in done]
    for gift in fresh:
        _require_active(members[gift.contact.pk])
    now = timezone.now()
    touched = list({gift.contact.pk: members[gift.contact.pk] for gift in fresh}.values())
    _settle_many(merchant, touched, now)
    program = selectors.program(merchant)
    pending = source == LedgerSource.ORDER and program.pending_days > 0
    activates_at = now + datetime.timedelta(days=program.pending_days) if pending else None
    expires_at = _expiry(program, now)
    made: list[tuple[Gift, LedgerEntry]] = []
    answers: list[LedgerEntry] = []
    for gift in gifts:
        if gift.idempotency_key and gift.idempotency_key in done:
            # Written before, or earlier in this batch.
            answers.append(done[gift.idempotency_key])
            continue
        member = members[gift.contact.pk]
        earned = _earned(member, gift.amount)
        if pending:
            member.points_pending += earned
        else:
            member.points_available += earned
        member.points_lifetime += earned
        member.updated_at = now
        entry = _new_entry(
            member,
            kind=LedgerKind.EARN,
            amount=earned,
            actor=gift.actor,
            reason=(gift.reason or "").strip(),
            source=source,
            reference=gift.reference,
            idempotency_key=gift.idempotency_key,
        )
        made.append((gift, entry))
        answers.append(entry)
        if gift.idempotency_key:
            done[gift.idempotency_key] = entry
    update_rows(
        Member, touched, ["points_available", "points_pending", "points_lifetime", "updated_at"]
    )
    LedgerEntry.objects.bulk_create([entry for _, entry in made])
    PointLot.objects.bulk_create(
        PointLot(
            merchant=merchant,
            member=entry.member,
            entry=entry,
            amount=entry.amount,
            remaining=entry.amount,
            activates_at=activates_at,
            activated=not pending,
            expires_at=expires_at,
        )
        for _, entry in made
    )
    for gift, entry in made:
        events.points_earned(member=members[gift.contact.pk], entry=entry, actor=gift.actor)
    actors = {gift.contact.pk: gift.actor for gift in fresh}
    for member in touched:
        _evaluate_tier(program, member, actors[member.contact_id or 0])
    return answers


def _lock_memberships(merchant: Merchant, contacts: Sequence[Contact]) -> dict[int, Member]:
    """Each contact's membership (as `selectors.member_for_contact` finds it), locked, by
    contact id; `MemberNotFound` if one of them has none."""
    phones = {contact.pk: str(contact.phone) for contact in contacts if contact.phone}
    found = rows(
        Member,
        {"merchant": merchant, "deleted_at__isnull": True, "contact": sorted(phones)},
        # Contact order for the locks; the newest membership of a contact first.
        order_by=("contact_id", "-id"),
        related=("contact", "tier"),
        lock=True,
    )
    members: dict[int, Member] = {}
    for member in found:
        contact_id = member.contact_id or 0  # never empty: found by contact
        if str(member.phone) == phones[contact_id] and contact_id not in members:
            member.merchant = merchant
            members[contact_id] = member
    if any(contact.pk not in members for contact in contacts):
        raise MemberNotFound()
    return members


def _check_give(
    merchant: Merchant, amount: int, category: PointCategory | None, source: str
) -> None:
    _check_amount(amount)
    _check_category(merchant, category)
    _check_source(source)


def _earned(member: Member, amount: int) -> int:
    """`amount` times the member's tier multiplier, within the most a ledger row holds."""
    multiplier = member.tier.earn_multiplier if member.tier else Decimal(1)
    return min(math.floor(Decimal(amount) * multiplier), MAX_POINTS)


def _check_source(source: str) -> None:
    if source not in LedgerSource.values:
        raise InvalidInput("Unknown source.", field="source")


def _give(
    merchant: Merchant,
    member: Member,
    *,
    amount: int,
    actor: Actor,
    category: PointCategory | None = None,
    reason: str = "",
    source: str = LedgerSource.MANUAL,
    reference: str = "",
    idempotency_key: str | None = None,
    spend: Decimal | None = None,
    pending: bool | None = None,
) -> LedgerEntry:
    """The giving of `points_give`, to a member locked by the caller."""
    previous = _replay(merchant, idempotency_key)
    if previous is not None:
        return previous
    _require_active(member)
    now = timezone.now()
    _settle(member, now)
    program = selectors.program(merchant)
    earned = _earned(member, amount)
    if pending is None:
        pending = source == LedgerSource.ORDER
    activates_at = (
        now + datetime.timedelta(days=program.pending_days)
        if pending and program.pending_days
        else None
    )
    entry = _add(
        program,
        member,
        amount=earned,
        kind=LedgerKind.EARN,
        actor=actor,
        activates_at=activates_at,
        category=category,
        reason=(reason or "").strip(),
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
        spend=spend,
    )
    events.points_earned(member=member, entry=entry, actor=actor)
    _evaluate_tier(program, member, actor)
    return entry


@transaction.atomic
def points_earn_for_order(
    *,
    merchant: Merchant,
    member: Member,
    order_total: Decimal,
    reference: str,
    actor: Actor,
    idempotency_key: str | None = None,
) -> LedgerEntry | None:
    """Points for an order, at the program's rate per currency unit spent."""
    if order_total <= 0:
        raise InvalidInput("An order total is above zero.", field="order_total")
    program = selectors.program(merchant)
    amount = math.floor(order_total * program.earn_per_currency_unit)
    if amount <= 0:
        return None
    category = PointCategory.objects.filter(merchant=merchant, name="Purchase").first()
    return points_give(
        merchant=merchant,
        member=member,
        amount=amount,
        actor=actor,
        category=category,
        reason=f"Order {reference}",
        source=LedgerSource.ORDER,
        reference=reference,
        idempotency_key=idempotency_key,
        spend=order_total,
    )


@transaction.atomic
def points_adjust(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    actor: Actor,
    reason: str,
    category: PointCategory | None = None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """ "Adjust points and tier": add (+) or take (-) points by hand, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the points are adjusted.", field="reason")
    _check_amount(abs(amount) if isinstance(amount, int) else amount)
    _check_category(merchant, category)
    member = _lock(merchant, member)
    previous = _replay(merchant, idempotency_key)
    if previous is not None:
        return previous
    _require_active(member)
    _settle(member, timezone.now())
    program = selectors.program(merchant)
    fields: dict[str, Any] = {
        "category": category,
        "reason": reason,
        "source": LedgerSource.MANUAL,
        "idempotency_key": idempotency_key,
    }
    if amount > 0:
        entry = _add(program, member, amount=amount, kind=LedgerKind.ADJUST, actor=actor, **fields)
    else:
        entry, _ = _take(member, amount=-amount, kind=LedgerKind.ADJUST, actor=actor, **fields)
    events.points_adjusted(member=member, entry=entry, actor=actor)
    _evaluate_tier(program, member, actor)
    return entry


@transaction.atomic
def points_transfer(
    *,
    merchant: Merchant,
    source: Member,
    target: Member,
    amount: int,
    actor: Actor,
    reason: str,
    move_tier: bool = False,
    idempotency_key: str | None = None,
) -> tuple[LedgerEntry, LedgerEntry]:
    """ "Adjust points and tier" between members, e.g. after a phone change (seed 004).

    Both sides get a ledger row with the same reason. The points keep their expiry.
    Any state may receive: the new member of a re-phoned customer starts not activated.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the points are moved.", field="reason")
    _check_amount(amount)
    if source.pk == target.pk:
        raise InvalidInput("Choose another member to move the points to.", field="target")
    source, target = _lock_pair(merchant, source, target)
    previous = _replay(merchant, idempotency_key)
    if previous is not None:
        assert idempotency_key  # a replay is found by its key
        incoming = first_row(
            LedgerEntry,
            {"merchant": merchant, "idempotency_key": derived_key(idempotency_key, suffix=":in")},
        )
        assert incoming is not None  # written with the outgoing row it answers
        return previous, incoming
    if source.status == MemberStatus.EXCLUDED:
        _require_active(source)
    now = timezone.now()
    _settle(source, now)
    _settle(target, now)
    program = selectors.program(merchant)
    outgoing, pieces = _take(
        source,
        amount=amount,
        kind=LedgerKind.TRANSFER,
        actor=actor,
        reason=reason,
        counterpart=target,
        idempotency_key=idempotency_key,
    )
    incoming = _add(
        program,
        target,
        amount=amount,
        kind=LedgerKind.TRANSFER,
        actor=actor,
        pieces=pieces,
        reason=reason,
        counterpart=source,
        idempotency_key=derived_key(idempotency_key, suffix=":in") if idempotency_key else None,
    )
    events.points_transferred(member=source, entry=outgoing, other=target, actor=actor)
    events.points_transferred(member=target, entry=incoming, other=source, actor=actor)
    if move_tier and source.tier_id is not None:
        _set_tier(program, target, source.tier, actor, reason, manual=True)
    _evaluate_tier(program, source, actor)
    _evaluate_tier(program, target, actor)
    return outgoing, incoming


@transaction.atomic
def points_redeem(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    actor: Actor,
    reason: str,
    source: str = LedgerSource.REWARD,
    reference: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Spend points (a reward claim, or a manual redemption)."""
    _check_amount(amount)
    member = _lock(merchant, member)
    return _redeem(
        merchant,
        member,
        amount=amount,
        actor=actor,
        reason=reason,
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
    )


def points_redeem_locked(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    actor: Actor,
    reason: str,
    source: str = LedgerSource.REWARD,
    reference: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """`points_redeem` for a caller that holds the member's lock: `member` is what
    `member_lock` returned in the caller's still-open transaction, and is changed in place.

    A claim holds the lock while it writes, so every statement there delays the other
    claims of the member: this one skips a second lock and a savepoint (any error still
    rolls back with the caller's transaction, which must not go on after it), and leaves
    replays to the caller: no ledger row may hold `idempotency_key` yet (a claim has
    looked its own record of the key up). One that did would be refused, not repeated:
    the ledger holds a key once."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("points_redeem_locked must run inside the caller's transaction")
    _check_amount(amount)
    return _redeem(
        merchant,
        member,
        amount=amount,
        actor=actor,
        reason=reason,
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
        key_is_new=True,
    )


def _redeem(
    merchant: Merchant,
    member: Member,
    *,
    amount: int,
    actor: Actor,
    reason: str,
    source: str,
    reference: str,
    idempotency_key: str | None,
    key_is_new: bool = False,
) -> LedgerEntry:
    """Spend from a locked member; `key_is_new` when the caller has made sure that no
    row holds the idempotency key yet."""
    if not key_is_new:
        previous = _replay(merchant, idempotency_key)
        if previous is not None:
            return previous
    _require_active(member)
    now = timezone.now()
    lots = _spend_lots(member, now)
    _settle(member, now, lots=lots)
    entry, _ = _take(
        member,
        amount=amount,
        kind=LedgerKind.REDEEM,
        actor=actor,
        lots=[lot for lot in lots if lot.remaining > 0],
        reason=(reason or "").strip(),
        source=source,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    events.points_redeemed(member=member, entry=entry, actor=actor)
    _evaluate_tier(selectors.program(merchant), member, actor)
    return entry


@transaction.atomic
def points_redeem_manual(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    note: str,
    actor: Actor,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """ "Redeem Points Manually": a typed amount with a note."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Add a note that says what the points paid for.", field="note")
    return points_redeem(
        merchant=merchant,
        member=member,
        amount=amount,
        actor=actor,
        reason=note,
        source=LedgerSource.MANUAL,
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def points_return(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    actor: Actor,
    reason: str,
    reference: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Give back points that paid for something undone (a coupon deleted with a refund).

    Allowed in any state: the points were the member's before they were spent.
    """
    _check_amount(amount)
    member = _lock(merchant, member)
    previous = _replay(merchant, idempotency_key)
    if previous is not None:
        return previous
    _settle(member, timezone.now())
    program = selectors.program(merchant)
    entry = _add(
        program,
        member,
        amount=amount,
        kind=LedgerKind.REVERSE,
        actor=actor,
        reason=(reason or "").strip() or "Points returned",
        source=LedgerSource.REWARD,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    events.points_returned(member=member, entry=entry, actor=actor)
    _evaluate_tier(program, member, actor)
    return entry


@transaction.atomic
def points_reverse(
    *,
    merchant: Merchant,
    member: Member,
    amount: int,
    reference: str,
    reason: str,
    actor: Actor,
    idempotency_key: str,
    spend: Decimal | None = None,
) -> LedgerEntry | None:
    """Take back points an order earned, because it was refunded or cancelled.

    `amount` is what the refunded share of the order earned (the caller works out the
    proportion). Works in any member state: a member removed from the program still
    does not keep points of an order that was given back. The points come from the
    order's own lots first (its earn row has the same `reference`), then from other
    pending lots, then from available lots, soonest-expiring first.

    The balance never goes negative (PRODUCT.md), so points the member has already
    spent stay spent: the row takes what there is and its `data` records
    `{"requested", "taken", "from_pending", "from_available", "shortfall"}`. When
    nothing at all can be taken there is no row (a ledger row is never zero) and the
    answer is None; the caller records the shortfall. Lifetime points (and the tier
    windows) drop by what the row took, so they stay derivable from the ledger.
    `spend` is the refunded amount of money, for tiers by spend.

    Idempotent: a retry with the same key returns the first row. A retry after a
    None answer runs again; callers keep their own record of the refund (an order's
    refund ids) so that it cannot take points that arrived later.
    """
    _check_amount(amount)
    if not (idempotency_key or "").strip():
        raise InvalidInput("A reversal needs an idempotency key.", field="idempotency_key")
    member = _lock(merchant, member)
    previous = _replay(merchant, idempotency_key)
    if previous is not None:
        return previous
    now = timezone.now()
    _settle(member, now)
    lots = PointLot.objects.select_for_update().filter(member=member, remaining__gt=0)
    by_expiry = (F("expires_at").asc(nulls_last=True), "id")
    # Pending lots sort first (`activated` False), the order's own lots before them.
    own = list(
        lots.filter(entry__kind=LedgerKind.EARN, entry__reference=reference).order_by(
            "activated", *by_expiry
        )
        if reference
        else []
    )
    others = list(lots.exclude(pk__in=[lot.pk for lot in own]).order_by("activated", *by_expiry))
    taken = {"pending": 0, "available": 0}
    left = amount
    for lot in [*own, *others]:
        if left == 0:
            break
        used = min(lot.remaining, left)
        lot.remaining -= used
        lot.save(update_fields=["remaining"])
        taken["available" if lot.activated else "pending"] += used
        left -= used
    total = amount - left
    details = {
        "requested": amount,
        "taken": total,
        "from_pending": taken["pending"],
        "from_available": taken["available"],
        "shortfall": left,
    }
    if total == 0:
        return None
    member.points_pending -= taken["pending"]
    member.points_available -= taken["available"]
    member.points_lifetime = max(0, member.points_lifetime - total)
    member.updated_at = now
    member.save(
        update_fields=["points_available", "points_pending", "points_lifetime", "updated_at"]
    )
    entry = _entry(
        member,
        kind=LedgerKind.REVERSE,
        amount=-total,
        actor=actor,
        reason=(reason or "").strip() or f"Refund of {reference}",
        source=LedgerSource.ORDER,
        reference=reference,
        idempotency_key=idempotency_key,
        spend=-abs(spend) if spend else None,
        data=details,
    )
    events.points_reversed(member=member, entry=entry, actor=actor)
    _evaluate_tier(selectors.program(merchant), member, actor)
    return entry


def birthday_bonuses_give(*, merchant: Merchant, today: datetime.date | None = None) -> int:
    """The program's birthday bonus for active members whose birthday is today, once a
    year each: the idempotency key names the member and the year, so a second run (or
    a second worker) writes nothing."""
    program = selectors.program(merchant)
    if not program.birthday_bonus:
        return 0
    if today is None:
        today = timezone.now().astimezone(merchant.zone).date()
    category = PointCategory.objects.filter(merchant=merchant, name="Birthday").first()
    members = Member.objects.filter(
        merchant=merchant,
        deleted_at__isnull=True,
        status=MemberStatus.ACTIVE,
        contact__deleted_at__isnull=True,
        contact__birthday__month=today.month,
        contact__birthday__day=today.day,
    ).order_by("pk")
    given = 0
    for member in members:
        key = f"birthday-bonus:{member.pk}:{today.year}"
        if any_row(LedgerEntry, {"merchant": merchant, "idempotency_key": key}):
            continue
        points_give(
            merchant=merchant,
            member=member,
            amount=program.birthday_bonus,
            actor=SYSTEM,
            category=category,
            reason="Birthday bonus",
            source=LedgerSource.AUTOMATION,
            idempotency_key=key,
            pending=False,
        )
        given += 1
    return given


def _members_with_due_lots(
    merchant: Merchant, now: datetime.datetime, *, expiring: bool
) -> list[int]:
    lots = PointLot.objects.filter(merchant=merchant)
    if expiring:
        lots = lots.filter(activated=True, remaining__gt=0, expires_at__lte=now)
    else:
        lots = lots.filter(activated=False, activates_at__lte=now)
    return sorted(set(lots.values_list("member_id", flat=True)))


def _settle_members(merchant: Merchant, member_ids: list[int], now: datetime.datetime) -> int:
    program = selectors.program(merchant)
    done = 0
    for member_id in member_ids:
        # One short transaction per member, so a long run never holds many locks.
        with transaction.atomic():
            member = (
                Member.objects.select_for_update()
                .filter(merchant=merchant, pk=member_id, deleted_at__isnull=True)
                .first()
            )
            if member is None:
                continue
            _settle(member, now)
            _evaluate_tier(program, member, SYSTEM)
            done += 1
    return done


def lots_activate_due(*, merchant: Merchant, now: datetime.datetime | None = None) -> int:
    """Pending points whose time has come become available. Returns members touched."""
    now = now or timezone.now()
    return _settle_members(merchant, _members_with_due_lots(merchant, now, expiring=False), now)


def lots_expire_due(*, merchant: Merchant, now: datetime.datetime | None = None) -> int:
    """Expired lots are written off with an `expire` row. Returns members touched."""
    now = now or timezone.now()
    return _settle_members(merchant, _members_with_due_lots(merchant, now, expiring=True), now)


def merchants_with_due_lots(now: datetime.datetime | None = None) -> list[Merchant]:
    """For the periodic tasks, which then open each merchant's scope."""
    now = now or timezone.now()
    with scopes_disabled():
        ids = set(
            PointLot.objects.filter(activated=False, activates_at__lte=now).values_list(
                "merchant_id", flat=True
            )
        ) | set(
            PointLot.objects.filter(
                activated=True, remaining__gt=0, expires_at__lte=now
            ).values_list("merchant_id", flat=True)
        )
        return list(Merchant.objects.filter(pk__in=ids).order_by("pk"))


# --- tiers ------------------------------------------------------------------------------


def _set_tier(
    program: LoyaltyProgram,
    member: Member,
    tier: Tier | None,
    actor: Actor,
    reason: str,
    *,
    manual: bool,
) -> None:
    old = member.tier
    now = timezone.now()
    member.tier = tier
    member.tier_changed_at = now
    member.tier_manual = manual
    member.tier_manual_reason = reason[:500] if manual else ""
    member.tier_locked_until = (
        now + datetime.timedelta(days=program.manual_tier_days) if manual else None
    )
    member.updated_at = now
    member.save(
        update_fields=[
            "tier",
            "tier_changed_at",
            "tier_manual",
            "tier_manual_reason",
            "tier_locked_until",
            "updated_at",
        ]
    )
    if (old.pk if old else None) != (tier.pk if tier else None) or manual:
        events.tier_changed(
            member=member, old=old, new=tier, actor=actor, reason=reason, manual=manual
        )


def _evaluate_tier(
    program: LoyaltyProgram, member: Member, actor: Actor, *, scheduled: bool = False
) -> None:
    merchant = member.merchant
    now = timezone.now()
    value = selectors.tier_qualifying_value(merchant, member, now=now, settings=program)
    target = selectors.tier_for_value(merchant, value)
    current = member.tier
    current_threshold = current.threshold if current else -1
    target_threshold = target.threshold if target else -1
    if target_threshold == current_threshold:
        return
    upgrade = target_threshold > current_threshold
    if member.tier_manual and member.tier_locked_until and member.tier_locked_until > now:
        # A tier set by hand holds until its lock ends; only a higher tier may replace it.
        if not upgrade:
            return
    elif not upgrade:
        policy = program.downgrade_policy
        if policy == DowngradePolicy.NEVER and not member.tier_manual:
            return
        if policy == DowngradePolicy.SCHEDULED and not scheduled:
            return
    reason = "Qualified by evaluation" if upgrade else "Below the tier threshold"
    _set_tier(program, member, target, actor, reason, manual=False)


@transaction.atomic
def tier_evaluate(
    *, merchant: Merchant, member: Member, actor: Actor = SYSTEM, scheduled: bool = False
) -> Member:
    member = _lock(merchant, member)
    _evaluate_tier(selectors.program(merchant), member, actor, scheduled=scheduled)
    return member


def tiers_evaluate_all(*, merchant: Merchant) -> int:
    """The scheduled evaluation: the only one that may lower tiers under SCHEDULED.

    A merchant without tiers has nothing to evaluate (deleting a tier clears it from its
    members): one read tells, where evaluating costs several per member, and every
    worker's clock runs this sweep when it starts.
    """
    if not selectors.tiers(merchant).exists():
        return 0
    program = selectors.program(merchant)
    ids = list(
        Member.objects.filter(merchant=merchant, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for member_id in ids:
        with transaction.atomic():
            member = (
                Member.objects.select_for_update().filter(merchant=merchant, pk=member_id).first()
            )
            if member is not None:
                _evaluate_tier(program, member, SYSTEM, scheduled=True)
    return len(ids)


@transaction.atomic
def tier_set_manual(
    *, merchant: Merchant, member: Member, tier: Tier | None, actor: Actor, reason: str
) -> Member:
    """ "Adjust points and tier": set a tier by hand, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the tier is set by hand.", field="reason")
    if tier is not None and tier.merchant_id != merchant.pk:
        raise NotFound("No such tier.", field="tier")
    member = _lock(merchant, member)
    _set_tier(selectors.program(merchant), member, tier, actor, reason, manual=True)
    return member
