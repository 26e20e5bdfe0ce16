"""The PostgreSQL backend: its health check (a connection the server ended is not reused)
and when statements are prepared. The plans of prepared lookups: test_plans.py."""

import time

import pytest
from django.db import connection, connections

from patron.lib.postgresql.base import statements_planned_each_time

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


def test_a_long_job_plans_its_statements_each_time_and_then_prepares_again():
    connection.ensure_connection()
    prepared = connection.connection.prepare_threshold
    with statements_planned_each_time():
        assert connection.connection.prepare_threshold is None
    assert connection.connection.prepare_threshold == prepared
