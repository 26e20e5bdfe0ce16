import pytest
from django_scopes import scopes_disabled

from patron.contacts.models import ActivityEvent, Contact

pytestmark = pytest.mark.django_db


def create(api, **body):
    body.setdefault("first_name", "Mark")
    return api.post("/contacts", body)


def count_contacts() -> int:
    with scopes_disabled():
        return Contact.objects.count()


def test_create_read_update_delete_a_contact(trio):
    made = create(trio.api, phone="0980.000.000", tags=["VIP"], birthday="1990-11-28")
    assert made.status_code == 201, made.content
    contact = made.json()
    assert contact["phone"] == "+84980000000"
    assert contact["tags"] == ["VIP"]
    assert isinstance(contact["id"], str)
    path = f"/contacts/{contact['id']}"
    assert trio.api.get(path).json()["first_name"] == "Mark"
    assert trio.api.patch(path, {"last_name": "Nguyen"}).json()["last_name"] == "Nguyen"
    assert trio.api.delete(path, {"reason": "asked to be forgotten"}).status_code == 204
    assert trio.api.get(path).status_code == 404


def test_search_by_a_differently_formatted_phone(trio):
    create(trio.api, phone="0980000000")
    found = trio.api.get("/contacts", q="+84 980 000 000").json()
    assert [c["phone"] for c in found["items"]] == ["+84980000000"]


def test_tags_are_added_and_removed(trio):
    contact = create(trio.api).json()
    path = f"/contacts/{contact['id']}/tags"
    assert trio.api.post(path, {"name": "Birthday Coupon"}).json()["tags"] == ["Birthday Coupon"]
    assert trio.api.delete(f"{path}/Birthday Coupon").json()["tags"] == []
    missing = trio.api.delete(f"{path}/Nope")
    assert missing.status_code == 404


def test_note_appears_in_the_activity(trio):
    contact = create(trio.api).json()
    note = trio.api.post(f"/contacts/{contact['id']}/notes", {"text": "Resent the code"})
    assert note.status_code == 201
    activity = trio.api.get(f"/contacts/{contact['id']}/activity").json()
    assert [e["type"] for e in activity["items"]] == ["note_added", "contact_created"]
    assert activity["items"][0]["actor"]["kind"] == "api_key"


def test_lists_are_cursor_paginated(trio):
    for n in range(5):
        create(trio.api, first_name=f"C{n}")
    first = trio.api.get("/contacts", limit=2).json()
    second = trio.api.get("/contacts", limit=2, cursor=first["next_cursor"]).json()
    third = trio.api.get("/contacts", limit=2, cursor=second["next_cursor"]).json()
    names = [c["first_name"] for page in (first, second, third) for c in page["items"]]
    assert names == ["C4", "C3", "C2", "C1", "C0"]
    assert third["next_cursor"] is None


def test_bad_cursor_is_a_clear_error(trio):
    answer = trio.api.get("/contacts", cursor="garbage!")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_cursor"


class TestOutsider:
    """Charlie's key (merchant B) must see nothing of merchant A."""

    def test_every_contact_operation_answers_404(self, trio):
        contact = create(trio.api, phone="0980000000").json()
        path = f"/contacts/{contact['id']}"
        out = trio.outsider_api
        answers = [
            out.get(path),
            out.patch(path, {"first_name": "Hacked"}),
            out.delete(path, {"reason": "x"}),
            out.post(f"{path}/tags", {"name": "x"}),
            out.delete(f"{path}/tags/x"),
            out.get(f"{path}/activity"),
            out.post(f"{path}/notes", {"text": "x"}),
        ]
        assert [a.status_code for a in answers] == [404] * len(answers)
        assert {a.json()["code"] for a in answers} == {"contact_not_found"}
        assert trio.api.get(path).json()["first_name"] == "Mark"

    def test_lists_come_back_empty(self, trio):
        create(trio.api, phone="0980000000")
        assert trio.outsider_api.get("/contacts").json()["items"] == []
        assert trio.outsider_api.get("/contacts", q="0980000000").json()["items"] == []

    def test_the_same_phone_is_free_at_another_merchant(self, trio):
        create(trio.api, phone="0980000000")
        assert create(trio.outsider_api, phone="0980000000").status_code == 201


def test_without_a_key_the_answer_is_401_problem_json(trio):
    from patron.conftest import ApiClient

    for answer in (ApiClient(None).get("/contacts"), ApiClient("ptr_wrong").get("/contacts")):
        assert answer.status_code == 401
        assert answer["Content-Type"] == "application/problem+json"
        assert answer.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"first_name": "X", "phone": "not a phone"}, "invalid_phone"),
        ({"first_name": "X", "email": "nope"}, "invalid_input"),
        ({"first_name": 12}, "invalid_request"),
        ({"first_name": "X", "birthday": "31-31-2020"}, "invalid_request"),
        ({"first_name": "X", "tags": "VIP"}, "invalid_request"),
        ({}, "contact_needs_identity"),
    ],
)
def test_bad_input_is_a_422_problem_with_a_code_and_writes_nothing(trio, body, code):
    answer = trio.api.post("/contacts", body)
    assert answer.status_code == 422, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert count_contacts() == 0
    with scopes_disabled():
        assert ActivityEvent.objects.count() == 0


def test_a_tag_failure_after_the_contact_is_made_rolls_back_the_contact(trio):
    answer = trio.api.post("/contacts", {"first_name": "X", "tags": ["ok", " "]})
    assert answer.status_code == 422
    assert count_contacts() == 0


def test_unknown_and_malformed_ids_answer_404(trio):
    assert trio.api.get("/contacts/999999").status_code == 404
    assert trio.api.get("/contacts/abc").status_code == 404


def test_duplicate_phone_is_a_409_phone_taken(trio):
    create(trio.api, phone="0980000000")
    answer = create(trio.api, phone="+84980000000")
    assert (answer.status_code, answer.json()["code"]) == (409, "phone_taken")
