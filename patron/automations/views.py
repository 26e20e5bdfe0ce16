"""Staff pages for automations: the list with health colours, the step editor, enrollment
history, and "Trigger Automation" from the contacts list (seed 001)."""

import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from patron.automations import actions, selectors, services
from patron.automations.actions.base import Field
from patron.automations.models import (
    Enrollment,
    Health,
    ReEntry,
    TriggerType,
    Workflow,
    WorkflowStep,
)
from patron.contacts import selectors as contact_selectors
from patron.lib.errors import PatronError
from patron.messaging import selectors as message_selectors
from patron.tenants.http import StaffRequest
from patron.tenants.models import Merchant, Role
from patron.tenants.permissions import staff_required

# Trigger settings the editor asks for, per trigger type.
TRIGGER_FIELDS: dict[str, list[tuple[str, Any]]] = {
    TriggerType.TAG_ADDED: [("tag", gettext_lazy("Tag (empty: any tag)"))],
    TriggerType.TAG_REMOVED: [("tag", gettext_lazy("Tag (empty: any tag)"))],
    TriggerType.POINTS_EARNED: [("min_points", gettext_lazy("At least this many points"))],
    TriggerType.BALANCE_REACHED: [("points", gettext_lazy("Balance (points)"))],
    TriggerType.TIER_CHANGED: [("tier", gettext_lazy("New tier (empty: any tier)"))],
    TriggerType.ORDER_PLACED: [("min_total", gettext_lazy("Order total at least"))],
    TriggerType.BIRTHDAY: [("hour", gettext_lazy("Send from this hour (merchant's time)"))],
    TriggerType.NO_VISIT: [
        ("days", gettext_lazy("Days without a visit")),
        ("hour", gettext_lazy("Send from this hour")),
    ],
    TriggerType.COUPON_EXPIRING: [
        ("days", gettext_lazy("Days before it expires")),
        ("hour", gettext_lazy("Send from hour")),
    ],
    TriggerType.POINTS_EXPIRING: [
        ("days", gettext_lazy("Days before they expire")),
        ("hour", gettext_lazy("Send from hour")),
    ],
}


def _health(workflow: Workflow) -> dict[str, str]:
    health = selectors.workflow_health(workflow)
    return {
        "value": health,
        "emoji": selectors.HEALTH_EMOJI[Health(health)],
        "label": str(Health(health).label),
        "reason": selectors.health_reason(workflow),
    }


def _workflow(request: StaffRequest, workflow_id: int) -> Workflow:
    workflow = selectors.workflow_get(request.merchant, workflow_id)
    if workflow is None:
        raise Http404
    return workflow


@staff_required()
def workflow_list(request: StaffRequest) -> HttpResponse:
    rows = [
        {"workflow": w, "health": _health(w), "trigger": w.get_trigger_type_display()}
        for w in selectors.workflows(request.merchant)
    ]
    return render(
        request,
        "automations/list.html",
        {"rows": rows, "section": "automations", "triggers": TriggerType.choices},
    )


@staff_required(Role.MANAGER)
@require_POST
def workflow_create(request: StaffRequest) -> HttpResponse:
    try:
        workflow = services.workflow_create(
            merchant=request.merchant,
            actor=request.actor,
            name=request.POST.get("name", ""),
            trigger_type=request.POST.get("trigger_type", TriggerType.MANUAL),
        )
    except PatronError as error:
        messages.error(request, error.message)
        return redirect("automations:list")
    return redirect("automations:edit", workflow_id=workflow.pk)


def _template_choices(merchant: Merchant) -> dict[str, list[tuple[str, str]]]:
    """The merchant's message templates by channel, one choice per key (any language)."""
    found: dict[str, dict[str, str]] = {}
    for template in message_selectors.templates(merchant):
        label = f"{template.name} ({template.key})" if template.name else template.key
        found.setdefault(template.channel, {}).setdefault(template.key, label)
    return {channel: list(keys.items()) for channel, keys in found.items()}


def _field_row(field: Field, value: Any, templates: list[tuple[str, str]]) -> dict[str, Any]:
    row: dict[str, Any] = {"field": field, "value": value}
    if field.type == "template":
        choices = list(templates)
        if value and value not in dict(choices):
            # A key whose template was deleted stays visible (and saved) until changed;
            # the step's warning already says the template is missing.
            choices.append((value, _("%(key)s (missing)") % {"key": value}))
        row["choices"] = choices
    return row


def _step_rows(workflow: Workflow) -> list[dict[str, Any]]:
    templates = _template_choices(workflow.merchant)
    rows = []
    for step in selectors.workflow_steps(workflow):
        action = actions.ACTIONS.get(step.action_type)
        channel = getattr(action, "channel", "")
        rows.append(
            {
                "step": step,
                "name": selectors.step_name(step),
                "warnings": selectors.step_warnings(step),
                "fields": [
                    _field_row(
                        f, (step.config or {}).get(f.name, f.default), templates.get(channel, [])
                    )
                    for f in (action.fields if action else ())
                ],
            }
        )
    return rows


def _editor_context(request: StaffRequest, workflow: Workflow) -> dict[str, Any]:
    config = workflow.trigger_config or {}
    return {
        "workflow": workflow,
        "health": _health(workflow),
        "warnings": selectors.workflow_warnings(workflow),
        "steps": _step_rows(workflow),
        "step_types": [(key, action.label) for key, action in actions.ACTIONS.items()],
        "triggers": TriggerType.choices,
        "reentries": ReEntry.choices,
        "trigger_fields": [
            {"name": name, "label": label, "value": config.get(name, "")}
            for name, label in TRIGGER_FIELDS.get(workflow.trigger_type, [])
        ],
        "enrollments": selectors.workflow_enrollments(request.merchant, workflow)[:20],
        "section": "automations",
    }


@staff_required()
def workflow_edit(request: StaffRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(request, workflow_id)
    return render(request, "automations/edit.html", _editor_context(request, workflow))


def _back_to_editor(request: StaffRequest, workflow: Workflow) -> HttpResponse:
    return redirect("automations:edit", workflow_id=workflow.pk)


@staff_required(Role.MANAGER)
@require_POST
def workflow_settings(request: StaffRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(request, workflow_id)
    trigger_type = request.POST.get("trigger_type", workflow.trigger_type)
    config = {
        name: request.POST.get(f"trigger_{name}", "").strip()
        for name, _label in TRIGGER_FIELDS.get(trigger_type, [])
    }
    try:
        services.workflow_update(
            merchant=request.merchant,
            workflow=workflow,
            actor=request.actor,
            name=request.POST.get("name", workflow.name),
            description=request.POST.get("description", workflow.description),
            trigger_type=trigger_type,
            trigger_config=config,
            reentry=request.POST.get("reentry", workflow.reentry),
        )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Workflow saved."))
    return _back_to_editor(request, workflow)


@staff_required(Role.MANAGER)
@require_POST
def workflow_status(request: StaffRequest, workflow_id: int, verb: str) -> HttpResponse:
    workflow = _workflow(request, workflow_id)
    try:
        if verb == "publish":
            services.workflow_publish(
                merchant=request.merchant, workflow=workflow, actor=request.actor
            )
            messages.success(request, _("Workflow published."))
        else:
            services.workflow_pause(
                merchant=request.merchant, workflow=workflow, actor=request.actor
            )
            messages.success(request, _("Workflow paused."))
    except PatronError as error:
        messages.error(request, error.message)
    return _back_to_editor(request, workflow)


def _step(request: StaffRequest, workflow: Workflow, step_id: int) -> WorkflowStep:
    step = WorkflowStep.objects.filter(merchant=request.merchant, workflow=workflow, pk=step_id)
    found = step.select_related("workflow").first()
    if found is None:
        raise Http404
    return found


@staff_required(Role.MANAGER)
@require_POST
def step_add(request: StaffRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(request, workflow_id)
    try:
        services.step_add(
            merchant=request.merchant,
            workflow=workflow,
            actor=request.actor,
            action_type=request.POST.get("action_type", ""),
        )
    except PatronError as error:
        messages.error(request, error.message)
    return _back_to_editor(request, workflow)


@staff_required(Role.MANAGER)
@require_POST
def step_change(request: StaffRequest, workflow_id: int, step_id: int, verb: str) -> HttpResponse:
    workflow = _workflow(request, workflow_id)
    step = _step(request, workflow, step_id)
    try:
        if verb == "save":
            action = actions.get(step.action_type)
            config = {f.name: request.POST.get(f.name, "").strip() for f in action.fields}
            services.step_update(
                merchant=request.merchant, step=step, actor=request.actor, config=config
            )
            messages.success(request, _("Step saved."))
        elif verb in ("up", "down"):
            services.step_move(
                merchant=request.merchant,
                step=step,
                actor=request.actor,
                offset=-1 if verb == "up" else 1,
            )
        elif verb == "remove":
            services.step_remove(merchant=request.merchant, step=step, actor=request.actor)
            messages.success(request, _("Step removed."))
        else:
            raise Http404
    except PatronError as error:
        messages.error(request, error.message)
    return _back_to_editor(request, workflow)


def _enrollment(request: StaffRequest, enrollment_id: int) -> Enrollment:
    enrollment = selectors.enrollment_get(request.merchant, enrollment_id)
    if enrollment is None:
        raise Http404
    return enrollment


@staff_required()
def enrollment_detail(request: StaffRequest, enrollment_id: int) -> HttpResponse:
    enrollment = _enrollment(request, enrollment_id)
    return render(
        request,
        "automations/enrollment.html",
        {
            "enrollment": enrollment,
            "runs": selectors.enrollment_runs(request.merchant, enrollment),
            "ended": enrollment.status in ("completed", "failed", "cancelled"),
            "section": "automations",
        },
    )


@staff_required()
@require_POST
def enrollment_cancel(request: StaffRequest, enrollment_id: int) -> HttpResponse:
    enrollment = _enrollment(request, enrollment_id)
    try:
        services.enrollment_cancel(
            merchant=request.merchant, enrollment=enrollment, actor=request.actor
        )
        messages.success(request, _("Enrollment cancelled."))
    except PatronError as error:
        messages.error(request, error.message)
    return redirect("automations:enrollment", enrollment_id=enrollment.pk)


# Trigger Automation (contacts list) ------------------------------------------------------


def _picker_rows(request: StaffRequest, q: str, chosen: str = "") -> list[dict[str, Any]]:
    return [
        {"workflow": w, "health": _health(w), "chosen": str(w.pk) == chosen}
        for w in selectors.workflow_search(request.merchant, q)
    ]


@staff_required()
def workflow_picker(request: StaffRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    return render(
        request,
        "automations/_picker.html",
        {"picker": _picker_rows(request, q, request.GET.get("workflow", "")), "q": q},
    )


def _scheduled_at(request: StaffRequest) -> datetime.datetime | None:
    if request.POST.get("when") != "later":
        return None
    raw = request.POST.get("scheduled_at", "").strip()
    try:
        local = datetime.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise PatronError(_("Choose the date and time to add the contacts at.")) from exc
    if local.tzinfo is None:
        local = local.replace(tzinfo=request.merchant.zone)
    return local


@staff_required()
@require_POST
def trigger_automation(request: StaffRequest) -> HttpResponse:
    """Add the selected contacts to the chosen workflow: red refused, yellow confirmed."""
    post = request.POST
    contacts = [
        c
        for c in (
            contact_selectors.contact_get(request.merchant, pk) for pk in post.getlist("contact")
        )
        if c is not None
    ]
    chosen = post.get("workflow", "")
    workflow = selectors.workflow_get(request.merchant, chosen) if chosen else None
    context: dict[str, Any] = {
        "action_name": post.get("action_name", ""),
        "q": post.get("q", ""),
        "when": post.get("when", "now"),
        "scheduled_at": post.get("scheduled_at", ""),
        "picker": _picker_rows(request, post.get("q", ""), chosen),
        "contact_ids": [c.pk for c in contacts],
    }

    def again(error: str, **extra: Any) -> HttpResponse:
        return render(
            request,
            "automations/_trigger_form.html",
            {**context, "error": error, **extra},
            status=422,
        )

    if not contacts:
        return again(_("Select at least one contact in the list first."))
    if workflow is None:
        return again(_("Choose a workflow."))
    health = selectors.workflow_health(workflow)
    if health == Health.RED:
        return again(
            _("“%(name)s” is red (%(reason)s): contacts cannot be added to it.")
            % {"name": workflow.name, "reason": selectors.health_reason(workflow)}
        )
    if health == Health.YELLOW and post.get("confirm_yellow") != "yes":
        return again(
            _("“%(name)s” is yellow (%(reason)s). Add the contacts anyway?")
            % {"name": workflow.name, "reason": selectors.health_reason(workflow)},
            confirm_yellow=True,
        )
    try:
        made = services.enrollments_create(
            merchant=request.merchant,
            workflow=workflow,
            contacts=contacts,
            actor=request.actor,
            action_name=post.get("action_name", ""),
            scheduled_at=_scheduled_at(request),
        )
    except PatronError as error:
        return again(error.message)
    skipped = len(contacts) - len(made)
    done = ngettext(
        "%(count)s contact added to “%(name)s”.",
        "%(count)s contacts added to “%(name)s”.",
        len(made),
    ) % {"count": len(made), "name": workflow.name}
    if skipped:
        done += " " + ngettext(
            "%(count)s was already in it and was left out.",
            "%(count)s were already in it and were left out.",
            skipped,
        ) % {"count": skipped}
    return render(request, "automations/_trigger_done.html", {"message": done, "enrollments": made})
