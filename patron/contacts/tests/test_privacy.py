"""Privacy: export everything about a contact; erase it and keep the anti-fraud rule."""

from django_scopes import scope

from patron.audit.models import AuditEntry
from patron.contacts import privacy, services
from patron.contacts.models import ActivityEvent, Contact


def make_lan(trio):
    answer = trio.api.post(
        "/contacts",
        {"first_name": "Lan", "phone": "0988 777 666", "email": "lan@example.com", "tags": ["VIP"]},
    )
    contact_id = answer.json()["id"]
    trio.api.post(f"/contacts/{contact_id}/notes", {"text": "Allergic to peanuts"})
    return contact_id


def test_export_holds_the_contact_tags_activity_and_registered_sections(trio):
    contact_id = make_lan(trio)
    privacy.register_exporter("example", lambda merchant, contact: {"seen": contact.pk})
    try:
        answer = trio.api.get(f"/contacts/{contact_id}/export")
    finally:
        privacy.EXPORTERS.pop("example")
    assert answer.status_code == 200
    document = answer.json()
    assert document["contact"]["email"] == "lan@example.com"
    assert document["tags"] == ["VIP"]
    assert any(e["data"].get("text") == "Allergic to peanuts" for e in document["activity"])
    assert document["example"] == {"seen": int(contact_id)}


def test_outsider_cannot_export_or_erase(trio):
    contact_id = make_lan(trio)
    assert trio.outsider_api.get(f"/contacts/{contact_id}/export").status_code == 404
    assert trio.outsider_api.post(f"/contacts/{contact_id}/erase").status_code == 404
    with scope(merchant=trio.merchant):
        assert Contact.objects.get(pk=contact_id).email == "lan@example.com"


def test_erasure_removes_personal_data_and_keeps_the_phone_only_as_a_hash(trio):
    contact_id = make_lan(trio)
    assert trio.api.post(f"/contacts/{contact_id}/erase").status_code == 204
    with scope(merchant=trio.merchant):
        contact = Contact.objects.get(pk=contact_id)
        assert (contact.first_name, contact.phone, contact.email) == ("", None, None)
        assert contact.deleted_at is not None
        events = ActivityEvent.objects.filter(contact=contact)
        assert all(e.data == {} for e in events if e.type != "contact_erased")
        audit = AuditEntry.objects.filter(object_id=contact_id, object_type="contacts.Contact")
        assert all(e.before is None and e.after is None for e in audit)
        assert audit.filter(action="contacts.contact_erase").exists()
        # The number is recognised again without being stored.
        assert privacy.phone_was_erased(trio.merchant, "+84988777666")
        assert not privacy.phone_was_erased(trio.merchant, "+84988777667")
    assert trio.api.get(f"/contacts/{contact_id}").status_code == 404
    export_text = str(trio.api.get("/contacts", q="0988777666").json())
    assert "Lan" not in export_text


def test_a_new_contact_may_take_an_erased_number(trio, in_merchant):
    contact_id = make_lan(trio)
    trio.api.post(f"/contacts/{contact_id}/erase")
    again = services.contact_create(merchant=in_merchant, actor=trio.actor, phone="0988777666")
    assert str(again.phone) == "+84988777666"
