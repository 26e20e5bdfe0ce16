"""Django's PostgreSQL backend with a health check that needs no round trip.

With CONN_HEALTH_CHECKS on, Django asks `is_usable()` before a kept connection's first
query in each request, and the stock answer runs `SELECT 1`: on the customer page that
was one round trip in five. An idle connection has nothing to read, so looking at its
socket answers the same question for free: when the server ends the connection (a
restart, an administrator, a crash) the socket turns readable, with the server's last
message or the end of the stream. A connection in any state other than idle is asked
the stock way.
"""

import select
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection as default_connection
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            # Anything at all (data, the end of the stream, an error) means the server
            # spoke while nobody asked: the connection is not one to trust again.
            return not poller.poll(0)
        except (OSError, ValueError):
            return False


@contextmanager
def statements_planned_each_time() -> Iterator[None]:
    """Inside this block, PostgreSQL plans each statement for its values again (no
    prepared statements, settings: DATABASE_PREPARED_STATEMENTS): for long jobs that
    grow a table from a few rows to many on one connection.

    A prepared statement's plan, made once for any values, is chosen while the table is
    small and kept: an import of 20,000 contacts into a new merchant ran at 472 rows/s
    with prepared statements and 1,379 without (`bench/run.py --only import_contacts`),
    its lookups by phone scanning a table its plan had seen empty.
    """
    if default_connection.vendor != "postgresql":
        yield
        return
    default_connection.ensure_connection()
    raw = default_connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        if not raw.closed:
            raw.prepare_threshold = before
