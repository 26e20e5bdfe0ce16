"""The audit trail: every staff and API write says who, when, and before / after."""

import csv
import io

from django_scopes import scope

from patron.audit.models import AuditEntry
from patron.contacts import services as contact_services
from patron.tenants import services as tenant_services


def entries(merchant, **filters):
    with scope(merchant=merchant):
        return list(AuditEntry.objects.filter(merchant=merchant, **filters).order_by("pk"))


def test_an_api_write_records_the_key_time_and_after_state(trio):
    answer = trio.api.post("/contacts", {"first_name": "Lan", "phone": "0988 777 666"})
    assert answer.status_code == 201
    [entry] = entries(trio.merchant, action="contacts.contact_create")
    assert entry.actor_kind == "api_key"
    assert entry.object_type == "contacts.Contact"
    assert entry.object_id == answer.json()["id"]
    assert entry.before is None
    assert entry.after["first_name"] == "Lan"
    assert entry.at is not None


def test_an_update_records_before_and_after(trio, in_merchant):
    contact = contact_services.contact_create(
        merchant=in_merchant, actor=trio.actor, first_name="Lan", email="lan@example.com"
    )
    contact_services.contact_update(
        merchant=in_merchant, contact=contact, actor=trio.actor, email="lan@new.example"
    )
    [entry] = entries(in_merchant, action="contacts.contact_update")
    assert entry.actor_label == trio.actor.label
    assert entry.before["email"] == "lan@example.com"
    assert entry.after["email"] == "lan@new.example"
    assert "search_text" not in entry.after


def test_a_refused_api_write_leaves_no_audit_entry(trio):
    trio.api.post("/contacts", {"first_name": "Lan", "phone": "0988 777 666"})
    refused = trio.api.post("/contacts", {"first_name": "Twin", "phone": "0988777666"})
    assert refused.status_code == 409
    assert len(entries(trio.merchant, action="contacts.contact_create")) == 1


def test_api_key_changes_are_audited_without_the_hash(trio, in_merchant):
    made = tenant_services.api_key_create(merchant=in_merchant, name="POS", actor=trio.actor)
    tenant_services.api_key_revoke(merchant=in_merchant, key_id=made.key.pk, actor=trio.actor)
    created, revoked = entries(in_merchant, object_type="tenants.ApiKey")
    assert created.action == "tenants.api_key_create"
    assert revoked.before["revoked_at"] is None and revoked.after["revoked_at"]
    assert "key_hash" not in created.after
    assert made.raw not in str(created.after)


def test_owner_exports_the_trail_as_csv(trio):
    trio.api.post("/contacts", {"first_name": "=HYPERLINK(1)", "email": "x@example.com"})
    answer = trio.login(trio.alice).get("/audit/export.csv")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    [row] = [r for r in rows if r["action"] == "contacts.contact_create"]
    assert row["actor_kind"] == "api_key"
    # Spreadsheet formulas from customer data are defused.
    assert row["object_label"].startswith("'=")
    assert '"first_name": "=HYPERLINK(1)"' in row["after"]


def test_staff_cannot_export_and_outsiders_see_only_their_own(trio):
    trio.api.post("/contacts", {"first_name": "Lan"})
    assert trio.login(trio.bob).get("/audit/export.csv").status_code == 403
    theirs = trio.login(trio.charlie).get("/audit/export.csv")
    assert theirs.status_code == 200
    assert "Lan" not in b"".join(theirs.streaming_content).decode()


def test_owner_sees_the_latest_entries(trio):
    trio.api.post("/contacts", {"first_name": "Lan"})
    page = trio.login(trio.alice).get("/audit/")
    assert page.status_code == 200
    assert b"contacts.contact_create" in page.content
    assert trio.login(trio.bob).get("/audit/").status_code == 403
