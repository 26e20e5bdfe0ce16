"""Writes to automations: workflows and their steps, enrollments, and event dispatch."""

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope

from patron.automations import actions, engine, events, selectors, triggers
from patron.automations.models import (
    ENDED_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Health,
    ReEntry,
    RunStatus,
    StepRun,
    TriggerType,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import SYSTEM, Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.sql import any_row
from patron.tenants.models import Merchant

MAX_STEPS = 50


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"
    title = "No such workflow"


class WorkflowNotSafe(Conflict):
    code = "workflow_red"
    title = "This workflow is red (paused or failing): contacts cannot be added to it"


class WorkflowHasWarnings(InvalidInput):
    code = "workflow_has_warnings"
    title = "Fix the workflow's warnings before publishing it"


class EnrollmentEnded(Conflict):
    code = "enrollment_ended"
    title = "This enrollment has already ended"


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("A workflow needs a name of at most 200 characters.", field="name")
    return name


def _clean_trigger(trigger_type: str, trigger_config: dict[str, Any] | None) -> dict[str, Any]:
    if trigger_type not in TriggerType.values:
        raise InvalidInput(
            f"The trigger is one of {', '.join(TriggerType.values)}.", field="trigger_type"
        )
    return {str(k): v for k, v in (trigger_config or {}).items() if v not in (None, "")}


def _check_action(action_type: str) -> actions.Action:
    try:
        return actions.get(action_type)
    except actions.UnknownAction as exc:
        raise InvalidInput(
            f"The step type is one of {', '.join(actions.ACTIONS)}.", field="action_type"
        ) from exc


def _touch(workflow: Workflow) -> None:
    workflow.updated_at = timezone.now()
    workflow.save(update_fields=["updated_at"])


# Workflows -------------------------------------------------------------------------------


@transaction.atomic
def workflow_create(
    *,
    merchant: Merchant,
    actor: Actor,
    name: str,
    trigger_type: str = TriggerType.MANUAL,
    trigger_config: dict[str, Any] | None = None,
    reentry: str = ReEntry.AFTER_EXIT,
    description: str = "",
    steps: Iterable[dict[str, Any]] = (),
    template_key: str = "",
) -> Workflow:
    if reentry not in ReEntry.values:
        raise InvalidInput(f"Re-entry is one of {', '.join(ReEntry.values)}.", field="reentry")
    workflow = Workflow.objects.create(
        merchant=merchant,
        name=_clean_name(name),
        description=(description or "")[:500],
        trigger_type=trigger_type,
        trigger_config=_clean_trigger(trigger_type, trigger_config),
        reentry=reentry,
        template_key=template_key,
    )
    for step in steps:
        step_add(
            merchant=merchant,
            workflow=workflow,
            actor=actor,
            action_type=step["action_type"],
            config=step.get("config") or {},
        )
    return workflow


@transaction.atomic
def workflow_update(
    *,
    merchant: Merchant,
    workflow: Workflow,
    actor: Actor,
    name: str,
    trigger_type: str,
    trigger_config: dict[str, Any] | None = None,
    reentry: str = ReEntry.AFTER_EXIT,
    description: str = "",
) -> Workflow:
    if reentry not in ReEntry.values:
        raise InvalidInput(f"Re-entry is one of {', '.join(ReEntry.values)}.", field="reentry")
    workflow = Workflow.objects.select_for_update().get(merchant=merchant, pk=workflow.pk)
    workflow.name = _clean_name(name)
    workflow.trigger_type = trigger_type
    workflow.trigger_config = _clean_trigger(trigger_type, trigger_config)
    workflow.reentry = reentry
    workflow.description = (description or "")[:500]
    workflow.updated_at = timezone.now()
    workflow.save()
    return workflow


@transaction.atomic
def workflow_publish(*, merchant: Merchant, workflow: Workflow, actor: Actor) -> Workflow:
    """Publish (or resume) a workflow: it turns green unless something is wrong with it."""
    workflow = Workflow.objects.select_for_update().get(merchant=merchant, pk=workflow.pk)
    warnings = selectors.workflow_warnings(workflow)
    if warnings:
        raise WorkflowHasWarnings(" ".join(warnings), warnings=warnings)
    workflow.status = WorkflowStatus.PUBLISHED
    # Publishing again is how staff say a failure is dealt with: health forgets it.
    workflow.published_at = timezone.now()
    workflow.updated_at = workflow.published_at
    workflow.save(update_fields=["status", "published_at", "updated_at"])
    return workflow


@transaction.atomic
def workflow_pause(*, merchant: Merchant, workflow: Workflow, actor: Actor) -> Workflow:
    """Pause: no new contacts enter and running enrollments wait where they are."""
    workflow = Workflow.objects.select_for_update().get(merchant=merchant, pk=workflow.pk)
    workflow.status = WorkflowStatus.PAUSED
    workflow.updated_at = timezone.now()
    workflow.save(update_fields=["status", "updated_at"])
    return workflow


# Steps -----------------------------------------------------------------------------------


def _renumber(workflow: Workflow, ordered: list[WorkflowStep]) -> None:
    for position, step in enumerate(ordered, start=1):
        if step.position != position:
            step.position = position
            step.save(update_fields=["position"])


def _locked_steps(merchant: Merchant, workflow: Workflow) -> list[WorkflowStep]:
    # Edits of one workflow queue on its row, so two editors never interleave positions.
    Workflow.objects.select_for_update().filter(merchant=merchant, pk=workflow.pk).first()
    return list(WorkflowStep.objects.filter(workflow=workflow).order_by("position", "id"))


def _clean_config(action: actions.Action, config: dict[str, Any] | None) -> dict[str, Any]:
    known = {f.name for f in action.fields}
    return {k: v for k, v in (config or {}).items() if k in known or k == "marketing"}


@transaction.atomic
def step_add(
    *,
    merchant: Merchant,
    workflow: Workflow,
    actor: Actor,
    action_type: str,
    config: dict[str, Any] | None = None,
    position: int | None = None,
) -> WorkflowStep:
    """Add a step at `position` (1-based), or at the end."""
    action = _check_action(action_type)
    steps = _locked_steps(merchant, workflow)
    if len(steps) >= MAX_STEPS:
        raise InvalidInput(f"A workflow has at most {MAX_STEPS} steps.")
    defaults = {f.name: f.default for f in action.fields if f.default not in ("", None)}
    step = WorkflowStep.objects.create(
        merchant=merchant,
        workflow=workflow,
        position=len(steps) + 1,
        kind=action.kind,
        action_type=action_type,
        config={**defaults, **_clean_config(action, config)},
    )
    if position is not None and 1 <= position <= len(steps):
        steps.insert(position - 1, step)
        _renumber(workflow, steps)
    _touch(workflow)
    return step


@transaction.atomic
def step_update(
    *, merchant: Merchant, step: WorkflowStep, actor: Actor, config: dict[str, Any]
) -> WorkflowStep:
    _locked_steps(merchant, step.workflow)
    step = WorkflowStep.objects.get(merchant=merchant, pk=step.pk)
    step.config = _clean_config(actions.get(step.action_type), config)
    step.save(update_fields=["config"])
    _touch(step.workflow)
    return step


@transaction.atomic
def step_move(*, merchant: Merchant, step: WorkflowStep, actor: Actor, offset: int) -> None:
    """Move a step up (offset -1) or down (offset +1)."""
    steps = _locked_steps(merchant, step.workflow)
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    target = min(max(index + offset, 0), len(steps) - 1)
    steps.insert(target, steps.pop(index))
    _renumber(step.workflow, steps)
    _touch(step.workflow)


@transaction.atomic
def step_remove(*, merchant: Merchant, step: WorkflowStep, actor: Actor) -> None:
    """Remove a step; enrollments waiting on it go on with the next one."""
    steps = _locked_steps(merchant, step.workflow)
    steps = [s for s in steps if s.pk != step.pk]
    WorkflowStep.objects.filter(merchant=merchant, pk=step.pk).delete()
    _renumber(step.workflow, steps)
    _touch(step.workflow)


# Enrollments -----------------------------------------------------------------------------


def _may_enter(workflow: Workflow, contact: Contact, trigger_key: str) -> bool:
    entered = Enrollment.objects.filter(workflow=workflow, contact=contact)
    # Fixed SQL, which says the key is not empty, as the occasion's unique index does
    # (lib.sql.unique_when_not_empty): a prepared plan can then use that index.
    occasion = {"merchant": workflow.merchant_id, "workflow": workflow, "contact": contact}
    if trigger_key and any_row(Enrollment, {**occasion, "trigger_key": trigger_key}):
        return False
    if workflow.reentry == ReEntry.ONCE:
        return not entered.exists()
    if workflow.reentry == ReEntry.AFTER_EXIT:
        return not entered.exclude(status__in=ENDED_STATUSES).exists()
    return True


@transaction.atomic
def enrollments_create(
    *,
    merchant: Merchant,
    workflow: Workflow,
    contacts: Iterable[Contact],
    actor: Actor,
    action_name: str = "",
    scheduled_at: datetime.datetime | None = None,
    context: dict[str, Any] | None = None,
    trigger_key: str = "",
) -> list[Enrollment]:
    """Add contacts to a workflow now or at `scheduled_at`.

    Red workflows refuse (PRODUCT: adding contacts to a red workflow is refused); the
    workflow's re-entry rule skips contacts that may not enter again. Returns the
    enrollments made.
    """
    # The workflow row lock serializes concurrent adds, so re-entry checks hold.
    locked = Workflow.objects.select_for_update().filter(merchant=merchant, pk=workflow.pk).first()
    if locked is None:
        raise WorkflowNotFound()
    workflow = locked
    if selectors.workflow_health(workflow) == Health.RED:
        raise WorkflowNotSafe()
    steps = selectors.workflow_steps(workflow)
    if not steps:
        raise InvalidInput("The workflow has no steps yet.", field="workflow")
    action_name = " ".join((action_name or "").split())[:200]
    now = timezone.now()
    if scheduled_at is not None and scheduled_at <= now:
        scheduled_at = None
    made: list[Enrollment] = []
    seen: set[int] = set()
    for contact in contacts:
        if contact.pk in seen or contact.merchant_id != merchant.pk or contact.is_deleted:
            continue
        seen.add(contact.pk)
        if not _may_enter(workflow, contact, trigger_key):
            continue
        enrollment = Enrollment(
            merchant=merchant,
            workflow=workflow,
            contact=contact,
            status=EnrollmentStatus.SCHEDULED if scheduled_at else EnrollmentStatus.ACTIVE,
            action_name=action_name,
            scheduled_at=scheduled_at,
            context=context or {},
            trigger_key=trigger_key,
        )
        enrollment.set_actor(actor)
        try:
            with transaction.atomic():
                enrollment.save()
        except IntegrityError:
            # The same occasion (a birthday this year) raced in from another worker.
            continue
        events.contact_enrolled(enrollment=enrollment, actor=actor)
        engine.schedule_step(enrollment=enrollment, step=steps[0], not_before=scheduled_at or now)
        made.append(enrollment)
    if made and scheduled_at is None:
        from patron.automations import tasks

        transaction.on_commit(tasks.run_due_steps.enqueue)
    return made


@transaction.atomic
def enrollment_cancel(*, merchant: Merchant, enrollment: Enrollment, actor: Actor) -> Enrollment:
    enrollment = Enrollment.objects.select_for_update().get(merchant=merchant, pk=enrollment.pk)
    if enrollment.status in ENDED_STATUSES:
        raise EnrollmentEnded()
    now = timezone.now()
    StepRun.objects.filter(
        enrollment=enrollment, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
    ).update(status=RunStatus.CANCELLED, finished_at=now, lease_until=None)
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.ended_at = now
    enrollment.current_step = None
    enrollment.save(update_fields=["status", "ended_at", "current_step"])
    events.enrollment_cancelled(enrollment=enrollment, actor=actor)
    return enrollment


# Triggers --------------------------------------------------------------------------------


@transaction.atomic
def event_dispatch(event: ActivityEvent) -> list[Enrollment]:
    """Enroll the event's contact in every published workflow this event triggers."""
    if event.contact is None or event.type not in triggers.EVENT_TRIGGERS:
        return []
    merchant = event.merchant
    listening = Workflow.objects.filter(
        merchant=merchant,
        status=WorkflowStatus.PUBLISHED,
        trigger_type__in=triggers.EVENT_TRIGGERS[event.type],
    ).order_by("id")
    made: list[Enrollment] = []
    for workflow in listening:
        if not triggers.event_matches(workflow, event):
            continue
        if selectors.workflow_health(workflow) == Health.RED:
            continue
        made += enrollments_create(
            merchant=merchant,
            workflow=workflow,
            contacts=[event.contact],
            actor=SYSTEM,
            action_name=str(workflow.get_trigger_type_display()),
            context=triggers.event_context(event),
            trigger_key=triggers.event_trigger_key(workflow, event),
        )
    return made


@transaction.atomic
def workflows_install_defaults(*, merchant: Merchant, actor: Actor = SYSTEM) -> list[Workflow]:
    """The built-in workflows every new merchant starts with (see `templates.py`),
    and the message templates they send. Idempotent: what exists is left alone."""
    from patron.automations import templates
    from patron.messaging.services import message_templates_install_defaults

    message_templates_install_defaults(merchant=merchant, actor=actor)
    with scope(merchant=merchant):
        return _install(merchant, actor, templates.built_in(merchant))


def _install(merchant: Merchant, actor: Actor, templates: list[Any]) -> list[Workflow]:
    made = []
    for template in templates:
        if Workflow.objects.filter(merchant=merchant, template_key=template.key).exists():
            continue
        workflow = workflow_create(
            merchant=merchant,
            actor=actor,
            name=template.name,
            trigger_type=template.trigger_type,
            trigger_config=template.trigger_config,
            reentry=template.reentry,
            description=template.description,
            steps=template.steps,
            template_key=template.key,
        )
        if template.published:
            workflow = workflow_publish(merchant=merchant, workflow=workflow, actor=actor)
        made.append(workflow)
    return made
