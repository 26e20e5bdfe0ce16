"""Workflows and enrollments in the public API."""

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.automations import selectors, services
from patron.automations.models import Enrollment, ReEntry, TriggerType, Workflow
from patron.contacts import selectors as contact_selectors
from patron.contacts.services import ContactNotFound
from patron.lib.errors import NotFound

router = Router(tags=["automations"])


class EnrollmentNotFound(NotFound):
    code = "enrollment_not_found"
    title = "No such enrollment"


class StepIn(Schema):
    action_type: str = Field(..., max_length=32, description="add_to_program, send_sms, wait, ...")
    config: dict[str, Any] = Field(default_factory=dict)


class WorkflowIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=500)
    trigger_type: str = Field(TriggerType.MANUAL, description=", ".join(TriggerType.values))
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    reentry: str = Field(ReEntry.AFTER_EXIT, description=", ".join(ReEntry.values))
    steps: list[StepIn] = Field(default_factory=list, max_length=services.MAX_STEPS)


class StepOut(Schema):
    id: str
    position: int
    kind: str
    action_type: str
    name: str
    config: dict[str, Any]
    warnings: list[str]


class WorkflowOut(Schema):
    id: str
    name: str
    description: str
    status: str
    health: str
    trigger_type: str
    trigger_config: dict[str, Any]
    reentry: str
    warnings: list[str]
    steps: list[StepOut]
    created_at: datetime.datetime

    @staticmethod
    def from_workflow(workflow: Workflow) -> "WorkflowOut":
        return WorkflowOut(
            id=str(workflow.pk),
            name=workflow.name,
            description=workflow.description,
            status=workflow.status,
            health=selectors.workflow_health(workflow),
            trigger_type=workflow.trigger_type,
            trigger_config=workflow.trigger_config,
            reentry=workflow.reentry,
            warnings=selectors.workflow_warnings(workflow),
            steps=[
                StepOut(
                    id=str(step.pk),
                    position=step.position,
                    kind=step.kind,
                    action_type=step.action_type,
                    name=selectors.step_name(step),
                    config=step.config,
                    warnings=selectors.step_warnings(step),
                )
                for step in selectors.workflow_steps(workflow)
            ],
            created_at=workflow.created_at,
        )


class WorkflowPage(Schema):
    items: list[WorkflowOut]
    next_cursor: str | None


class EnrollIn(Schema):
    contact_ids: list[str] = Field(..., min_length=1, max_length=1000)
    action_name: str = Field("", max_length=200)
    scheduled_at: datetime.datetime | None = None


class StageOut(Schema):
    name: str
    status: str
    at: datetime.datetime | None
    attempts: int
    error: str


class EnrollmentOut(Schema):
    id: str
    workflow_id: str
    contact_id: str
    status: str
    action_name: str
    scheduled_at: datetime.datetime | None
    created_at: datetime.datetime
    ended_at: datetime.datetime | None
    steps: list[StageOut]

    @staticmethod
    def from_enrollment(enrollment: Enrollment) -> "EnrollmentOut":
        runs = selectors.enrollment_runs(enrollment.merchant, enrollment)
        return EnrollmentOut(
            id=str(enrollment.pk),
            workflow_id=str(enrollment.workflow_id),
            contact_id=str(enrollment.contact_id),
            status=enrollment.status,
            action_name=enrollment.action_name,
            scheduled_at=enrollment.scheduled_at,
            created_at=enrollment.created_at,
            ended_at=enrollment.ended_at,
            steps=[
                StageOut(
                    name=run.name,
                    status=run.status,
                    at=run.finished_at or run.due_at,
                    attempts=run.attempts,
                    error=run.last_error,
                )
                for run in runs
            ],
        )


class EnrollmentList(Schema):
    items: list[EnrollmentOut]


def _workflow(request: HttpRequest, workflow_id: str) -> Workflow:
    merchant, _ = tenant(request)
    workflow = selectors.workflow_get(merchant, workflow_id)
    if workflow is None:
        raise services.WorkflowNotFound()
    return workflow


@router.get("/workflows", response=WorkflowPage, summary="List workflows with their health")
def list_workflows(
    request: HttpRequest,
    q: str | None = Query(None, max_length=200, description="Part of the name"),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> WorkflowPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.workflow_search(merchant, q), cursor, limit)
    return WorkflowPage(
        items=[WorkflowOut.from_workflow(w) for w in page.items], next_cursor=page.next_cursor
    )


@router.post("/workflows", response={201: WorkflowOut, **ERRORS}, summary="Create a workflow")
def create_workflow(request: HttpRequest, payload: WorkflowIn) -> tuple[int, WorkflowOut]:
    merchant, actor = tenant(request)
    workflow = services.workflow_create(
        merchant=merchant,
        actor=actor,
        name=payload.name,
        description=payload.description,
        trigger_type=payload.trigger_type,
        trigger_config=payload.trigger_config,
        reentry=payload.reentry,
        steps=[step.model_dump() for step in payload.steps],
    )
    return 201, WorkflowOut.from_workflow(_workflow(request, str(workflow.pk)))


@router.get("/workflows/{workflow_id}", response={200: WorkflowOut, **ERRORS})
def get_workflow(request: HttpRequest, workflow_id: str) -> WorkflowOut:
    return WorkflowOut.from_workflow(_workflow(request, workflow_id))


@router.post(
    "/workflows/{workflow_id}/publish",
    response={200: WorkflowOut, **ERRORS},
    summary="Publish (or resume) a workflow; refused while it has warnings",
)
def publish_workflow(request: HttpRequest, workflow_id: str) -> WorkflowOut:
    merchant, actor = tenant(request)
    workflow = services.workflow_publish(
        merchant=merchant, workflow=_workflow(request, workflow_id), actor=actor
    )
    return WorkflowOut.from_workflow(_workflow(request, str(workflow.pk)))


@router.post("/workflows/{workflow_id}/pause", response={200: WorkflowOut, **ERRORS})
def pause_workflow(request: HttpRequest, workflow_id: str) -> WorkflowOut:
    merchant, actor = tenant(request)
    workflow = services.workflow_pause(
        merchant=merchant, workflow=_workflow(request, workflow_id), actor=actor
    )
    return WorkflowOut.from_workflow(_workflow(request, str(workflow.pk)))


@router.post(
    "/workflows/{workflow_id}/enrollments",
    response={201: EnrollmentList, **ERRORS},
    summary="Add contacts to a workflow, now or at scheduled_at",
    description=(
        "Contacts the workflow's re-entry rule keeps out are left out of the answer. "
        "A red workflow (paused or failing) refuses with code `workflow_red`."
    ),
)
def enroll_contacts(
    request: HttpRequest, workflow_id: str, payload: EnrollIn
) -> tuple[int, EnrollmentList]:
    merchant, actor = tenant(request)
    workflow = _workflow(request, workflow_id)
    contacts = []
    for contact_id in payload.contact_ids:
        contact = contact_selectors.contact_get(merchant, contact_id)
        if contact is None:
            raise ContactNotFound(f"No contact with id {contact_id}.", field="contact_ids")
        contacts.append(contact)
    made = services.enrollments_create(
        merchant=merchant,
        workflow=workflow,
        contacts=contacts,
        actor=actor,
        action_name=payload.action_name,
        scheduled_at=_aware(payload.scheduled_at, merchant),
    )
    return 201, EnrollmentList(items=[EnrollmentOut.from_enrollment(e) for e in made])


def _aware(moment: datetime.datetime | None, merchant: Any) -> datetime.datetime | None:
    """A time without an offset is the merchant's local time."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=merchant.zone)


def _enrollment(request: HttpRequest, enrollment_id: str) -> Enrollment:
    merchant, _ = tenant(request)
    enrollment = selectors.enrollment_get(merchant, enrollment_id)
    if enrollment is None:
        raise EnrollmentNotFound()
    return enrollment


@router.get("/enrollments/{enrollment_id}", response={200: EnrollmentOut, **ERRORS})
def get_enrollment(request: HttpRequest, enrollment_id: str) -> EnrollmentOut:
    return EnrollmentOut.from_enrollment(_enrollment(request, enrollment_id))


@router.post("/enrollments/{enrollment_id}/cancel", response={200: EnrollmentOut, **ERRORS})
def cancel_enrollment(request: HttpRequest, enrollment_id: str) -> EnrollmentOut:
    merchant, actor = tenant(request)
    enrollment = services.enrollment_cancel(
        merchant=merchant, enrollment=_enrollment(request, enrollment_id), actor=actor
    )
    return EnrollmentOut.from_enrollment(_enrollment(request, str(enrollment.pk)))
