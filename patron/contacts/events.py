"""Domain events about contacts, written as ActivityEvent rows.

Each event is made by a small function named for it, so that the set of event types
and the data each carries can be read in one place. Other apps keep their own
`events.py` and write through `record`.
"""

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import Actor
from patron.lib.bulk import bulk_insert
from patron.lib.sql import insert_row
from patron.tenants.models import Merchant

logger = logging.getLogger(__name__)


@dataclass
class _FanOut:
    """The events of a `fan_out_batched` block whose transaction committed, and what is
    known of which event types workflows listen to."""

    committed: list[ActivityEvent] = field(default_factory=list)
    listened: dict[tuple[int, str], bool] = field(default_factory=dict)


_fan_out: contextvars.ContextVar[_FanOut | None] = contextvars.ContextVar("fan_out", default=None)
_deferred: contextvars.ContextVar[list[ActivityEvent] | None] = contextvars.ContextVar(
    "deferred", default=None
)


@contextmanager
def fan_out_batched() -> Iterator[None]:
    """Fan the events recorded inside this block out to webhooks once, when it ends,
    instead of once per event, and ask once per event type whether a workflow listens:
    for writers that record many events in one transaction, such as a chunk of workflow
    steps.

    The block should enclose the writer's transaction. Each event joins the batch when
    the transaction commits (an event whose savepoint was rolled back never does); if the
    block raises, nothing is fanned out. The workflows a block listens for are those
    published when it first asked.
    """
    if _fan_out.get() is not None:
        yield  # an enclosing block fans out
        return
    batch = _FanOut()
    token = _fan_out.set(batch)
    try:
        yield
    finally:
        _fan_out.reset(token)
    from patron.integrations.services import webhooks_dispatch_many

    by_merchant: dict[int, list[ActivityEvent]] = {}
    for event in batch.committed:
        by_merchant.setdefault(event.merchant_id, []).append(event)
    for events in by_merchant.values():
        try:
            webhooks_dispatch_many(events[0].merchant, events)
        except Exception:
            # As in `record`: a failing fan-out never breaks the write that caused it.
            logger.exception("webhook fan-out of %s events failed", len(events))


@contextmanager
def events_deferred() -> Iterator[None]:
    """Write the events recorded inside this block in one statement as it ends, instead of
    one statement each: for writers that record many events in one transaction and redo
    all of it when any part fails, such as a chunk of workflow steps run without
    savepoints.

    The block must run inside the writer's transaction. Until it ends, the events it
    records have no primary key and are not in the table; what runs on commit (webhooks,
    workflows listening) sees them with their keys. If the block raises, they are never
    written; an event recorded in a savepoint that is rolled back inside the block would
    still be written, so a writer with savepoints must not use it.
    """
    if _deferred.get() is not None:
        yield  # an enclosing block writes them
        return
    pending: list[ActivityEvent] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    bulk_insert(pending)


def _is_listened(merchant: Merchant, type: str) -> bool:
    from patron.automations.triggers import is_listened

    batch = _fan_out.get()
    if batch is None:
        return is_listened(merchant, type)
    key = (merchant.pk, type)
    if key not in batch.listened:
        batch.listened[key] = is_listened(merchant, type)
    return batch.listened[key]


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
    deferred = _deferred.get()
    if deferred is not None:
        deferred.append(event)
    else:
        # Fixed SQL (patron.lib.sql): nearly every write records an event.
        insert_row(event)
    # Outgoing webhooks see only committed events; robust, so a failing fan-out is
    # logged and never breaks the write that caused it.
    batch = _fan_out.get()
    if batch is not None:
        transaction.on_commit(lambda: batch.committed.append(event))
    else:
        from patron.integrations.services import webhooks_dispatch

        transaction.on_commit(lambda: webhooks_dispatch(event), robust=True)
    # Workflows triggered by this event start in a background task after commit.
    if contact is not None and _is_listened(merchant, type):
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
    listened = {t for t in {e.type for e in created} if _is_listened(merchant, t)}
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
