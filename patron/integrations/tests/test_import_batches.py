"""The import writes each batch of rows together: what a one-by-one write did must hold."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.audit.models import AuditEntry
from patron.contacts import services as contacts
from patron.contacts.models import ActivityEvent, Contact, ContactSource, Tag
from patron.integrations import imports
from patron.integrations.models import ImportRow, RowOutcome, WebhookDelivery
from patron.integrations.tests.factories import WebhookEndpointFactory
from patron.integrations.tests.test_imports import GOOD, errors, run, write_csv
from patron.loyalty.models import Member

pytestmark = pytest.mark.django_db


def people(count, start=0):
    return [
        [f"p{i}", f"Person {i}", f"09800{i:05d}", f"p{i}@example.com", "", "vip"]
        for i in range(start, start + count)
    ]


def timeline(contact):
    events = ActivityEvent.objects.filter(contact=contact).order_by("pk")
    return [(event.type, sorted(event.data)) for event in events]


def test_an_imported_contact_has_the_events_trail_and_membership_of_contact_create(
    trio, in_merchant, tmp_path
):
    by_hand = contacts.contact_create(
        merchant=trio.merchant,
        actor=trio.actor,
        first_name="Mark",
        phone="0980000009",
        tags=["vip"],
        source=ContactSource.IMPORT,
    )
    run(trio, write_csv(tmp_path / "c.csv", GOOD[:1]))
    imported = Contact.objects.get(phone="+84980000001")

    assert timeline(imported) == timeline(by_hand)
    assert [e.data["tag"] for e in ActivityEvent.objects.filter(type="tag_added")] == ["vip"] * 2
    created = ActivityEvent.objects.get(contact=imported, type="contact_created")
    assert created.data == {"source": "import", "phone": "+84980000001"}
    assert created.actor_label == trio.actor.label
    member = Member.objects.get(contact=imported)
    assert (member.phone, member.status) == ("+84980000001", "not_activated")
    joined = ActivityEvent.objects.get(contact=imported, type="member_created")
    assert joined.data == {
        "member_id": str(member.pk),
        "phone": member.phone,
        "status": "not_activated",
    }

    def trail(contact):
        entries = AuditEntry.objects.filter(object_type="contacts.Contact", object_id=contact.pk)
        return sorted(entries.values_list("action", flat=True))

    assert trail(imported) == trail(by_hand)
    entry = AuditEntry.objects.get(action="contacts.contact_create", object_id=imported.pk)
    assert entry.after["phone"] == "+84980000001" and entry.after["id"] == imported.pk


def test_the_same_phone_twice_in_one_batch_and_across_batches_is_a_duplicate(
    trio, in_merchant, tmp_path, monkeypatch
):
    monkeypatch.setattr(imports, "BATCH_SIZE", 3)
    rows = [
        ["a1", "Ann", "0980000001", "", "", ""],  # row 1
        ["a2", "Ann Twin", "0980.000.001", "", "", ""],  # row 2: row 1's phone
        ["", "Bea", "0980000002", "", "", ""],  # row 3
        ["a4", "Bea Later", "+84 980 000 002", "", "", ""],  # row 4: next batch, row 3's phone
        ["a1", "Ann Again", "0980000005", "", "", ""],  # row 5: row 1's external id
        ["a6", "Bad", "12", "", "", ""],  # row 6: an error is nobody's original
        ["a7", "Cal", "12", "", "", ""],  # row 7
    ]
    batch = run(trio, write_csv(tmp_path / "c.csv", rows))

    assert errors(batch) == {
        2: "Duplicate of row 1.",
        4: "Duplicate of row 3.",
        5: "Duplicate of row 1.",
        6: "Bad phone number '12'.",
        7: "Bad phone number '12'.",
    }
    assert Contact.objects.count() == 2


def test_rows_that_reach_one_contact_twice_apply_in_order(trio, in_merchant, tmp_path):
    run(trio, write_csv(tmp_path / "a.csv", [["m1", "Mark Nguyen", "0980000001", "", "", ""]]))
    header = ["Customer ID", "Phone", "Email", "Tags"]
    rows = [
        ["m1", "", "first@example.com", "vip"],  # found by its external id
        ["", "0980000001", "second@example.com", "VIP; new"],  # the same contact by phone
    ]
    batch = run(trio, write_csv(tmp_path / "b.csv", rows, header=header))

    found = ImportRow.objects.filter(batch=batch).order_by("row_number")
    assert [(r.outcome, r.message) for r in found] == [
        ("updated", "email, tags"),
        ("updated", "email, tags"),
    ]
    mark = Contact.objects.get()
    assert mark.email == "second@example.com"
    assert sorted(mark.tags.values_list("name", flat=True)) == ["new", "vip"]
    updates = ActivityEvent.objects.filter(contact=mark, type="contact_updated").order_by("pk")
    assert [e.data["changes"]["email"] for e in updates] == [
        {"from": "", "to": "first@example.com"},
        {"from": "first@example.com", "to": "second@example.com"},
    ]
    assert Tag.objects.filter(merchant=trio.merchant).count() == 2


def test_a_changed_phone_moves_to_a_new_membership_and_frees_the_old_number(
    trio, in_merchant, tmp_path
):
    run(trio, write_csv(tmp_path / "a.csv", [["m1", "Mark", "0980000001", "", "", ""]]))
    rows = [
        ["m1", "Mark", "0980000002", "", "", ""],  # Mark's new number
        ["n1", "Nam", "0980000001", "", "", ""],  # Mark's old number, for someone new
    ]
    batch = run(trio, write_csv(tmp_path / "b.csv", rows))

    assert batch.counts["import"] == {"created": 1, "updated": 1, "unchanged": 0, "error": 0}
    mark = Contact.objects.get(external_ids={"import": "m1"})
    nam = Contact.objects.get(external_ids={"import": "n1"})
    assert (str(mark.phone), str(nam.phone)) == ("+84980000002", "+84980000001")
    assert Member.objects.get(phone="+84980000002").contact == mark
    # Seed 004: the old number's membership waits for whoever holds the number.
    assert Member.objects.get(phone="+84980000001").contact == nam


def test_a_phone_another_contact_holds_is_reported_and_nothing_changes(trio, in_merchant, tmp_path):
    run(trio, write_csv(tmp_path / "a.csv", GOOD))
    batch = run(trio, write_csv(tmp_path / "b.csv", [["c1", "Mark", "0980000002", "", "", ""]]))

    assert errors(batch) == {1: "Another contact already has this phone number"}
    assert str(Contact.objects.get(external_ids={"import": "c1"}).phone) == "+84980000001"


def test_a_second_run_writes_no_event_audit_entry_or_member(trio, in_merchant, tmp_path):
    path = write_csv(tmp_path / "c.csv", people(30))
    run(trio, path)
    before = (ActivityEvent.objects.count(), AuditEntry.objects.count(), Member.objects.count())

    again = run(trio, path)

    assert again.counts["import"]["unchanged"] == 30
    after = (ActivityEvent.objects.count(), AuditEntry.objects.count(), Member.objects.count())
    assert after == before


def test_undo_deletes_only_the_contacts_the_batch_created(trio, in_merchant, tmp_path):
    run(trio, write_csv(tmp_path / "a.csv", GOOD[:1]))
    rows = [["c1", "Mark", "0980000001", "new@example.com", "", ""], *people(3, start=10)]
    batch = run(trio, write_csv(tmp_path / "b.csv", rows))
    assert batch.counts["import"]["created"] == 3

    assert imports.import_undo(merchant=trio.merchant, batch=batch, actor=trio.actor) == 3
    live = Contact.objects.filter(deleted_at__isnull=True)
    assert list(live.values_list("email", flat=True)) == ["new@example.com"]


def test_a_batch_takes_the_same_number_of_queries_whatever_its_size(trio, in_merchant, tmp_path):
    def queries(rows, name):
        batch = imports.import_create(
            merchant=trio.merchant,
            actor=trio.actor,
            path=write_csv(tmp_path / name, rows),
            file_name=name,
        )
        imports.import_start(
            merchant=trio.merchant, batch=batch, actor=trio.actor, dry_run=False, enqueue=False
        )
        with CaptureQueriesContext(connection) as captured:
            imports.import_run(merchant=trio.merchant, batch_id=batch.pk)
        return len(captured)

    Tag.objects.create(merchant=trio.merchant, name="vip")
    small, large = queries(people(5), "a.csv"), queries(people(60, start=5), "b.csv")
    assert small == large
    assert large <= 30


def test_imported_contacts_events_reach_the_webhook_endpoints_once_each(
    trio, in_merchant, tmp_path, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(merchant=trio.merchant, event_types=["contact_created"])
    with django_capture_on_commit_callbacks(execute=True):
        run(trio, write_csv(tmp_path / "c.csv", GOOD))

    sent = WebhookDelivery.objects.filter(merchant=trio.merchant)
    assert sorted(d.payload["data"]["phone"] for d in sent) == [
        "+84980000001",
        "+84980000002",
        "+84980000003",
    ]
    assert {d.event_type for d in sent} == {"contact_created"}


def test_a_dry_run_decides_like_the_import(trio, in_merchant, tmp_path):
    run(trio, write_csv(tmp_path / "a.csv", [["m1", "Mark", "0980000001", "", "", ""]]))
    rows = [["m1", "Mark", "0980000002", "", "", ""], ["n1", "Nam", "0980000001", "", "", ""]]
    path = write_csv(tmp_path / "b.csv", rows)
    checked = run(trio, path, dry_run=True)
    imported = run(trio, path)

    assert checked.counts["dry_run"] == imported.counts["import"]
    assert not ImportRow.objects.filter(dry_run=True, outcome=RowOutcome.ERROR).exists()
