"""Per-API-key rate limits: a fixed-window counter in the database, 429 when it is full.

Each key may make `API_RATE_LIMIT` requests per `API_RATE_LIMIT_WINDOW` seconds. The
counter is one row per key and window, raised by a conditional UPDATE
(`... SET count = count + n WHERE count + n <= limit`): the database tests and
increments in one statement under the row lock, so two requests racing for the last
slot cannot both pass, on SQLite or PostgreSQL, in one process or many. A process takes
slots in small blocks (`block_size`) and hands them out itself, so a busy key does not
write the counter on every request.

The middleware runs before the API's per-request transaction, so the count commits on
its own: a request that fails still counts, and a slow write does not hold the
counter's row lock for its whole duration.
"""

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from patron.api.problems import problem_response
from patron.audit.models import RateLimitWindow


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    retry_after: int  # seconds until the current window ends


# Slots this process has taken from a window's count but not yet handed to a request:
# (api_key_id, window start epoch) -> how many. A busy key then costs one UPDATE per
# block of requests rather than one per request.
_reserved: dict[tuple[int, int], int] = {}
_reserved_lock = threading.Lock()


def block_size(limit: int) -> int:
    """How many slots a process takes at once: a hundredth of the limit, 1 to 100.

    Every slot is counted in the database before it is used, so no more than `limit`
    requests pass in a window, whatever the number of processes. Slots one process holds
    unused are not available to another, so a key spread over N processes may be refused
    up to N blocks before its limit (12 requests a process at the default 1,200).
    """
    return max(1, min(100, limit // 100))


def consume(
    *, api_key_id: int, limit: int, window_seconds: int, now: datetime.datetime | None = None
) -> Decision:
    """Count one request of the key; refused when its window already holds `limit`."""
    epoch = int((now or timezone.now()).timestamp())
    start = epoch - epoch % window_seconds
    retry_after = max(1, start + window_seconds - epoch)
    slot = (api_key_id, start)
    with _reserved_lock:
        if _reserved.get(slot, 0) > 0:
            _reserved[slot] -= 1
            return Decision(True, limit, retry_after)
    window_start = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
    taken = _reserve(api_key_id, window_start, limit, block_size(limit))
    if taken == 0:
        return Decision(False, limit, retry_after)
    with _reserved_lock:
        for old in [s for s in _reserved if s[1] < start]:
            del _reserved[old]
        _reserved[slot] = _reserved.get(slot, 0) + taken - 1
    return Decision(True, limit, retry_after)


def _reserve(api_key_id: int, window_start: datetime.datetime, limit: int, block: int) -> int:
    """Take up to `block` slots of the window in the database; how many were taken."""
    if block > 1 and _take(api_key_id, window_start, limit, block):
        return block
    # Near the limit (or no window yet): one slot at a time, exactly.
    if _take(api_key_id, window_start, limit, 1):
        return 1
    try:
        with transaction.atomic():
            RateLimitWindow.objects.create(
                api_key_id=api_key_id, window_start=window_start, count=min(block, limit)
            )
    except IntegrityError:
        # The window exists: it is full, or a concurrent request created it between our
        # UPDATE and INSERT. One more conditional UPDATE tells which.
        return 1 if _take(api_key_id, window_start, limit, 1) else 0
    return min(block, limit)


# Every API request that needs slots runs this statement. Written as SQL because the
# ORM takes about a millisecond to build it each time and the database a tenth of that
# to run it. Only the table name is formatted in; every value is a parameter.
_TAKE_SQL = (
    f"UPDATE {RateLimitWindow._meta.db_table} SET count = count + %s "  # noqa: S608
    "WHERE api_key_id = %s AND window_start = %s AND count + %s <= %s"
)


def _take(api_key_id: int, window_start: datetime.datetime, limit: int, slots: int) -> bool:
    """Raise the window's count by `slots` unless that would pass `limit`."""
    start = connection.ops.adapt_datetimefield_value(window_start)
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SQL, [slots, api_key_id, start, slots, limit])
        return cursor.rowcount == 1


def forget_reserved() -> None:
    """Drop the slots this process holds (tests start each case without any)."""
    with _reserved_lock:
        _reserved.clear()


def windows_prune(*, older_than: datetime.timedelta = datetime.timedelta(hours=1)) -> int:
    """Delete counters of windows that ended long ago."""
    deleted, _ = RateLimitWindow.objects.filter(
        window_start__lt=timezone.now() - older_than
    ).delete()
    return deleted


class RateLimitMiddleware:
    """Answers 429 problem+json with Retry-After once a key's window is full."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = getattr(request, "api_key", None)
        limit = settings.API_RATE_LIMIT
        if key is None or limit <= 0:
            return self.get_response(request)
        window_seconds = settings.API_RATE_LIMIT_WINDOW
        decision = consume(api_key_id=key.pk, limit=limit, window_seconds=window_seconds)
        if not decision.allowed:
            response = problem_response(
                429,
                "rate_limited",
                f"This API key may make {limit} requests every {window_seconds} seconds. "
                f"Retry in {decision.retry_after} seconds.",
                retry_after=decision.retry_after,
            )
            response["Retry-After"] = str(decision.retry_after)
            response["RateLimit-Limit"] = str(limit)
            return response
        return self.get_response(request)
