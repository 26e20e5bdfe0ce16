"""A contact's memberships in the privacy export and erasure (see patron.contacts.privacy).

Erasure keeps every membership row, its balances and its ledger (reports and totals
stay right) but takes the phone off it: the membership is soft-deleted with an empty
phone, so a new customer on the same number starts a new membership instead of taking
over the erased one's points (seed 004's anti-fraud rule). The number itself is kept
only as the keyed hash in `ErasedPhone`, written by the contact's erasure.
"""

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from patron.contacts.models import Contact
from patron.contacts.privacy import personal_values, redact_rows
from patron.lib.actors import Actor
from patron.loyalty.models import LedgerEntry, Member
from patron.tenants.models import Merchant


def _members(merchant: Merchant, contact: Contact) -> "QuerySet[Member]":
    mine = Q(contact=contact)
    if contact.phone:
        # Memberships left on this number by earlier contacts are the same person's data.
        mine |= Q(phone=str(contact.phone))
    return Member.objects.filter(merchant=merchant).filter(mine).order_by("pk")


def loyalty_export(merchant: Merchant, contact: Contact) -> list[dict[str, Any]]:
    return [
        {
            "phone": member.phone,
            "status": member.status,
            "tier": member.tier.name if member.tier else None,
            "points_available": member.points_available,
            "points_pending": member.points_pending,
            "points_lifetime": member.points_lifetime,
            "created_at": member.created_at,
            "ledger": [
                {
                    "kind": entry.kind,
                    "amount": entry.amount,
                    "reason": entry.reason,
                    "source": entry.source,
                    "reference": entry.reference,
                    "balance_after": entry.balance_after,
                    "created_at": entry.created_at,
                }
                for entry in LedgerEntry.objects.filter(merchant=merchant, member=member).order_by(
                    "pk"
                )
            ],
        }
        for member in _members(merchant, contact).select_related("tier")
    ]


def loyalty_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    values = personal_values(contact)
    members = list(_members(merchant, contact).select_for_update())
    now = timezone.now()
    for member in members:
        # Not save(): the row's balances must stay exactly as the ledger left them.
        Member.objects.filter(pk=member.pk).update(
            phone="",
            deleted_at=member.deleted_at or now,
            deleted_by=member.deleted_by or actor.label,
            updated_at=now,
        )
    mine = Member.objects.filter(pk__in=[m.pk for m in members])
    redact_rows(mine, ["status_changed_by", "status_reason", "tier_manual_reason"], values)
    # Ledger rows are never changed, except that words naming the erased customer go;
    # amounts, kinds and times stay.
    entries = LedgerEntry.objects.filter(merchant=merchant, member__in=mine)
    redact_rows(entries, ["reason", "reference"], values)
    redact_rows(
        LedgerEntry.objects.filter(merchant=merchant, actor_kind="customer"),
        ["actor_label"],
        values,
    )
