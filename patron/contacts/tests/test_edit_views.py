"""Edit contact, Export data and Erase contact from the contact profile."""

import json

import pytest
from django_scopes import scope

from patron.audit.models import AuditEntry
from patron.contacts import services
from patron.contacts.models import Contact
from patron.factories import StaffAccessFactory, UserFactory
from patron.loyalty.models import Member, MemberStatus
from patron.loyalty.services import member_activate, member_ensure, points_give
from patron.tenants.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def mark(trio):
    with scope(merchant=trio.merchant):
        mark = services.contact_create(
            merchant=trio.merchant,
            actor=trio.actor,
            first_name="Mark",
            last_name="Lee",
            phone="0980000000",
            tags=["VIP", "Regular"],
        )
        member = member_ensure(merchant=trio.merchant, contact=mark, actor=trio.actor)
        member_activate(merchant=trio.merchant, member=member, actor=trio.actor, reason="ok")
        points_give(merchant=trio.merchant, member=member, amount=120, actor=trio.actor)
        return mark


def _edit(client, contact, **changes):
    data = {
        "first_name": "Mark",
        "last_name": "Lee",
        "phone": "0980000000",
        "email": "",
        "birthday": "",
        "tags": "VIP, Regular",
    }
    data.update(changes)
    return client.post(f"/contacts/{contact.pk}/edit/", data)


def test_the_edit_form_shows_the_contact_as_it_is(trio, mark):
    page = trio.login(trio.bob).get(f"/contacts/{mark.pk}/edit/").content.decode()
    assert 'value="+84980000000"' in page and 'value="VIP, Regular"' in page


def test_staff_change_a_phone_typed_in_a_local_format_and_seed_004_applies(trio, mark):
    answer = _edit(trio.login(trio.bob), mark, phone="0912.345.678", birthday="1990-05-17")
    assert answer.status_code == 302
    with scope(merchant=trio.merchant):
        mark.refresh_from_db()
        old = Member.objects.get(phone="+84980000000")
        new = Member.objects.get(phone="+84912345678")
    assert str(mark.phone) == "+84912345678" and str(mark.birthday) == "1990-05-17"
    # The old membership keeps its points and leaves the contact; the new one starts over.
    assert old.contact_id is None and old.points_available == 120
    assert new.contact_id == mark.pk and new.status == MemberStatus.NOT_ACTIVATED
    assert new.points_available == 0


def test_tags_are_added_and_removed_to_match_the_form(trio, mark):
    _edit(trio.login(trio.alice), mark, tags="vip, Birthday club")
    with scope(merchant=trio.merchant):
        names = sorted(ct.tag.name for ct in Contact.objects.get(pk=mark.pk).contact_tags.all())
    assert names == ["Birthday club", "VIP"]


def test_a_taken_phone_is_shown_next_to_the_field_and_nothing_changes(trio, mark):
    with scope(merchant=trio.merchant):
        services.contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Ann", phone="0912345678"
        )
    answer = _edit(trio.login(trio.bob), mark, phone="+84 912 345 678", first_name="Marcus")
    assert answer.status_code == 422
    page = answer.content.decode()
    assert "Another contact already has this phone number." in page
    assert 'id="id_phone-error"' in page
    with scope(merchant=trio.merchant):
        mark.refresh_from_db()
    assert (mark.first_name, str(mark.phone)) == ("Mark", "+84980000000")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"birthday": "17/17/1990"}, "birthday"),
        ({"first_name": "", "last_name": "", "phone": "", "email": ""}, None),
    ],
)
def test_invalid_values_are_shown_inline_never_a_server_error(trio, mark, changes, field):
    answer = _edit(trio.login(trio.bob), mark, **changes)
    assert answer.status_code == 422
    page = answer.content.decode()
    assert 'role="alert"' in page
    if field:
        assert f'id="id_{field}-error"' in page


def test_the_edit_page_speaks_vietnamese(trio, mark):
    client = trio.login(trio.bob)
    client.cookies["django_language"] = "vi"
    answer = _edit(client, mark, phone="12")
    page = answer.content.decode()
    assert "Sửa thông tin khách hàng" in page
    assert "This is not a valid phone number." not in page


def test_outsiders_cannot_see_or_change_the_contact(trio, mark):
    charlie = trio.login(trio.charlie)
    assert charlie.get(f"/contacts/{mark.pk}/edit/").status_code == 404
    assert _edit(charlie, mark, first_name="Hacked").status_code == 404
    assert charlie.get(f"/contacts/{mark.pk}/export/").status_code == 404
    assert charlie.post(f"/contacts/{mark.pk}/erase/", {"reason": "x"}).status_code == 404
    with scope(merchant=trio.merchant):
        mark.refresh_from_db()
    assert mark.first_name == "Mark" and mark.deleted_at is None


def test_export_and_erase_are_for_owners_and_managers_only(trio, mark):
    bob = trio.login(trio.bob)
    assert bob.get(f"/contacts/{mark.pk}/export/").status_code == 403
    assert bob.post(f"/contacts/{mark.pk}/erase/", {"reason": "asked"}).status_code == 403
    profile = bob.get(f"/contacts/{mark.pk}/").content.decode()
    assert "Edit contact" in profile
    assert "Export data" not in profile and "Erase contact" not in profile
    with scope(merchant=trio.merchant):
        mark.refresh_from_db()
    assert mark.deleted_at is None


def test_a_manager_downloads_the_contacts_data_as_json(trio, mark):
    manager = UserFactory(email="mia@example.com")
    StaffAccessFactory(user=manager, merchant=trio.merchant, role=Role.MANAGER)
    client = trio.login(manager)
    assert "Export data" in client.get(f"/contacts/{mark.pk}/").content.decode()
    answer = client.get(f"/contacts/{mark.pk}/export/")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == f'attachment; filename="contact-{mark.pk}.json"'
    document = json.loads(answer.content)
    assert document["contact"]["first_name"] == "Mark"
    assert sorted(document["tags"]) == ["Regular", "VIP"]
    # Who took the customer's data, and when, is on the audit log; the data is not.
    with scope(merchant=trio.merchant):
        entry = AuditEntry.objects.get(action="contacts.contact_export")
    assert (entry.actor_label, entry.object_id) == ("mia@example.com", str(mark.pk))
    assert entry.after is None


def test_erase_asks_for_a_reason_and_records_who_and_why(trio, mark):
    client = trio.login(trio.alice)
    profile = client.get(f"/contacts/{mark.pk}/").content.decode()
    assert '<dialog id="erase-contact"' in profile
    refused = client.post(f"/contacts/{mark.pk}/erase/", {"reason": " "}, follow=True)
    assert "Say why the contact is erased." in refused.content.decode()
    with scope(merchant=trio.merchant):
        assert Contact.objects.get(pk=mark.pk).deleted_at is None
    answer = client.post(f"/contacts/{mark.pk}/erase/", {"reason": "Customer asked by email"})
    assert answer.status_code == 302 and answer["Location"] == "/contacts/"
    with scope(merchant=trio.merchant):
        mark.refresh_from_db()
        entry = AuditEntry.objects.get(action="contacts.contact_erase")
    assert mark.first_name == "" and mark.phone is None and mark.deleted_at is not None
    assert entry.after == {"reason": "Customer asked by email"}
    assert entry.actor_label == trio.actor.label
    assert client.get(f"/contacts/{mark.pk}/").status_code == 404


def test_the_edit_page_has_no_english_left_in_vietnamese(demo):
    from django.utils import translation
    from django.utils.translation import trans_real

    from patron.reports.tests.test_vietnamese import (
        ALWAYS_THE_SAME,
        is_data,
        owner,
        stored_strings,
        visible_texts,
    )

    with scope(merchant=demo.merchant):
        mark = Contact.objects.get(merchant=demo.merchant, first_name="Mark")
    catalog = trans_real.translation("vi")._catalog
    english = {k for k, v in catalog.items() if isinstance(k, str) and k and v != k}
    same_in_both = {k for k, v in catalog.items() if isinstance(k, str) and v == k}
    data = stored_strings()
    client = owner(demo)
    left: set[str] = set()
    for url, post in ((f"/contacts/{mark.pk}/edit/", None), (f"/contacts/{mark.pk}/edit/", "12")):

        def render(language: str, url: str = url, post: str | None = post) -> set[str]:
            client.cookies["django_language"] = language
            if post is None:
                return visible_texts(client.get(url).content.decode())
            answer = client.post(url, {"first_name": "Mark", "phone": post})
            return visible_texts(answer.content.decode())

        in_english, in_vietnamese = render("en"), render("vi")
        left |= {t for t in in_vietnamese if t in english and not is_data(t, data)}
        left |= {
            t for t in in_vietnamese & in_english if t not in same_in_both and not is_data(t, data)
        }
    translation.activate("en")
    assert sorted(left - ALWAYS_THE_SAME) == []
