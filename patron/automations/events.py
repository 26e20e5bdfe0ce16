"""Domain events of automations, written to the contact's activity as each stage happens."""

from typing import Any

from patron.automations.models import Enrollment, StepRun
from patron.contacts.events import record
from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor


def _base(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "workflow_id": str(enrollment.workflow_id),
        "workflow": enrollment.workflow.name,
        "enrollment_id": str(enrollment.pk),
        "action_name": enrollment.action_name,
    }


def automation_actor(enrollment: Enrollment) -> Actor:
    return Actor.automation(enrollment.workflow.name, enrollment.pk)


def contact_enrolled(*, enrollment: Enrollment, actor: Actor) -> ActivityEvent:
    data = _base(enrollment)
    if enrollment.scheduled_at:
        data["scheduled_at"] = enrollment.scheduled_at.isoformat()
    return record(
        merchant=enrollment.merchant,
        type="automation_enrolled",
        actor=actor,
        contact=enrollment.contact,
        data=data,
    )


def step_completed(*, run: StepRun, summary: str) -> ActivityEvent:
    enrollment = run.enrollment
    return record(
        merchant=enrollment.merchant,
        type="automation_step_completed",
        actor=automation_actor(enrollment),
        contact=enrollment.contact,
        data={**_base(enrollment), "step": run.name, "summary": summary, "run_id": str(run.pk)},
    )


def step_failed(*, run: StepRun, error: str, retry_at: str | None) -> ActivityEvent:
    enrollment = run.enrollment
    return record(
        merchant=enrollment.merchant,
        type="automation_step_failed",
        actor=automation_actor(enrollment),
        contact=enrollment.contact,
        data={
            **_base(enrollment),
            "step": run.name,
            "error": error,
            "attempt": run.attempts,
            "retry_at": retry_at,
            "run_id": str(run.pk),
        },
    )


def enrollment_completed(*, enrollment: Enrollment) -> ActivityEvent:
    return record(
        merchant=enrollment.merchant,
        type="automation_completed",
        actor=automation_actor(enrollment),
        contact=enrollment.contact,
        data=_base(enrollment),
    )


def enrollment_failed(*, enrollment: Enrollment, error: str) -> ActivityEvent:
    return record(
        merchant=enrollment.merchant,
        type="automation_failed",
        actor=automation_actor(enrollment),
        contact=enrollment.contact,
        data={**_base(enrollment), "error": error},
    )


def enrollment_cancelled(*, enrollment: Enrollment, actor: Actor) -> ActivityEvent:
    return record(
        merchant=enrollment.merchant,
        type="automation_cancelled",
        actor=actor,
        contact=enrollment.contact,
        data=_base(enrollment),
    )
