"""API writes: one transaction per request, and Idempotency-Key replay.

Every POST, PATCH, PUT and DELETE under /api/ runs in a single transaction that is
rolled back when the answer is an error, so a 4xx or 5xx never leaves half a write.
The events it records go out to webhooks together once it commits (one look at the
merchant's endpoints for all of them: `contacts.events.fan_out_batched`).

A POST with an `Idempotency-Key` header first inserts its key in that same
transaction. A concurrent retry blocks on the unique index until the first commits,
then finds the stored answer and replays it; a retry after a rollback finds nothing
and runs again. Reusing a key for a different request is refused.

The insert is one `INSERT ... ON CONFLICT DO NOTHING RETURNING` (PostgreSQL and SQLite
3.35+), not an ORM insert that may fail: going on after that failure needs a savepoint
around it, two more round trips on every keyed write.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from django.db import connection, models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from patron.api.models import IdempotencyRecord
from patron.api.problems import problem_response
from patron.contacts.events import fan_out_batched
from patron.lib.sql import update_rows
from patron.tenants.http import TenantRequest

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def has_nul_text(request: HttpRequest) -> bool:
    """Whether the request carries a NUL character in its query or JSON body.

    PostgreSQL cannot store NUL in text and fails the whole statement, while SQLite
    stores it; refusing it up front gives one clear answer on both databases.
    """
    if "\x00" in request.get_full_path() or any("\x00" in v for v in request.GET.values()):
        return True
    body = request.body
    if b"\x00" in body:
        return True
    if b"\\u0000" not in body:
        return False
    try:
        return _contains_nul(json.loads(body))
    except ValueError:
        return False


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, http_request: HttpRequest) -> HttpResponse:
        request = cast(TenantRequest, http_request)
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        if has_nul_text(request):
            return problem_response(
                422, "invalid_text", "Text in the request may not contain NUL characters."
            )
        if request.method not in WRITE_METHODS:
            return self.get_response(request)
        merchant = request.merchant
        key = request.headers.get(HEADER, "").strip()
        if merchant is None or request.method != "POST" or not key:
            return self._atomic(request)
        if len(key) > MAX_KEY_LENGTH:
            return problem_response(
                422, "invalid_idempotency_key", "Idempotency-Key has at most 255 characters."
            )
        fingerprint = _fingerprint(request)
        with fan_out_batched(), transaction.atomic():
            record_id = _claim(merchant.pk, key, fingerprint)
            if record_id is None:
                previous = IdempotencyRecord.objects.get(merchant=merchant, key=key)
                if previous.fingerprint != fingerprint:
                    return problem_response(
                        422,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used for a different request.",
                    )
                replay = HttpResponse(
                    bytes(previous.body),
                    status=previous.status_code or 200,
                    content_type=previous.content_type or "application/json",
                )
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = self.get_response(request)
            if response.status_code >= 400:
                transaction.set_rollback(True)
                return response
            done = IdempotencyRecord(
                pk=record_id,
                merchant=merchant,
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content,
            )
            # Fixed SQL, by key and merchant: this runs for every keyed write.
            update_rows(IdempotencyRecord, [done], ["status_code", "content_type", "body"])
            return response

    def _atomic(self, request: HttpRequest) -> HttpResponse:
        with fan_out_batched(), transaction.atomic():
            response = self.get_response(request)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            return response


def _claim(merchant_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's record and return its id, or None when the merchant already has
    one with that key (committed: an insert racing an uncommitted one waits for it)."""
    meta = IdempotencyRecord._meta
    values = {
        "merchant": merchant_id,
        "key": key,
        "fingerprint": fingerprint,
        "status_code": None,
        "content_type": "",
        "body": b"",
        "created_at": timezone.now(),
    }
    (unique,) = [c for c in meta.constraints if c.name == "idempotency_key_unique"]
    assert isinstance(unique, models.UniqueConstraint)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
        f"({', '.join(_column(name) for name in values)}) "
        f"VALUES ({', '.join(['%s'] * len(values))}) "
        f"ON CONFLICT ({', '.join(_column(name) for name in unique.fields)}) "
        f"DO NOTHING RETURNING {_column(meta.pk.name)}"
    )
    params = [_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _field(name: str) -> models.Field:
    field = IdempotencyRecord._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field


def _column(name: str) -> str:
    return connection.ops.quote_name(_field(name).column or name)
