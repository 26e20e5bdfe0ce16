"""Domain events about members, points and tiers, written to the activity timeline.

They land on the member's contact when it has one; a detached member's events (seed
004: the contact moved to another phone) are still recorded, for the merchant at large.
"""

from typing import Any

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor
from patron.loyalty.models import LedgerEntry, Member, Tier


def _member(member: Member) -> dict[str, Any]:
    return {"member_id": str(member.pk), "phone": member.phone}


def _write(type: str, member: Member, actor: Actor, **data: Any) -> ActivityEvent:
    return record(
        merchant=member.merchant,
        type=type,
        actor=actor,
        contact=member.contact,
        data={**_member(member), **data},
    )


def _entry(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry_id": str(entry.pk),
        "kind": entry.kind,
        "amount": entry.amount,
        "category": entry.category.name if entry.category else None,
        "reason": entry.reason,
        "source": entry.source,
        "reference": entry.reference,
        "balance": entry.balance_after,
    }


def member_created(*, member: Member, actor: Actor) -> ActivityEvent:
    return _write("member_created", member, actor, status=member.status)


def member_activated(*, member: Member, actor: Actor, reason: str) -> ActivityEvent:
    return _write("member_activated", member, actor, reason=reason)


def member_excluded(*, member: Member, actor: Actor, reason: str) -> ActivityEvent:
    return _write("member_excluded", member, actor, reason=reason)


def member_detached(*, member: Member, contact: Any, actor: Actor, new_phone: str) -> ActivityEvent:
    # Written before `member.contact` is cleared would be lost from the timeline, so the
    # contact is passed explicitly.
    return record(
        merchant=member.merchant,
        type="member_detached",
        actor=actor,
        contact=contact,
        data={**_member(member), "new_phone": new_phone, "points": member.points_available},
    )


def member_deleted(*, member: Member, actor: Actor, reason: str) -> ActivityEvent:
    return _write("member_deleted", member, actor, reason=reason)


def points_earned(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_earned", member, actor, **_entry(entry))


def points_adjusted(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_adjusted", member, actor, **_entry(entry))


def points_transferred(
    *, member: Member, entry: LedgerEntry, other: Member, actor: Actor
) -> ActivityEvent:
    return _write(
        "points_transferred", member, actor, other_member_id=str(other.pk), **_entry(entry)
    )


def points_redeemed(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_redeemed", member, actor, **_entry(entry))


def points_returned(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_returned", member, actor, **_entry(entry))


def points_reversed(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_reversed", member, actor, **_entry(entry), **entry.data)


def points_expired(*, member: Member, entry: LedgerEntry, actor: Actor) -> ActivityEvent:
    return _write("points_expired", member, actor, **_entry(entry))


def points_activated(*, member: Member, amount: int, actor: Actor) -> ActivityEvent:
    return _write("points_activated", member, actor, amount=amount)


def tier_changed(
    *, member: Member, old: Tier | None, new: Tier | None, actor: Actor, reason: str, manual: bool
) -> ActivityEvent:
    return _write(
        "tier_changed",
        member,
        actor,
        old_tier=old.name if old else None,
        new_tier=new.name if new else None,
        reason=reason,
        manual=manual,
    )
