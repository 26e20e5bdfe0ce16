"""The step engine: due step runs are claimed with a lease, run once, retried, or given up.

Workers in any number of processes call `run_due_steps`. A claim marks a batch of due
rows as running under this worker's name until `lease_until`; a worker that dies leaves
its rows to be claimed again when the lease runs out. Running steps and recording their
results happen in one transaction per chunk of the batch (see `_run_chunk`), after
re-checking that the leases are still ours, so a step whose transaction committed is never
run again and one whose transaction did not commit left no trace. Services called by a
step get the run's idempotency key (enrollment + step), which covers the remaining
window: effects outside our database (webhooks) and retries of a step whose first try
already acted.

In a chunk's first try the runs of one action go to it together (`Action.run_batch`:
points for 25 members are three reads and three writes, not 25 of each), and the steps
they schedule for now run after them in the same transaction (`_run_through`).
"""

import contextlib
import datetime
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
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
from patron.contacts.events import events_deferred, fan_out_batched
from patron.lib.errors import PatronError
from patron.lib.memo import shared_reads
from patron.lib.sql import savepoints_off, update_rows
from patron.messaging import services as messaging
from patron.tenants.models import Merchant

log = logging.getLogger(__name__)

# Runs one claim takes. A worker runs them in chunks of one transaction each: the
# commit (a disk flush on PostgreSQL) is paid once per chunk instead of once per step,
# and the locks a chunk holds (its enrollments, the members it gives points to) are
# held for a fraction of a second.
BATCH_SIZE = 100
CHUNK_SIZE = 25
# A run due this soon is waited for inside the task rather than left to the next tick.
TIMER_HORIZON_SECONDS = 1.0
MIN_SLEEP_SECONDS = 0.01


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


def new_run(
    *, enrollment: Enrollment, step: WorkflowStep, not_before: datetime.datetime
) -> StepRun:
    """The (unsaved) run of `step` for `enrollment`, due when the step says."""
    action = actions.get(step.action_type)
    due_at = action.due_at(step.config or {}, enrollment.merchant, not_before)
    # The history is written in the merchant's language, whoever's screen started it.
    with translation.override(enrollment.merchant.language or "en"):
        name = action.name(step.config or {})[:300]
    return StepRun(
        merchant=enrollment.merchant,
        enrollment=enrollment,
        step=step,
        name=name,
        position=step.position,
        due_at=due_at,
        idempotency_key=idempotency_key(enrollment.pk, step.pk),
    )


def schedule_step(
    *, enrollment: Enrollment, step: WorkflowStep, not_before: datetime.datetime
) -> StepRun:
    run = new_run(enrollment=enrollment, step=step, not_before=not_before)
    run.save()
    enrollment.current_step = step
    enrollment.save(update_fields=["current_step"])
    return run


def schedule_next(
    *, enrollment: Enrollment, after_position: int, now: datetime.datetime, skip: int = 0
) -> StepRun | None:
    """Schedule the step after `after_position` (skipping `skip`), or complete the enrollment."""
    following = [
        step for step in _workflow_steps(enrollment.workflow_id) if step.position > after_position
    ][max(skip, 0) :]
    if not following:
        complete(enrollment=enrollment, now=now)
        return None
    return schedule_step(enrollment=enrollment, step=following[0], not_before=now)


def _workflow_steps(workflow_id: int) -> list[WorkflowStep]:
    return list(WorkflowStep.objects.filter(workflow_id=workflow_id).order_by("position", "id"))


def complete(*, enrollment: Enrollment, now: datetime.datetime) -> None:
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.ended_at = now
    enrollment.current_step = None
    enrollment.save(update_fields=["status", "ended_at", "current_step"])
    events.enrollment_completed(enrollment=enrollment)


# Claiming --------------------------------------------------------------------------------


def _due(now: datetime.datetime) -> QuerySet[StepRun]:
    return StepRun.objects.filter(
        Q(status=RunStatus.PENDING, due_at__lte=now)
        | Q(status=RunStatus.RUNNING, lease_until__lt=now)
    ).exclude(
        # A paused workflow's enrollments wait where they are until it is resumed.
        enrollment__workflow__status=WorkflowStatus.PAUSED
    )


def claim(
    *, worker: str, limit: int = BATCH_SIZE, now: datetime.datetime | None = None
) -> list[int]:
    """Take up to `limit` due runs (or runs whose lease ran out) for this worker."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        due = _due(now).order_by("due_at", "id")
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


def seconds_to_next_due(now: datetime.datetime | None = None) -> float | None:
    """How long until the next pending run falls due (None if nothing is pending)."""
    now = now or timezone.now()
    with scopes_disabled():
        next_due = (
            StepRun.objects.filter(status=RunStatus.PENDING)
            .exclude(enrollment__workflow__status=WorkflowStatus.PAUSED)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
    if next_due is None:
        return None
    return max((next_due - now).total_seconds(), 0.0)


def _lock_if_mine(run_id: int, worker: str, merchant: Merchant) -> StepRun | None:
    """Lock the enrollment, then the run (always in that order), if the lease is still ours."""
    runs = _lock_mine([run_id], worker, merchant)
    return runs[0] if runs else None


def _lock_mine(run_ids: list[int], worker: str, merchant: Merchant) -> list[StepRun]:
    """Lock the runs' enrollments (in primary-key order), then those of the runs whose lease
    is still ours; return the latter with what running them reads, `merchant` (whose runs
    they are) as their enrollments' merchant.

    Enrollment before run is the order `enrollment_cancel` takes them in, so the two never
    wait on each other in a cycle.

    Rows are found by primary key alone, from a list of ids: these runs were claimed by
    this worker and grouped by merchant. With the merchant's filter (the scope) or a
    subquery, PostgreSQL planned from statistics taken before a campaign's rows were
    written: it scanned all of the merchant's step runs once per enrollment, 0.4 s a chunk
    at 1,500 enrollments, until the table was analyzed again.
    """
    with scopes_disabled():
        enrollment_ids = sorted(
            StepRun.objects.filter(pk__in=run_ids).values_list("enrollment_id", flat=True)
        )
        list(
            Enrollment.objects.select_for_update()
            .filter(pk__in=enrollment_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        runs = list(
            StepRun.objects.select_for_update(of=("self",))
            .filter(pk__in=run_ids, lease_owner=worker, status=RunStatus.RUNNING)
            # Not the merchant: the caller has it (and sets it on each enrollment).
            .select_related("enrollment__workflow", "enrollment__contact", "step")
            # Contact order: two workers whose steps lock the same members (points) take
            # those locks in the same order, so they do not deadlock.
            .order_by("enrollment__contact_id", "pk")
        )
    for run in runs:
        run.enrollment.merchant = merchant
    return runs


# Running ---------------------------------------------------------------------------------


def run_due_steps(
    *,
    worker: str | None = None,
    budget_seconds: float = 8.0,
    limit: int = BATCH_SIZE,
    timer_horizon: float = TIMER_HORIZON_SECONDS,
) -> int:
    """Run due steps until none is due or the time budget is spent; return how many ran.

    A run falling due within `timer_horizon` seconds is waited for here, so a timer fires
    at its time instead of at the next tick of the clock (every second) plus the queue's
    poll interval.
    """
    worker = worker or default_worker_id()
    deadline = time.monotonic() + budget_seconds
    ran = 0
    while time.monotonic() < deadline:
        ids = claim(worker=worker, limit=limit)
        if ids:
            ran += execute_batch(run_ids=ids, worker=worker)
            continue
        wait = seconds_to_next_due() if timer_horizon > 0 else None
        if wait is None or wait > timer_horizon or time.monotonic() + wait >= deadline:
            break
        time.sleep(max(wait, MIN_SLEEP_SECONDS))
    return ran


def execute_batch(*, run_ids: list[int], worker: str) -> int:
    """Run claimed runs: by merchant, in chunks of one transaction each; return how many
    ran, with those run through after them."""
    with scopes_disabled():
        rows = list(
            StepRun.objects.filter(pk__in=run_ids).values_list(
                "pk", "merchant_id", "step__action_type"
            )
        )
        merchants = Merchant.objects.in_bulk({merchant_id for _, merchant_id, _ in rows})
    by_merchant: dict[int, list[int]] = {}
    apart: list[int] = []
    ran = 0
    for run_id, merchant_id, action_type in rows:
        action = actions.ACTIONS.get(action_type or "")
        if action is not None and not action.in_transaction:
            apart.append(run_id)
        else:
            by_merchant.setdefault(merchant_id, []).append(run_id)
    for merchant_id, ids in by_merchant.items():
        merchant = merchants.get(merchant_id)
        if merchant is None:
            continue
        with scope(merchant=merchant), translation.override(merchant.language or "en"):
            for start in range(0, len(ids), CHUNK_SIZE):
                # With the runs run through after them (_run_through).
                ran += _run_chunk(ids[start : start + CHUNK_SIZE], worker, merchant)
    for run_id in apart:
        execute(run_id=run_id, worker=worker)
    return ran + len(apart)


def execute(*, run_id: int, worker: str) -> None:
    """Run one claimed run in a transaction of its own."""
    with scopes_disabled():
        merchant = Merchant.objects.filter(
            pk=StepRun.objects.filter(pk=run_id).values("merchant_id")[:1]
        ).first()
    if merchant is None:
        return
    with scope(merchant=merchant), translation.override(merchant.language or "en"):
        try:
            _execute(run_id, worker, merchant)
        except Exception as error:
            log.warning("Step run %s failed: %s", run_id, error)
            _fail(run_id, worker, merchant, error)


class _Writes:
    """What a chunk's steps change in the engine's own rows, written together at its end."""

    def __init__(self) -> None:
        self.runs: list[StepRun] = []
        self.enrollments: dict[int, Enrollment] = {}
        self.new_runs: list[StepRun] = []
        self.steps: dict[int, list[WorkflowStep]] = {}

    def workflow_steps(self, workflow_id: int) -> list[WorkflowStep]:
        if workflow_id not in self.steps:
            self.steps[workflow_id] = _workflow_steps(workflow_id)
        return self.steps[workflow_id]

    def save(self) -> None:
        update_rows(
            StepRun, self.runs, ["status", "result", "finished_at", "lease_until", "last_error"]
        )
        if self.new_runs:
            StepRun.objects.bulk_create(self.new_runs)
        update_rows(
            Enrollment,
            list(self.enrollments.values()),
            ["context", "status", "current_step", "ended_at"],
        )


def _run_chunk(run_ids: list[int], worker: str, merchant: Merchant) -> int:
    """Run steps in one transaction: first all together without savepoints, then, if any
    of them raised, again with a savepoint each, then one by one.

    The first pass saves the steps' savepoints (two round trips each, and as many again
    for each service a step calls): four statements in ten of a chunk of points and
    messages. It pays for that with a chunk that fails as a whole when one step fails,
    which the second pass then runs as before: a step that raises is rolled back alone
    and recorded as failed (or to retry), the others commit with it. In both, the
    messages queued go to one delivery task and the events to one webhook fan-out. If
    the chunk cannot commit even so, each of its runs is tried again on its own, so one
    bad row does not hold the others back.
    """
    try:
        return _run_steps(run_ids, worker, merchant, savepoints=False)
    except Exception as error:
        log.info("A chunk of %s step runs is run again step by step (%s)", len(run_ids), error)
    try:
        return _run_steps(run_ids, worker, merchant, savepoints=True)
    except Exception as error:
        log.warning(
            "A chunk of %s step runs failed (%s); running them one by one", len(run_ids), error
        )
        for run_id in run_ids:
            execute(run_id=run_id, worker=worker)
    return len(run_ids)


def _run_steps(run_ids: list[int], worker: str, merchant: Merchant, *, savepoints: bool) -> int:
    """One transaction for the runs; with `savepoints`, a step that raises is recorded as
    failed and the others go on, without them, a step that raises ends it all, and the
    steps they schedule for now run after them (`_run_through`). Returns how many runs
    there were."""
    # The chunk's messages go to one delivery task after its commit; its steps read the
    # merchant's program, tiers and channel settings once.
    with (
        messaging.deliveries_batched(),
        fan_out_batched(),
        shared_reads(),
        transaction.atomic(),
        contextlib.nullcontext() if savepoints else _all_or_nothing(),
    ):
        writes = _Writes()
        live = [run for run in _lock_mine(run_ids, worker, merchant) if not _ended(run)]
        ran = len(run_ids)
        if savepoints:
            for run in live:
                _run_alone(run, writes)
        else:
            while live:
                _run_together(live, writes)
                live = _run_through(writes, worker)
                ran += len(live)
        writes.save()
    return ran


def _by_action(runs: list[StepRun]) -> dict[str, list[StepRun]]:
    grouped: dict[str, list[StepRun]] = {}
    for run in runs:
        assert run.step is not None
        grouped.setdefault(run.step.action_type, []).append(run)
    return grouped


def _run_together(runs: list[StepRun], writes: _Writes) -> None:
    """Run the runs, those of one action together: it may share their statements."""
    for action_type, group in _by_action(runs).items():
        outcomes = actions.get(action_type).run_batch([_context(run) for run in group])
        for run, outcome in zip(group, outcomes, strict=True):
            _succeed(run, outcome, writes)


def _run_alone(run: StepRun, writes: _Writes) -> None:
    """Run one run in a savepoint: if it raises, it alone is rolled back and failed."""
    assert run.step is not None
    try:
        with transaction.atomic():
            outcome = actions.get(run.step.action_type).run(_context(run))
            _succeed(run, outcome, writes)
    except Exception as error:
        log.warning("Step run %s failed: %s", run.pk, error)
        _fail_locked(run, error)


def _run_through(writes: _Writes, worker: str) -> list[StepRun]:
    """The runs that the steps just run scheduled for now, claimed by this worker and
    written, to run next in the same transaction.

    A wait's run is followed at once by the step after it, and a message after points:
    each of those would otherwise be written, claimed, locked and written again by a
    later claim, after the waits falling due behind it. A run due later (a wait), or
    one that calls out of our database (a webhook), is left to its claim, and so are the
    runs of a workflow found paused when the chunk read its runs, as a claim would leave
    them.
    """
    now = timezone.now()
    through = [
        run
        for run in writes.new_runs
        if run.due_at <= now
        and run.step is not None
        and actions.get(run.step.action_type).in_transaction
        and run.enrollment.workflow.status != WorkflowStatus.PAUSED
    ]
    if not through:
        return []
    taken = {id(run) for run in through}
    writes.new_runs = [run for run in writes.new_runs if id(run) not in taken]
    for run in through:
        run.status = RunStatus.RUNNING
        run.lease_owner = worker
        run.lease_until = now + datetime.timedelta(seconds=lease_seconds())
        run.attempts = 1
        run.started_at = now
    # Written now: their primary keys are in the events of their steps.
    StepRun.objects.bulk_create(through)
    return through


@contextlib.contextmanager
def _all_or_nothing() -> Iterator[None]:
    """No savepoints, and the chunk's timeline events written in one statement at its end:
    both only because a step that raises here ends the whole transaction."""
    with savepoints_off(), events_deferred():
        yield


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


def _execute(run_id: int, worker: str, merchant: Merchant) -> None:
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
            run = _lock_if_mine(run_id, worker, merchant)
            if run is None or _ended(run):
                return
            ctx = _context(run)
        outcome = action.run(ctx)
        with transaction.atomic():
            run = _lock_if_mine(run_id, worker, merchant)
            if run is not None and not _ended(run):
                _succeed_now(run, outcome)
        return
    with transaction.atomic():
        run = _lock_if_mine(run_id, worker, merchant)
        if run is None or _ended(run):
            return
        assert action is not None
        outcome = action.run(_context(run))
        _succeed_now(run, outcome)


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


def _succeed_now(run: StepRun, outcome: Outcome) -> None:
    writes = _Writes()
    _succeed(run, outcome, writes)
    writes.save()


def _succeed(run: StepRun, outcome: Outcome, writes: _Writes) -> None:
    """Record a run's success and what comes next, in `writes` (saved by the caller)."""
    now = timezone.now()
    enrollment = run.enrollment
    events.step_completed(run=run, summary=outcome.summary)
    following = (
        []
        if outcome.stop
        else [
            step
            for step in writes.workflow_steps(enrollment.workflow_id)
            if step.position > run.position
        ][max(outcome.skip, 0) :]
    )
    after = new_run(enrollment=enrollment, step=following[0], not_before=now) if following else None
    if after is None:
        events.enrollment_completed(enrollment=enrollment)
    # Only memory from here on: a step that raised above left nothing in `writes`.
    run.status = RunStatus.SUCCEEDED
    run.result = {"summary": outcome.summary, **outcome.data}
    run.finished_at = now
    run.lease_until = None
    run.last_error = ""
    writes.runs.append(run)
    if outcome.remember:
        enrollment.context = {**(enrollment.context or {}), **outcome.remember}
    if enrollment.status == EnrollmentStatus.SCHEDULED:
        enrollment.status = EnrollmentStatus.ACTIVE
    if after is None:
        enrollment.status = EnrollmentStatus.COMPLETED
        enrollment.ended_at = now
        enrollment.current_step = None
    else:
        writes.new_runs.append(after)
        enrollment.current_step = following[0]
    writes.enrollments[enrollment.pk] = enrollment


def _error_text(error: BaseException) -> str:
    if isinstance(error, PatronError):
        return error.message
    return f"{type(error).__name__}: {error}"[:1000]


def _fail(run_id: int, worker: str, merchant: Merchant, error: BaseException) -> None:
    with transaction.atomic():
        run = _lock_if_mine(run_id, worker, merchant)
        if run is None:
            return
        _fail_locked(run, error)


def _fail_locked(run: StepRun, error: BaseException) -> None:
    """Put a failed run (locked, ours) back for a retry, or give it up."""
    now = timezone.now()
    text = _error_text(error)
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
