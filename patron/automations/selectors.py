"""Reads of workflows and enrollments, and the health colour staff go by."""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from patron.automations import actions
from patron.automations.models import (
    Enrollment,
    EnrollmentStatus,
    Health,
    StepRun,
    TriggerType,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from patron.contacts.models import Contact
from patron.tenants.models import Merchant

# Settings each trigger needs before it can fire.
TRIGGER_REQUIRES: dict[str, tuple[str, str]] = {
    TriggerType.BALANCE_REACHED: (
        "points",
        gettext_noop("Say which points balance starts the workflow."),
    ),
    TriggerType.NO_VISIT: ("days", gettext_noop("Say after how many days without a visit.")),
    TriggerType.COUPON_EXPIRING: (
        "days",
        gettext_noop("Say how many days before the coupon expires."),
    ),
    TriggerType.POINTS_EXPIRING: (
        "days",
        gettext_noop("Say how many days before the points expire."),
    ),
}


def workflows(merchant: Merchant) -> QuerySet[Workflow]:
    return (
        Workflow.objects.filter(merchant=merchant)
        .annotate(
            running_count=Count(
                "enrollments",
                filter=Q(
                    enrollments__status__in=[EnrollmentStatus.ACTIVE, EnrollmentStatus.SCHEDULED]
                ),
            )
        )
        .prefetch_related("steps")
        .order_by("name", "id")
    )


def workflow_search(merchant: Merchant, q: str | None) -> QuerySet[Workflow]:
    found = workflows(merchant)
    q = (q or "").strip()
    return found.filter(name__icontains=q) if q else found


def workflow_get(merchant: Merchant, workflow_id: int | str) -> Workflow | None:
    try:
        pk = int(workflow_id)
    except (TypeError, ValueError):
        return None
    return workflows(merchant).filter(pk=pk).first()


def workflow_steps(workflow: Workflow) -> list[WorkflowStep]:
    return sorted(workflow.steps.all(), key=lambda s: (s.position, s.pk))


def step_name(step: WorkflowStep) -> str:
    try:
        return actions.get(step.action_type).name(step.config or {})
    except actions.UnknownAction:
        return step.action_type


def step_warnings(step: WorkflowStep) -> list[str]:
    try:
        action = actions.get(step.action_type)
    except actions.UnknownAction:
        return [_("This step type no longer exists.")]
    config = step.config or {}
    found = action.warnings(config)
    channel = getattr(action, "channel", "")
    key = str(config.get("template_key", "")).strip()
    if channel and key and not str(config.get("body", "")).strip():
        from patron.messaging.selectors import template_exists

        if not template_exists(step.merchant_id, key, channel):
            found.append(
                _("There is no message template “%(key)s” for this channel.") % {"key": key}
            )
    return found


def workflow_warnings(workflow: Workflow) -> list[str]:
    """Configuration problems, in words a non-programmer can act on."""
    found: list[str] = []
    required = TRIGGER_REQUIRES.get(workflow.trigger_type)
    if required and not str((workflow.trigger_config or {}).get(required[0], "")).strip():
        found.append(_(required[1]))
    steps = workflow_steps(workflow)
    if not steps:
        found.append(_("The workflow has no steps yet."))
    for index, step in enumerate(steps, start=1):
        for warning in step_warnings(step):
            found.append(
                _("Step %(n)s (%(name)s): %(warning)s")
                % {"n": index, "name": step_name(step), "warning": warning}
            )
    return found


def workflow_health(workflow: Workflow) -> str:
    """Red: paused or failing. Yellow: a draft or a warning. Green: safe to add contacts."""
    if workflow.status == WorkflowStatus.PAUSED or workflow.has_recent_failure:
        return Health.RED
    if workflow.status == WorkflowStatus.DRAFT or workflow_warnings(workflow):
        return Health.YELLOW
    return Health.GREEN


HEALTH_EMOJI = {Health.GREEN: "🟢", Health.YELLOW: "🟡", Health.RED: "🔴"}


def health_reason(workflow: Workflow) -> str:
    if workflow.status == WorkflowStatus.PAUSED:
        return _("Paused")
    if workflow.has_recent_failure:
        return _("Steps failed recently")
    if workflow.status == WorkflowStatus.DRAFT:
        return _("Draft, not published")
    warnings = workflow_warnings(workflow)
    if warnings:
        return warnings[0]
    return _("Published and running fine")


def enrollments(merchant: Merchant) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(merchant=merchant).select_related(
        "workflow", "contact", "current_step"
    )


def enrollment_get(merchant: Merchant, enrollment_id: int | str) -> Enrollment | None:
    try:
        pk = int(enrollment_id)
    except (TypeError, ValueError):
        return None
    return enrollments(merchant).filter(pk=pk).first()


def workflow_enrollments(merchant: Merchant, workflow: Workflow) -> QuerySet[Enrollment]:
    return enrollments(merchant).filter(workflow=workflow).order_by("-created_at", "-id")


def contact_enrollments(merchant: Merchant, contact: Contact) -> QuerySet[Enrollment]:
    return enrollments(merchant).filter(contact=contact).order_by("-created_at", "-id")


def enrollment_runs(merchant: Merchant, enrollment: Enrollment) -> QuerySet[StepRun]:
    return StepRun.objects.filter(merchant=merchant, enrollment=enrollment).order_by(
        "position", "created_at", "id"
    )
