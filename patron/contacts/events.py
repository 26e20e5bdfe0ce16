"""Domain events about contacts, written as ActivityEvent rows.

Each event is made by a small function named for it, so that the set of event types
and the data each carries can be read in one place. Other apps keep their own
`events.py` and write through `record`.
"""

from typing import Any

from django.db import transaction

from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import Actor
from patron.lib.bulk import bulk_insert
from patron.lib.sql import insert_row
from patron.tenants.models import Merchant


def record(
    *,
    merchant: Merchant,
    type: str,
    actor: Actor,
    contact: Contact | None = None,
    data: dict[str, Any] | None = None,
) -> ActivityEvent:
    event = ActivityEvent(merchant=merchant, contact=contact, type=type, data=data or {})
    event.set_actor(actor)
    # Fixed SQL (patron.lib.sql): nearly every write records an event.
    insert_row(event)
    # Outgoing webhooks see only committed events; robust, so a failing fan-out is
    # logged and never breaks the write that caused it.
    from patron.integrations.services import webhooks_dispatch

    transaction.on_commit(lambda: webhooks_dispatch(event), robust=True)
    # Workflows triggered by this event start in a background task after commit.
    from patron.automations.triggers import is_listened

    if contact is not None and is_listened(merchant, type):
        from patron.automations.tasks import dispatch_event

        transaction.on_commit(lambda: dispatch_event.enqueue(event.pk), robust=True)
    return event


def record_many(
    *,
    merchant: Merchant,
    actor: Actor,
    items: list[tuple[str, Contact | None, dict[str, Any]]],
) -> list[ActivityEvent]:
    """`record` for many (type, contact, data) at once, in that order, for bulk writers
    such as the CSV import: one insert, one webhook fan-out and one automations check
    per event type, instead of a few queries per event."""
    if not items:
        return []
    rows = []
    for type, contact, data in items:
        event = ActivityEvent(merchant=merchant, contact=contact, type=type, data=data)
        event.set_actor(actor)
        rows.append(event)
    created = bulk_insert(rows)
    from patron.integrations.services import webhooks_dispatch_many

    transaction.on_commit(lambda: webhooks_dispatch_many(merchant, created), robust=True)
    from patron.automations.triggers import is_listened

    listened = {t for t in {e.type for e in created} if is_listened(merchant, t)}
    if listened:
        from patron.automations.tasks import dispatch_event

        for event in created:
            if event.contact_id is not None and event.type in listened:
                transaction.on_commit(
                    lambda pk=event.pk: dispatch_event.enqueue(pk),  # type: ignore[misc]
                    robust=True,
                )
    return created


def contact_created(*, contact: Contact, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="contact_created",
        actor=actor,
        contact=contact,
        data={"source": contact.source, "phone": str(contact.phone or "")},
    )


def contact_updated(*, contact: Contact, actor: Actor, changes: dict[str, Any]) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="contact_updated",
        actor=actor,
        contact=contact,
        data={"changes": changes},
    )


def contact_deleted(*, contact: Contact, actor: Actor, reason: str) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="contact_deleted",
        actor=actor,
        contact=contact,
        data={"reason": reason},
    )


def tag_added(*, contact: Contact, tag: str, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="tag_added",
        actor=actor,
        contact=contact,
        data={"tag": tag},
    )


def tag_removed(*, contact: Contact, tag: str, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="tag_removed",
        actor=actor,
        contact=contact,
        data={"tag": tag},
    )


def note_added(*, contact: Contact, text: str, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="note_added",
        actor=actor,
        contact=contact,
        data={"text": text},
    )
