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
