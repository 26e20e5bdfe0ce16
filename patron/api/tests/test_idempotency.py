from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from patron.conftest import ApiClient
from patron.contacts.models import Contact
from patron.coupons.tests.test_concurrency import race

pytestmark = pytest.mark.django_db


def contacts() -> int:
    with scopes_disabled():
        return Contact.objects.count()


def test_a_retry_with_the_same_key_returns_the_first_answer_and_writes_once(trio):
    body = {"first_name": "Mark", "phone": "0980000000"}
    first = trio.api.post("/contacts", body, headers={"Idempotency-Key": "k-1"})
    again = trio.api.post("/contacts", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert contacts() == 1


def test_the_same_key_with_another_body_is_refused(trio):
    trio.api.post("/contacts", {"first_name": "A"}, headers={"Idempotency-Key": "k-2"})
    other = trio.api.post("/contacts", {"first_name": "B"}, headers={"Idempotency-Key": "k-2"})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert contacts() == 1


def test_a_failed_request_is_not_stored_so_a_fixed_retry_runs(trio):
    bad = trio.api.post(
        "/contacts", {"first_name": "A", "phone": "x"}, headers={"Idempotency-Key": "k-3"}
    )
    assert bad.status_code == 422
    good = trio.api.post(
        "/contacts", {"first_name": "A", "phone": "x"}, headers={"Idempotency-Key": "k-3"}
    )
    assert good.status_code == 422  # same request, same (unstored) refusal
    assert contacts() == 0


def test_keys_belong_to_one_merchant(trio):
    trio.api.post("/contacts", {"first_name": "A"}, headers={"Idempotency-Key": "shared"})
    theirs = trio.outsider_api.post(
        "/contacts", {"first_name": "A"}, headers={"Idempotency-Key": "shared"}
    )
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert contacts() == 2


def test_text_with_a_nul_character_is_refused_on_every_database(trio):
    answer = trio.api.post("/contacts", {"first_name": "Ma\u0000rk"})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_text")
    assert trio.api.get("/contacts", q="a\u0000b").status_code == 422
    assert contacts() == 0


@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_with_one_key_write_once_and_all_get_the_first_answer(trio):
    # On PostgreSQL the inserts of the key really race (each waits on the unique index
    # for the first to commit); on SQLite the writers queue on the database lock.
    count = 8
    body = {"first_name": "Lan", "phone": "0980000001"}
    answers: list[Any] = []

    def send(_index: int) -> None:
        client = ApiClient(trio.api.key)
        answers.append(client.post("/contacts", body, headers={"Idempotency-Key": "race-1"}))

    assert race(count, send) == {"ok": count}
    assert [a.status_code for a in answers] == [201] * count
    assert len({a.content for a in answers}) == 1
    assert sum(a.get("Idempotent-Replayed") == "true" for a in answers) == count - 1
    assert contacts() == 1


def test_a_key_costs_two_statements_its_claim_and_the_stored_answer(trio):
    # The key is claimed by one INSERT ... ON CONFLICT; an ORM insert would need a
    # savepoint around it (two more round trips) to survive the duplicate-key error.
    def statements(headers: dict[str, str]) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            answer = trio.api.post("/contacts", {"first_name": "Lan"}, headers=headers)
        assert answer.status_code == 201
        return [q["sql"] for q in queries.captured_queries]

    statements({})  # the first request also reads the key and takes rate-limit slots
    plain = statements({})
    keyed = statements({"Idempotency-Key": "count-1"})
    assert len(keyed) - len(plain) == 2
    assert sum("SAVEPOINT" in sql for sql in keyed) == sum("SAVEPOINT" in sql for sql in plain)
