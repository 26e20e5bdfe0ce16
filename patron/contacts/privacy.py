"""A contact's personal data: export it all as JSON, or erase it.

Other apps hold data about a contact too (member, coupons, messages). Each adds itself
to the registries here from its AppConfig.ready() or module import:

    from patron.contacts import privacy
    privacy.register_exporter("coupons", lambda merchant, contact: [...JSON-safe...])
    privacy.register_eraser("messaging", lambda merchant, contact, actor: None)

An exporter returns JSON-safe data; an eraser removes or hashes personal data in its
own tables (it runs inside the erasure's transaction, before the contact's own fields
are cleared, so it can still read them). Ledgers and totals stay.

`personal_values` and `redact_rows` help erasers find and blank the customer's name,
phone and email in free text (reasons, message bodies, actor labels, JSON data).
"""

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone

from patron.audit.models import AuditEntry, ErasedPhone
from patron.audit.services import audit_record, snapshot
from patron.contacts import events
from patron.contacts.models import ActivityEvent, Contact, ContactTag
from patron.lib.actors import Actor
from patron.tenants.models import Merchant

Exporter = Callable[[Merchant, Contact], Any]
Eraser = Callable[[Merchant, Contact, Actor], None]
EXPORTERS: dict[str, Exporter] = {}
ERASERS: dict[str, Eraser] = {}


def register_exporter(name: str, exporter: Exporter) -> None:
    EXPORTERS[name] = exporter


def register_eraser(name: str, eraser: Eraser) -> None:
    ERASERS[name] = eraser


def phone_hash(phone: str) -> str:
    # Keyed, so the hash of a phone number cannot be found by hashing every number.
    return hmac.new(settings.SECRET_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()


def phone_was_erased(merchant: Merchant, phone: str) -> bool:
    return ErasedPhone.objects.filter(merchant=merchant, phone_hash=phone_hash(phone)).exists()


ERASED = "[erased]"


def personal_values(contact: Contact) -> list[str]:
    """The contact's name, phone (as stored and as dialled at home) and email."""
    values = {contact.first_name, contact.last_name, contact.email or ""}
    if contact.first_name and contact.last_name:
        values.add(f"{contact.first_name} {contact.last_name}")
    if contact.phone:
        values.add(str(contact.phone))
        national = str(getattr(contact.phone, "national_number", "") or "")
        if len(national) >= 6:
            values.update({national, "0" + national})
    # Longest first, so "+84988777666" is replaced whole before its national digits.
    return sorted((v.strip() for v in values if len(v.strip()) >= 2), key=len, reverse=True)


def _pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    # Whole words only: erasing "An" must not turn "Anniversary" into "[erased]niversary".
    parts = [rf"(?<!\w){re.escape(v)}(?!\w)" for v in values]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def redact(value: Any, values: Iterable[str]) -> Any:
    """`value` (text or JSON) with every personal value replaced by "[erased]"."""
    pattern = _pattern(values)
    if pattern is None:
        return value
    return _redact(value, pattern)


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_redact(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, pattern) for k, v in value.items()}
    return value


def redact_rows(queryset: "models.QuerySet[Any]", fields: list[str], values: list[str]) -> int:
    """Blank the personal values in `fields` (text or JSON) of the rows that mention them.

    Updates through the queryset, not save(): append-only rows (the ledger) keep their
    amounts and times, only the words naming the customer go. Returns the rows changed.
    """
    if not values or not fields:
        return 0
    scanned = queryset.annotate(
        **{f"_text_{name}": Cast(name, models.TextField()) for name in fields}
    )
    # JSON stored as text may hold "Qu\\u1ef3nh" for "Quỳnh" (SQLite keeps the escapes).
    needles = set(values) | {json.dumps(v)[1:-1] for v in values}
    mentions = Q()
    for name in fields:
        for needle in needles:
            mentions |= Q(**{f"_text_{name}__icontains": needle})
    changed = 0
    for row in scanned.filter(mentions).values("pk", *fields):
        update = {}
        for name in fields:
            cleaned = redact(row[name], values)
            if cleaned != row[name]:
                update[name] = cleaned
        if update:
            changed += queryset.model._base_manager.filter(pk=row["pk"]).update(**update)
    return changed


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


@transaction.atomic
def contact_export(*, merchant: Merchant, contact: Contact, actor: Actor) -> dict[str, Any]:
    """Everything Patron holds about the contact, as one JSON document.

    Handing out a customer's data is itself recorded: the audit log says who exported
    whose data and when (not the data)."""
    activity = ActivityEvent.objects.filter(merchant=merchant, contact=contact).order_by("at")
    document: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "merchant": merchant.name,
        "contact": snapshot(contact, exclude=["search_text", "merchant"]),
        "tags": [ct.tag.name for ct in ContactTag.objects.filter(contact=contact)],
        "activity": [
            {"type": e.type, "at": e.at.isoformat(), "actor": e.actor_label, "data": e.data}
            for e in activity
        ],
    }
    for name, exporter in sorted(EXPORTERS.items()):
        document[name] = _json(exporter(merchant, contact))
    audit_record(merchant=merchant, actor=actor, action="contacts.contact_export", obj=contact)
    return document


@transaction.atomic
def contact_erase(
    *, merchant: Merchant, contact: Contact, actor: Actor, reason: str = ""
) -> Contact:
    """Remove the contact's personal data for good; keep the row for ledgers and reports.

    The reason staff give is kept (with the customer's own details blanked out of it)."""
    contact = Contact.objects.select_for_update().get(merchant=merchant, pk=contact.pk)
    values = personal_values(contact)
    why = {"reason": redact(" ".join(reason.split())[:500], values)} if reason.strip() else None
    if contact.phone:
        ErasedPhone.objects.create(merchant=merchant, phone_hash=phone_hash(str(contact.phone)))
    for eraser in ERASERS.values():
        eraser(merchant, contact, actor)
    now = timezone.now()
    contact.first_name = contact.last_name = contact.search_text = ""
    contact.phone = contact.email = contact.birthday = None
    contact.external_ids = {}
    contact.deleted_at = contact.deleted_at or now
    contact.deleted_by = contact.deleted_by or actor.label
    contact.delete_reason = "Personal data erased"
    contact.updated_at = now
    contact.save()
    ContactTag.objects.filter(contact=contact).delete()
    # Notes and event data may quote the customer; the event types and times stay.
    ActivityEvent.objects.filter(merchant=merchant, contact=contact).update(data={})
    # The customer acting on the page is named by phone in the actor columns.
    customer_rows = ActivityEvent.objects.filter(merchant=merchant, actor_kind="customer")
    redact_rows(customer_rows, ["actor_label"], values)
    events.record(merchant=merchant, type="contact_erased", actor=actor, contact=contact, data=why)
    # Earlier audit entries copied the contact's fields; keep who did what and when.
    AuditEntry.objects.filter(
        merchant=merchant, object_type="contacts.Contact", object_id=str(contact.pk)
    ).update(before=None, after=None, object_label=f"#{contact.pk} (erased)")
    # The audit keeps who erased whom and when, not the erased data.
    audit_record(
        merchant=merchant, actor=actor, action="contacts.contact_erase", obj=contact, after=why
    )
    return contact
