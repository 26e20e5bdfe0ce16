"""What integrations keep of a contact: import rows, orders and webhook payloads.

Import rows keep their outcome and points (the batch's counts and undo) without the
phone; orders keep their totals; webhook deliveries keep status and timing, but the
payloads that were about the contact are emptied.
"""

from typing import Any

from django.db.models import Q

from patron.contacts.models import ActivityEvent, Contact
from patron.contacts.privacy import ERASED, personal_values, redact_rows
from patron.integrations.imports import blank_rows
from patron.integrations.models import ImportBatch, ImportRow, Order, WebhookDelivery
from patron.lib.actors import Actor
from patron.tenants.models import Merchant


def _import_rows(merchant: Merchant, contact: Contact) -> Any:
    mine = Q(contact=contact)
    if contact.phone:
        mine |= Q(phone=str(contact.phone))
    return ImportRow.objects.filter(merchant=merchant).filter(mine)


def integrations_export(merchant: Merchant, contact: Contact) -> dict[str, Any]:
    return {
        "imported_rows": list(
            _import_rows(merchant, contact)
            .order_by("pk")
            .values("batch__file_name", "row_number", "outcome", "phone", "points")
        ),
        "orders": list(
            Order.objects.filter(merchant=merchant, contact=contact)
            .order_by("pk")
            .values("source", "name", "currency", "eligible_total", "points_earned", "created_at")
        ),
    }


def integrations_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    values = personal_values(contact)
    rows = _import_rows(merchant, contact)
    # The uploaded files hold the customer's line as it was typed: blank it there too.
    lines: dict[int, set[int]] = {}
    for batch_id, number in rows.values_list("batch_id", "row_number"):
        lines.setdefault(batch_id, set()).add(number)
    for batch in ImportBatch.objects.filter(merchant=merchant, pk__in=lines):
        blank_rows(batch.file_path, lines[batch.pk])
    rows.update(phone="", natural_key=ERASED)
    redact_rows(_import_rows(merchant, contact), ["message", "reason_params"], values)
    redact_rows(Order.objects.filter(merchant=merchant, contact=contact), ["note"], values)
    events = ActivityEvent.objects.filter(merchant=merchant, contact=contact)
    WebhookDelivery.objects.filter(merchant=merchant, event__in=events).update(payload={})
    deliveries = WebhookDelivery.objects.filter(merchant=merchant)
    redact_rows(deliveries, ["payload", "response_body"], values)
