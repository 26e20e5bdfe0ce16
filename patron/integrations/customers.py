"""Customers arriving from a POS or a store, matched to contacts.

A customer is found by the platform's own id (kept in `contact.external_ids[source]`)
or by phone. A changed phone goes through `contact_update`, so the phone-change rule of
seed 004 applies: the old membership stays with the old number, the new number gets a
new, not activated member (loyalty's hook in the contact services).
"""

import datetime
from typing import Any

from django.db import transaction

from patron.contacts import services as contacts
from patron.contacts.models import Contact
from patron.lib.actors import Actor
from patron.lib.phones import parse_phone
from patron.tenants.models import Merchant


def contact_for_external_id(merchant: Merchant, source: str, external_id: str) -> Contact | None:
    if not external_id:
        return None
    return Contact.objects.filter(
        merchant=merchant, deleted_at__isnull=True, **{f"external_ids__{source}": external_id}
    ).first()


def contact_for_phone(merchant: Merchant, phone_e164: str | None) -> Contact | None:
    if not phone_e164:
        return None
    return Contact.objects.filter(
        merchant=merchant, deleted_at__isnull=True, phone=phone_e164
    ).first()


@transaction.atomic
def customer_upsert(
    *,
    merchant: Merchant,
    actor: Actor,
    source: str,
    external_id: str = "",
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    birthday: datetime.date | None = None,
) -> tuple[Contact, bool]:
    """The contact for this customer, created or brought up to date; True when created."""
    external_id = (external_id or "").strip()
    phone_e164 = parse_phone(phone, merchant.country) if phone else None
    contact = contact_for_external_id(merchant, source, external_id) or contact_for_phone(
        merchant, phone_e164
    )
    if contact is None:
        contact = contacts.contact_create(
            merchant=merchant,
            actor=actor,
            first_name=first_name or "",
            last_name=last_name or "",
            phone=phone_e164,
            email=email or None,
            birthday=birthday,
            source=source,
            external_ids={source: external_id} if external_id else {},
        )
        return contact, True
    changes: dict[str, Any] = {}
    for name, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("email", (email or "").lower() or None),
        ("birthday", birthday),
        ("phone", phone_e164),
    ):
        # A field the platform leaves empty never blanks what staff typed in Patron.
        if value and str(getattr(contact, name) or "") != str(value):
            changes[name] = value
    if changes:
        contact = contacts.contact_update(
            merchant=merchant, contact=contact, actor=actor, **changes
        )
    if external_id and contact.external_ids.get(source) != external_id:
        # Linking the platform's id is bookkeeping, not a change staff need to see.
        contact.external_ids = {**contact.external_ids, source: external_id}
        Contact.objects.filter(merchant=merchant, pk=contact.pk).update(
            external_ids=contact.external_ids
        )
    return contact, False
