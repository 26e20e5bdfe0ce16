"""A contact's runs through workflows in the privacy export and erasure.

Enrollments and step runs stay (a workflow's counts and health read them) without the
data they carried: the trigger's event, merge fields, results and errors may quote the
customer.
"""

from typing import Any

from patron.automations.models import Enrollment, StepRun
from patron.contacts.models import Contact
from patron.contacts.privacy import personal_values, redact_rows
from patron.lib.actors import Actor
from patron.tenants.models import Merchant


def automations_export(merchant: Merchant, contact: Contact) -> list[dict[str, Any]]:
    enrollments = Enrollment.objects.filter(merchant=merchant, contact=contact)
    return [
        {
            "workflow": e.workflow.name,
            "status": e.status,
            "context": e.context,
            "created_at": e.created_at,
            "ended_at": e.ended_at,
            "steps": list(e.runs.order_by("pk").values("name", "status", "result", "finished_at")),
        }
        for e in enrollments.select_related("workflow").order_by("pk")
    ]


def automations_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    enrollments = Enrollment.objects.filter(merchant=merchant, contact=contact)
    enrollments.update(context={})
    StepRun.objects.filter(merchant=merchant, enrollment__in=enrollments).update(result={})
    values = personal_values(contact)
    runs = StepRun.objects.filter(merchant=merchant, enrollment__in=enrollments)
    redact_rows(runs, ["last_error", "name"], values)
    by_customer = Enrollment.objects.filter(merchant=merchant, actor_kind="customer")
    redact_rows(by_customer, ["actor_label"], values)
