"""The step engine: due step runs are claimed with a lease, run once, retried, or given up.

Workers in any number of processes call `run_due_steps`. A claim marks a batch of due
rows as running under this worker's name until `lease_until`; a worker that dies leaves
its rows to be claimed again when the lease runs out. Running a step and recording its
result happen in one transaction, after re-checking that the lease is still ours, so a
step whose transaction committed is never run again. Services called by a step get the
run's idempotency key (enrollment + step), which covers the remaining window: effects
outside our database (webhooks) and retries of a step whose first try already acted.
"""

import datetime
import logging
import os
import socket
import threading
import time
import traceback
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from patron.automations import actions, events
from patron.automations.actions.base import Outcome, StepContext
from patron.automations.models import (
    ENDED_STATUSES,
    Enrollment,
    EnrollmentStatus,
    RunStatus,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from patron.lib.errors import PatronError
from patron.tenants.models import Merchant

log = logging.getLogger(__name__)

BATCH_SIZE = 5


def lease_seconds() -> int:
    return int(getattr(settings, "AUTOMATIONS_LEASE_SECONDS", 60))


def max_attempts() -> int:
    return int(getattr(settings, "AUTOMATIONS_MAX_ATTEMPTS", 5))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff: base, 2x base, 4x base ... capped at an hour."""
    base = float(getattr(settings, "AUTOMATIONS_RETRY_BASE_SECONDS", 30))
    return datetime.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def idempotency_key(enrollment_id: int, step_id: int) -> str:
    return f"automation:{enrollment_id}:{step_id}"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# Scheduling ------------------------------------------------------------------------------


def schedule_step(
    *, enrollment: Enrollment, step: WorkflowStep, not_before: datetime.datetime
) -> StepRun:
    action = actions.get(step.action_type)
    due_at = action.due_at(step.config or {}, enrollment.merchant, not_before)
    # The history is written in the merchant's language, whoever's screen started it.
    with translation.override(enrollment.merchant.language or "en"):
        name = action.name(step.config or {})[:300]
    run = StepRun.objects.create(
        merchant=enrollment.merchant,
        enrollment=enrollment,
        step=step,
        name=name,
        position=step.position,
        due_at=due_at,
        idempotency_key=idempotency_key(enrollment.pk, step.pk),
    )
    enrollment.current_step = step
    enrollment.save(update_fields=["current_step"])
    return run


def schedule_next(
    *, enrollment: Enrollment, after_position: int, now: datetime.datetime, skip: int = 0
) -> StepRun | None:
    """Schedule the step after `after_position` (skipping `skip`), or complete the enrollment."""
    following = list(
        WorkflowStep.objects.filter(
            workflow_id=enrollment.workflow_id, position__gt=after_position
        ).order_by("position", "id")
    )[max(skip, 0) :]
    if not following:
        complete(enrollment=enrollment, now=now)
        return None
    return schedule_step(enrollment=enrollment, step=following[0], not_before=now)


def complete(*, enrollment: Enrollment, now: datetime.datetime) -> None:
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.ended_at = now
    enrollment.current_step = None
    enrollment.save(update_fields=["status", "ended_at", "current_step"])
    events.enrollment_completed(enrollment=enrollment)


# Claiming --------------------------------------------------------------------------------


def claim(
    *, worker: str, limit: int = BATCH_SIZE, now: datetime.datetime | None = None
) -> list[int]:
    """Take up to `limit` due runs (or runs whose lease ran out) for this worker."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        due = (
            StepRun.objects.filter(
                Q(status=RunStatus.PENDING, due_at__lte=now)
                | Q(status=RunStatus.RUNNING, lease_until__lt=now)
            )
            .exclude(
                # A paused workflow's enrollments wait where they are until it is resumed.
                enrollment__workflow__status=WorkflowStatus.PAUSED
            )
            .order_by("due_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: rows another worker is claiming right now are skipped, not
            # waited for, so parallel workers each take different rows.
            due = due.select_for_update(skip_locked=True, of=("self",))
        # SQLite has no row locks: the IMMEDIATE transaction (settings) holds the write
        # lock from its first statement, so claims are serialized instead.
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            StepRun.objects.filter(pk__in=ids).update(
                status=RunStatus.RUNNING,
                lease_owner=worker,
                lease_until=now + datetime.timedelta(seconds=lease_seconds()),
                attempts=F("attempts") + 1,
                started_at=now,
            )
    return ids


def _lock_if_mine(run_id: int, worker: str) -> StepRun | None:
    """Lock the enrollment, then the run (always in that order), if the lease is still ours."""
    enrollment_id = (
        StepRun.objects.filter(pk=run_id).values_list("enrollment_id", flat=True).first()
    )
    if enrollment_id is None:
        return None
    list(Enrollment.objects.select_for_update().filter(pk=enrollment_id))
    return (
        StepRun.objects.select_for_update(of=("self",))
        .filter(pk=run_id, lease_owner=worker, status=RunStatus.RUNNING)
        .select_related(
            "enrollment__workflow", "enrollment__contact", "enrollment__merchant", "step"
        )
        .first()
    )


# Running ---------------------------------------------------------------------------------


def run_due_steps(
    *, worker: str | None = None, budget_seconds: float = 8.0, limit: int = BATCH_SIZE
) -> int:
    """Run due steps until none is due or the time budget is spent; return how many ran."""
    worker = worker or default_worker_id()
    deadline = time.monotonic() + budget_seconds
    ran = 0
    while time.monotonic() < deadline:
        ids = claim(worker=worker, limit=limit)
        if not ids:
            break
        for run_id in ids:
            execute(run_id=run_id, worker=worker)
            ran += 1
    return ran


def execute(*, run_id: int, worker: str) -> None:
    with scopes_disabled():
        merchant = Merchant.objects.filter(
            pk=StepRun.objects.filter(pk=run_id).values("merchant_id")[:1]
        ).first()
    if merchant is None:
        return
    with scope(merchant=merchant), translation.override(merchant.language or "en"):
        try:
            _execute(run_id, worker)
        except Exception as error:
            log.warning("Step run %s failed: %s", run_id, error)
            _fail(run_id, worker, error)


def _context(run: StepRun) -> StepContext:
    enrollment = run.enrollment
    assert run.step is not None
    return StepContext(
        merchant=enrollment.merchant,
        enrollment=enrollment,
        contact=enrollment.contact,
        step=run.step,
        run=run,
        actor=events.automation_actor(enrollment),
        idempotency_key=run.idempotency_key,
        now=timezone.now(),
    )


def _execute(run_id: int, worker: str) -> None:
    peek = (
        StepRun.objects.filter(pk=run_id, lease_owner=worker, status=RunStatus.RUNNING)
        .select_related("step")
        .first()
    )
    if peek is None:
        return
    action = actions.get(peek.step.action_type) if peek.step else None
    if action is not None and not action.in_transaction:
        # Calls out of our database happen before the transaction; the idempotency key
        # they carry makes a repeat after a crash harmless to the receiver.
        with transaction.atomic():
            run = _lock_if_mine(run_id, worker)
            if run is None or _ended(run):
                return
            ctx = _context(run)
        outcome = action.run(ctx)
        with transaction.atomic():
            run = _lock_if_mine(run_id, worker)
            if run is not None and not _ended(run):
                _succeed(run, outcome)
        return
    with transaction.atomic():
        run = _lock_if_mine(run_id, worker)
        if run is None or _ended(run):
            return
        assert action is not None
        outcome = action.run(_context(run))
        _succeed(run, outcome)


def _ended(run: StepRun) -> bool:
    """A run of a cancelled or finished enrollment, or of a deleted step, does nothing."""
    if run.enrollment.status in ENDED_STATUSES or run.step is None:
        run.status = RunStatus.CANCELLED
        run.finished_at = timezone.now()
        run.lease_until = None
        run.save(update_fields=["status", "finished_at", "lease_until"])
        if run.step is None and run.enrollment.status not in ENDED_STATUSES:
            schedule_next(
                enrollment=run.enrollment, after_position=run.position, now=timezone.now()
            )
        return True
    return False


def _succeed(run: StepRun, outcome: Outcome) -> None:
    now = timezone.now()
    run.status = RunStatus.SUCCEEDED
    run.result = {"summary": outcome.summary, **outcome.data}
    run.finished_at = now
    run.lease_until = None
    run.last_error = ""
    run.save(update_fields=["status", "result", "finished_at", "lease_until", "last_error"])
    enrollment = run.enrollment
    if outcome.remember:
        enrollment.context = {**(enrollment.context or {}), **outcome.remember}
    if enrollment.status == EnrollmentStatus.SCHEDULED:
        enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.save(update_fields=["context", "status"])
    events.step_completed(run=run, summary=outcome.summary)
    if outcome.stop:
        complete(enrollment=enrollment, now=now)
    else:
        schedule_next(
            enrollment=enrollment, after_position=run.position, now=now, skip=outcome.skip
        )


def _error_text(error: BaseException) -> str:
    if isinstance(error, PatronError):
        return error.message
    return f"{type(error).__name__}: {error}"[:1000]


def _fail(run_id: int, worker: str, error: BaseException) -> None:
    now = timezone.now()
    text = _error_text(error)
    with transaction.atomic():
        run = _lock_if_mine(run_id, worker)
        if run is None:
            return
        # A domain refusal (member not active, no such coupon type) will not change on
        # retry; anything else (a timeout, a lost connection) may.
        final = isinstance(error, PatronError) or run.attempts >= max_attempts()
        run.last_error = text
        if not isinstance(error, PatronError):
            run.result = {"traceback": "".join(traceback.format_exception(error))[-4000:]}
        run.lease_until = None
        if not final:
            run.status = RunStatus.PENDING
            run.due_at = now + retry_delay(run.attempts)
            run.save(update_fields=["status", "due_at", "last_error", "result", "lease_until"])
            events.step_failed(run=run, error=text, retry_at=run.due_at.isoformat())
            return
        run.status = RunStatus.FAILED
        run.finished_at = now
        run.save(update_fields=["status", "finished_at", "last_error", "result", "lease_until"])
        give_up(run=run, error=text, now=now)


def give_up(*, run: StepRun, error: str, now: datetime.datetime) -> None:
    """Stop the enrollment, turn the workflow red and tell the staff, in one transaction."""
    enrollment = run.enrollment
    enrollment.status = EnrollmentStatus.FAILED
    enrollment.ended_at = now
    enrollment.save(update_fields=["status", "ended_at"])
    Workflow.objects.filter(pk=enrollment.workflow_id).update(last_failure_at=now)
    events.step_failed(run=run, error=error, retry_at=None)
    events.enrollment_failed(enrollment=enrollment, error=error)
    from patron.messaging import services as messaging

    messaging.notification_create(
        merchant=enrollment.merchant,
        text=_("Workflow “%(workflow)s” failed for %(contact)s at “%(step)s”: %(error)s")
        % {
            "workflow": enrollment.workflow.name,
            "contact": enrollment.contact,
            "step": run.name,
            "error": error,
        },
        link=reverse("automations:enrollment", args=[enrollment.pk]),
        actor=events.automation_actor(enrollment),
    )


def pending_count(**filters: Any) -> int:
    with scopes_disabled():
        return StepRun.objects.filter(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING], **filters
        ).count()
