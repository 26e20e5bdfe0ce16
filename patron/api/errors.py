"""The answer to an unexpected error, for the API and the staff pages alike.

A database that is restarting or unreachable is not a bug in the request: the answer is
503 with `Retry-After` (problem+json code `database_unavailable` under /api/), so that
clients retry (with the same Idempotency-Key) instead of reporting a server error. The
connection is dropped, so the next request opens a fresh one: Patron recovers by itself
once the database is back. Anything else stays a 500, as problem+json under /api/.
"""

import sys

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from patron.api.problems import problem_response

RETRY_AFTER_SECONDS = 5


def database_unreachable(error: BaseException | None) -> bool:
    """Whether `error` says the database is down or the connection is gone.

    OperationalError also covers lock timeouts and serialisation failures, which are
    worth a retry as well. A DatabaseError with no connection left behind it (psycopg
    raises those when the server goes away mid-statement) counts too.
    """
    while error is not None:
        if isinstance(error, (OperationalError, InterfaceError)):
            return True
        if isinstance(error, DatabaseError) and connections[DEFAULT_DB_ALIAS].connection is None:
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    is_api = request.path.startswith("/api/")
    if database_unreachable(error):
        # The broken connection must not be reused by this thread's next request.
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
        if is_api:
            response = problem_response(
                503, "database_unavailable", "The database is unavailable; retry shortly."
            )
        else:
            response = HttpResponse(
                "Patron is briefly unavailable. Try again in a few seconds.",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if is_api:
        return problem_response(500, "server_error", "Something went wrong on our side.")
    return defaults.server_error(request)
