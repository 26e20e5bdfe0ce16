"""Cursor pagination: `{"items": [...], "next_cursor": ...}` in id order, newest first.

The cursor is the last id of a page, opaque to clients. Keyset paging stays fast and
stable while rows are added, unlike offsets.
"""

import base64
from dataclasses import dataclass

from django.db.models import Model, QuerySet

from patron.lib.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    title = "This cursor is not one we gave out"


@dataclass
class Page[M: Model]:
    items: list[M]
    next_cursor: str | None


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(field="cursor") from exc


def paginate[M: Model](queryset: QuerySet[M], cursor: str | None, limit: int | None) -> Page[M]:
    """One page of `queryset` (ordered by -id here) after `cursor`."""
    size = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
    queryset = queryset.order_by("-pk")
    if cursor:
        queryset = queryset.filter(pk__lt=decode_cursor(cursor))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].pk) if more and rows else None)
