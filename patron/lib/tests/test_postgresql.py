"""The PostgreSQL backend: its health check (a connection the server ended is not reused)
and the plans of prepared statements."""

import re
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction
from django_scopes import scope

from patron.automations.models import Enrollment
from patron.coupons.models import CouponEvent
from patron.lib.postgresql.base import statements_planned_each_time
from patron.lib.sql import any_row, first_row, rows
from patron.loyalty.models import LedgerEntry
from patron.rewards.models import Redemption

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
]


def _ended_by_the_server(kept) -> None:
    pid = kept.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server says so at once, but the message takes a moment to arrive.
    deadline = time.monotonic() + 5
    while kept.is_usable() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_an_idle_connection_is_usable_until_the_server_ends_it():
    kept = connections.create_connection("default")
    try:
        kept.ensure_connection()
        assert kept.is_usable()
        with kept.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert kept.is_usable()  # a query answered leaves nothing to read

        _ended_by_the_server(kept)

        assert not kept.is_usable()
    finally:
        kept.close()


def test_the_next_request_opens_a_new_connection_instead_of_failing():
    kept = connections.create_connection("default")
    try:
        # Its own settings, so the test's default connection keeps what it had.
        kept.settings_dict = {**kept.settings_dict, "CONN_HEALTH_CHECKS": True}
        kept.ensure_connection()
        first = kept.connection.info.backend_pid
        _ended_by_the_server(kept)

        # What Django does at the start of a request, then the request's first query.
        kept.close_if_unusable_or_obsolete()
        with kept.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (second,) = cursor.fetchone()

        assert second != first
    finally:
        kept.close()


# --- prepared statements ----------------------------------------------------------------


def _statements(lookup: Callable[[], object]) -> list[tuple[str, list[object]]]:
    """The statements `lookup()` sends, as SQL with `%s` placeholders and their values."""
    sent: list[tuple[str, list[object]]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        lookup()
    return sent


def _generic_plan(sql: str, params: list[object]) -> str:
    """The plan PostgreSQL makes for `sql` once for any values, as it does for a
    statement prepared and run often enough (settings: prepare_threshold)."""
    numbered = iter(range(1, len(params) + 1))
    prepared = re.sub(r"%s", lambda _: f"${next(numbered)}", sql)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE lookup AS {prepared}")
        values = ", ".join(["%s"] * len(params))
        cursor.execute(connection.ops.compose_sql(f"EXPLAIN EXECUTE lookup({values})", params))
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE lookup")
    return plan


@pytest.mark.parametrize(
    ("name", "lookup", "index"),
    [
        (
            "ledger row by key (lib.sql)",
            lambda m: first_row(LedgerEntry, {"merchant": m, "idempotency_key": "k"}),
            "ledger_idempotency_key_unique",
        ),
        (
            "ledger rows by keys (lib.sql)",
            lambda m: rows(LedgerEntry, {"merchant": m, "idempotency_key": ["k", "j"]}),
            "ledger_idempotency_key_unique",
        ),
        (
            "ledger key taken (lib.sql)",
            lambda m: any_row(LedgerEntry, {"merchant": m, "idempotency_key": "k"}),
            "ledger_idempotency_key_unique",
        ),
        (
            "redemption by key (lib.sql)",
            lambda m: first_row(Redemption, {"merchant": m, "idempotency_key": "k"}),
            "redemption_idempotency_key_unique",
        ),
        (
            "coupon event by key (lib.sql)",
            lambda m: first_row(CouponEvent, {"merchant": m, "idempotency_key": "k"}),
            "coupon_event_idempotency_key_unique",
        ),
        (
            "enrollment for an occasion (lib.sql)",
            lambda m: any_row(
                Enrollment,
                {"merchant": m, "workflow": 1, "contact": 1, "trigger_key": "k"},
            ),
            "enrollment_once_per_occasion",
        ),
    ],
)
def test_key_lookups_use_their_partial_unique_index_in_a_plan_made_for_any_key(
    trio, name, lookup, index
):
    """A unique index that holds only the rows with a key cannot serve a plan made for
    any key unless the query says the key is not empty (lib.sql.unique_when_not_empty):
    without it, a prepared lookup would read the whole table."""
    with scope(merchant=trio.merchant), transaction.atomic():
        ((sql, params),) = _statements(lambda: lookup(trio.merchant))
        assert index in _generic_plan(sql, params), name


def test_a_long_job_plans_its_statements_each_time_and_then_prepares_again():
    connection.ensure_connection()
    prepared = connection.connection.prepare_threshold
    with statements_planned_each_time():
        assert connection.connection.prepare_threshold is None
    assert connection.connection.prepare_threshold == prepared
