"""Per-API-key rate limits: a fixed-window counter in the database, 429 when it is full.

Each key may make `API_RATE_LIMIT` requests per `API_RATE_LIMIT_WINDOW` seconds. The
counter is one row per key and window, raised by a conditional UPDATE
(`... SET count = count + 1 WHERE count < limit`): the database tests and increments
in one statement under the row lock, so two requests racing for the last slot cannot
both pass, on SQLite or PostgreSQL, in one process or many.

The middleware runs before the API's per-request transaction, so the count commits on
its own: a request that fails still counts, and a slow write does not hold the
counter's row lock for its whole duration.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from patron.api.problems import problem_response
from patron.audit.models import RateLimitWindow


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    retry_after: int  # seconds until the current window ends


def consume(
    *, api_key_id: int, limit: int, window_seconds: int, now: datetime.datetime | None = None
) -> Decision:
    """Count one request of the key; refused when its window already holds `limit`."""
    epoch = int((now or timezone.now()).timestamp())
    start = epoch - epoch % window_seconds
    window_start = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
    retry_after = max(1, start + window_seconds - epoch)
    window = RateLimitWindow.objects.filter(api_key_id=api_key_id, window_start=window_start)

    def take() -> bool:
        return window.filter(count__lt=limit).update(count=F("count") + 1) == 1

    if take():
        return Decision(True, limit, retry_after)
    try:
        with transaction.atomic():
            RateLimitWindow.objects.create(
                api_key_id=api_key_id, window_start=window_start, count=1
            )
    except IntegrityError:
        # The window exists: it is full, or a concurrent request created it between our
        # UPDATE and INSERT. One more conditional UPDATE tells which.
        return Decision(take(), limit, retry_after)
    return Decision(True, limit, retry_after)


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
