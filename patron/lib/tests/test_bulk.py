"""bulk_insert: COPY on PostgreSQL, bulk_create elsewhere; the rows read back the same."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from patron.audit.models import AuditEntry
from patron.contacts.models import ActivityEvent, Contact, ContactSource
from patron.integrations.models import ImportBatch, ImportRow, RowOutcome
from patron.lib.bulk import bulk_insert

pytestmark = pytest.mark.django_db


def test_inserted_rows_read_back_with_their_keys_and_values(trio, in_merchant):
    contacts = [
        Contact(
            merchant=trio.merchant,
            first_name=f"Lan{n}",
            last_name="Nguyen",
            phone=f"+8498000000{n}",
            email=f"lan{n}@example.com",
            birthday=datetime.date(1990, 1, n + 1),
            source=ContactSource.IMPORT,
            external_ids={"import": f"C{n}"},
            search_text=f"lan{n} nguyen",
        )
        for n in range(3)
    ]

    assert bulk_insert(contacts) is contacts

    assert [c.pk for c in contacts] == sorted(c.pk for c in contacts)
    assert all(not c._state.adding for c in contacts)
    stored = Contact.objects.get(pk=contacts[1].pk)
    assert (stored.first_name, str(stored.phone), stored.email) == (
        "Lan1",
        "+84980000001",
        "lan1@example.com",
    )
    assert stored.birthday == datetime.date(1990, 1, 2)
    assert stored.source == ContactSource.IMPORT
    assert stored.external_ids == {"import": "C1"}
    assert stored.created_at == contacts[1].created_at


def test_instances_made_before_their_contact_was_saved_take_its_key(trio, in_merchant):
    contact = Contact(merchant=trio.merchant, first_name="Lan", search_text="lan")
    event = ActivityEvent(merchant=trio.merchant, contact=contact, type="contact_created")
    entry = AuditEntry(merchant=trio.merchant, action="contacts.contact_create", after=None)
    entry.set_actor(trio.actor)

    bulk_insert([contact])
    bulk_insert([event])
    bulk_insert([entry])

    stored = ActivityEvent.objects.get(pk=event.pk)
    assert stored.contact_id == contact.pk
    assert stored.data == {}
    assert AuditEntry.objects.get(pk=entry.pk).actor_label == trio.actor.label


def test_a_choice_is_stored_as_its_value(trio, in_merchant):
    batch = ImportBatch.objects.create(merchant=trio.merchant, file_path="x.csv", mapping={})
    row = ImportRow(merchant=trio.merchant, batch=batch, row_number=1, outcome=RowOutcome.CREATED)

    bulk_insert([row])

    assert ImportRow.objects.filter(outcome="created").count() == 1


def test_a_taken_phone_fails_as_an_integrity_error(trio, in_merchant):
    Contact.objects.create(merchant=trio.merchant, first_name="Mark", phone="+84980000000")
    clash = Contact(merchant=trio.merchant, first_name="Other", phone="+84980000000")

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert([clash])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_on_postgresql_the_rows_go_by_copy_with_keys_from_the_sequence(trio, in_merchant):
    events = [ActivityEvent(merchant=trio.merchant, type="tag_added") for _ in range(3)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_value FROM pg_sequences WHERE sequencename = %s",
            [f"{ActivityEvent._meta.db_table}_id_seq"],
        )
        (before,) = cursor.fetchone()

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        bulk_insert(events)

    assert not any("INSERT" in q["sql"] for q in queries.captured_queries)
    assert [e.pk for e in events] == [
        (before or 0) + 1,
        (before or 0) + 2,
        (before or 0) + 3,
    ]
    assert ActivityEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 3
