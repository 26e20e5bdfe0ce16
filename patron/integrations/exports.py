"""CSV exports of contacts, members and the ledger, streamed so any size works.

Rows are read with server-side chunks (`iterator`) and written one line at a time to
the response; memory stays flat whatever the merchant's size. The generators open the
merchant's scope themselves: they run after the view returned, outside the request's.
"""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django_scopes import scope

from patron.contacts.models import Contact
from patron.tenants.models import Merchant

CHUNK = 2000


class _Line:
    """A file-like object whose write returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff"  # spreadsheet programs read the file as UTF-8 with this mark
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(["" if value is None else value for value in row])


def contacts_csv(merchant: Merchant) -> Iterator[str]:
    def rows() -> Iterator[list[Any]]:
        with scope(merchant=merchant):
            live = (
                Contact.objects.filter(merchant=merchant, deleted_at__isnull=True)
                .order_by("pk")
                .prefetch_related("tags")
            )
            for c in live.iterator(chunk_size=CHUNK):
                yield [
                    c.pk,
                    c.first_name,
                    c.last_name,
                    str(c.phone or ""),
                    c.email,
                    c.birthday,
                    ", ".join(sorted(t.name for t in c.tags.all())),
                    c.source,
                    c.external_ids.get("import", ""),
                    c.created_at.isoformat(),
                ]

    header = [
        "id",
        "first_name",
        "last_name",
        "phone",
        "email",
        "birthday",
        "tags",
        "source",
        "external_id",
        "created_at",
    ]
    return _csv(header, rows())


def members_csv(merchant: Merchant) -> Iterator[str]:
    from patron.loyalty.models import Member

    def rows() -> Iterator[list[Any]]:
        with scope(merchant=merchant):
            found = (
                Member.objects.filter(merchant=merchant, deleted_at__isnull=True)
                .select_related("tier")
                .order_by("pk")
            )
            for m in found.iterator(chunk_size=CHUNK):
                yield [
                    m.pk,
                    m.contact_id,
                    m.phone,
                    m.status,
                    m.tier.name if m.tier else "",
                    m.points_available,
                    m.points_pending,
                    m.points_lifetime,
                    m.created_at.isoformat(),
                ]

    header = [
        "id",
        "contact_id",
        "phone",
        "status",
        "tier",
        "points_available",
        "points_pending",
        "points_lifetime",
        "created_at",
    ]
    return _csv(header, rows())


def ledger_csv(merchant: Merchant) -> Iterator[str]:
    from patron.loyalty.models import LedgerEntry

    def rows() -> Iterator[list[Any]]:
        with scope(merchant=merchant):
            found = (
                LedgerEntry.objects.filter(merchant=merchant)
                .select_related("member", "category")
                .order_by("pk")
            )
            for e in found.iterator(chunk_size=CHUNK):
                yield [
                    e.pk,
                    e.member_id,
                    e.member.phone,
                    e.kind,
                    e.amount,
                    e.category.name if e.category else "",
                    e.reason,
                    e.source,
                    e.reference,
                    e.balance_after,
                    e.actor_label,
                    e.created_at.isoformat(),
                ]

    header = [
        "id",
        "member_id",
        "phone",
        "kind",
        "amount",
        "category",
        "reason",
        "source",
        "reference",
        "balance_after",
        "actor",
        "created_at",
    ]
    return _csv(header, rows())


EXPORTS = {"contacts": contacts_csv, "members": members_csv, "ledger": ledger_csv}
