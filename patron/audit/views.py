"""The audit trail for owners: the latest entries and a CSV export of all of them."""

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from patron.audit import selectors
from patron.tenants.http import StaffRequest
from patron.tenants.models import Role
from patron.tenants.permissions import staff_required

COLUMNS = [
    "at", "actor_kind", "actor_id", "actor_label", "action",
    "object_type", "object_id", "object_label", "before", "after",
]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe_cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection);
    # names and notes come from customers and staff, so quote them out.
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


@staff_required(Role.OWNER)
def audit_list(request: StaffRequest) -> HttpResponse:
    latest = selectors.entries(request.merchant)[:100]
    return render(request, "audit/list.html", {"entries": latest, "section": "audit"})


@staff_required(Role.OWNER)  # type: ignore[arg-type]  # a streamed answer is fine here
def audit_export(request: StaffRequest) -> StreamingHttpResponse:
    found = selectors.entries(request.merchant).iterator(chunk_size=500)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(COLUMNS)
        for entry in found:
            values = [getattr(entry, column) for column in COLUMNS[1:]]
            cells = [_safe_cell("" if value is None else value) for value in values]
            yield writer.writerow([entry.at.isoformat(), *cells])

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"audit-{request.merchant.slug}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
