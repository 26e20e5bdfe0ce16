"""A contact's personal data: export it all as JSON, or erase it.

Other apps hold data about a contact too (member, coupons, messages). Each adds itself
to the registries here from its AppConfig.ready() or module import:

    from patron.contacts import privacy
    privacy.register_exporter("coupons", lambda merchant, contact: [...JSON-safe...])
    privacy.register_eraser("messaging", lambda merchant, contact, actor: None)

An exporter returns JSON-safe data; an eraser removes or hashes personal data in its
own tables (it runs inside the erasure's transaction). Ledgers and totals stay.
"""

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
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


def _json(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def contact_export(*, merchant: Merchant, contact: Contact) -> dict[str, Any]:
    """Everything Patron holds about the contact, as one JSON document."""
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
    return document


@transaction.atomic
def contact_erase(*, merchant: Merchant, contact: Contact, actor: Actor) -> Contact:
    """Remove the contact's personal data for good; keep the row for ledgers and reports."""
    contact = Contact.objects.select_for_update().get(merchant=merchant, pk=contact.pk)
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
    events.record(merchant=merchant, type="contact_erased", actor=actor, contact=contact)
    # Earlier audit entries copied the contact's fields; keep who did what and when.
    AuditEntry.objects.filter(
        merchant=merchant, object_type="contacts.Contact", object_id=str(contact.pk)
    ).update(before=None, after=None, object_label=f"#{contact.pk} (erased)")
    # The audit keeps who erased whom and when, not the erased data.
    audit_record(merchant=merchant, actor=actor, action="contacts.contact_erase", obj=contact)
    return contact
