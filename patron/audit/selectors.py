"""Reading the audit trail, newest first, one merchant at a time."""

import datetime

from django.db.models import QuerySet

from patron.audit.models import AuditEntry
from patron.tenants.models import Merchant


def entries(
    merchant: Merchant,
    *,
    since: datetime.datetime | None = None,
    object_type: str = "",
    object_id: str = "",
) -> QuerySet[AuditEntry]:
    found = AuditEntry.objects.filter(merchant=merchant)
    if since is not None:
        found = found.filter(at__gte=since)
    if object_type:
        found = found.filter(object_type=object_type)
    if object_id:
        found = found.filter(object_id=object_id)
    return found.order_by("-at", "-pk")
