"""The engine in real worker processes: `patron worker` on the database queue or on RQ.

The crash test kills worker processes with SIGKILL every few seconds while 500 contacts
go through a give-points + issue-coupon + SMS workflow, and checks that in the end every
enrollment completed and every effect happened exactly once.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scope, scopes_disabled

from patron.automations import services, tasks
from patron.automations.models import Enrollment, EnrollmentStatus
from patron.automations.tests.factories import ACTOR, make_workflow
from patron.coupons.models import Coupon
from patron.factories import ContactFactory
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerEntry, Member
from patron.messaging.models import Message

ROOT = Path(settings.BASE_DIR)
RQ_REDIS_URL = "redis://127.0.0.1:6379/11"
POINTS = 25
CRASH_COUNT = int(os.environ.get("CRASH_COUNT", "500"))


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def setup_workflow(merchant: Any, count: int) -> Any:
    """`count` active members and the workflow every one of them is enrolled in."""
    with scope(merchant=merchant):
        loyalty_services.program_install_defaults(merchant=merchant)
        contacts = [ContactFactory(merchant=merchant) for _ in range(count)]
        for contact in contacts:
            member = loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)
            loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
    workflow = make_workflow(
        merchant,
        [
            ("give_points", {"amount": POINTS}),
            ("issue_coupon", {"label": "Thank you", "type": "fixed_amount", "value": "20000"}),
            ("send_sms", {"body": "Thanks {first_name}! {coupon_code} is yours."}),
        ],
        name="Points, coupon and SMS",
    )
    with scope(merchant=merchant):
        services.enrollments_create(
            merchant=merchant, workflow=workflow, contacts=contacts, actor=ACTOR
        )
    return workflow


class Worker:
    """One `patron worker` process in its own process group, with its own log."""

    def __init__(self, env: dict[str, str], log: Path, args: list[str], lifetime: float):
        self.log = log
        self.lifetime = lifetime
        self.ready_at: float | None = None
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "patron", "worker", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def due_to_die(self) -> bool:
        """Killed `lifetime` seconds after it started working (startup is slow on a busy
        machine; killing a worker that never started would test nothing)."""
        if self.ready_at is None:
            if b"Starting worker" in self.log.read_bytes():
                self.ready_at = time.monotonic()
            return False
        return time.monotonic() - self.ready_at >= self.lifetime

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Workers:
    def __init__(self, env: dict[str, str], folder: Path, *args: str):
        self.env, self.folder, self.args = env, folder, list(args)
        self.procs: list[Worker] = []
        self.started = 0
        self.rng = random.Random(5)

    def start(self, lifetime: float = float("inf")) -> None:
        self.started += 1
        log = self.folder / f"worker-{self.started}.log"
        self.procs.append(Worker(self.env, log, self.args, lifetime))

    def stop(self) -> None:
        for worker in self.procs:
            worker.kill()
        self.procs = []
        end_other_connections()


def end_other_connections(seconds: float = 30, quiet: float = 3) -> None:
    """Close what the killed workers left connected to the test database.

    RQ runs each job in a work horse that starts a session of its own, so killing the
    worker's process group does not reach it: a job in flight goes on and holds its
    locks, and the test database's flush at teardown would deadlock with it. On
    PostgreSQL those backends are ended here (the database is this test run's own), until
    none has come back for `quiet` seconds: a job that loses its connection may open
    another (the engine records a failed step and goes on until its time budget ends)."""
    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(pg_terminate_backend(pid)) {others}")
            if cursor.fetchone()[0]:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
            time.sleep(0.5)


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        AUTOMATIONS_LEASE_SECONDS="3",
        AUTOMATIONS_RETRY_BASE_SECONDS="1",
        LOG_LEVEL="ERROR",
        **extra,
    )
    return env


def unfinished(workflow: Any) -> int:
    with scopes_disabled():
        return (
            Enrollment.objects.filter(workflow=workflow)
            .exclude(status=EnrollmentStatus.COMPLETED)
            .count()
        )


def tick() -> None:
    """The clock of the killed workers: one waiting run_due_steps job at a time."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        task_path="patron.automations.tasks.run_due_steps", status="READY"
    )
    if not waiting.exists():
        tasks.run_due_steps.enqueue()


def run_until_done(
    workers: Workers, workflow: Any, *, deadline: float, kill_every: float = 0, clock: bool = False
) -> int:
    """Run workers until every enrollment completed; with kill_every, each worker is
    SIGKILLed a few seconds after it starts working and a new one takes its place."""

    def lifetime() -> float:
        return kill_every * workers.rng.uniform(0.5, 1.5) if kill_every else float("inf")

    for _ in range(3):
        workers.start(lifetime())
    kills = 0
    try:
        while unfinished(workflow) and time.monotonic() < deadline:
            if clock:
                tick()
            time.sleep(0.5)
            for worker in list(workers.procs):
                if worker.due_to_die():
                    worker.kill()
                    workers.procs.remove(worker)
                    workers.start(lifetime())
                    kills += 1
    finally:
        workers.stop()
    return kills


def assert_each_effect_once(merchant: Any, workflow: Any, count: int) -> None:
    with scope(merchant=merchant):
        statuses = list(
            Enrollment.objects.filter(workflow=workflow).values_list("status", flat=True)
        )
        assert statuses.count(EnrollmentStatus.COMPLETED) == count, statuses
        members = Member.objects.filter(merchant=merchant)
        assert members.count() == count
        assert set(members.values_list("points_available", flat=True)) == {POINTS}
        assert LedgerEntry.objects.filter(merchant=merchant, source="automation").count() == count
        assert Coupon.objects.filter(merchant=merchant).count() == count
        assert Coupon.objects.values("contact").distinct().count() == count
        sms = Message.objects.filter(merchant=merchant, channel="sms")
        assert sms.count() == count
        assert sms.values("contact").distinct().count() == count


@pytest.mark.slow
@pytest.mark.postgres_only
def test_500_enrollments_complete_exactly_once_while_workers_are_killed(
    transactional_db, trio, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("The crash test needs PostgreSQL (row locks, parallel workers)")
    workflow = setup_workflow(trio.merchant, CRASH_COUNT)
    workers = Workers(worker_env(TASKS_BACKEND="database"), tmp_path, "--no-clock")
    # Each worker dies about a second after it starts working: the 1,500 steps take a few
    # seconds of three workers, so a longer life would see them finished first.
    kills = run_until_done(
        workers, workflow, deadline=time.monotonic() + 900, kill_every=1.0, clock=True
    )
    assert kills >= 3, "the workers finished before any was killed"
    assert_each_effect_once(trio.merchant, workflow, CRASH_COUNT)


@pytest.mark.slow
def test_the_workflow_runs_on_the_database_queue(transactional_db, trio, tmp_path):
    workflow = setup_workflow(trio.merchant, 20)
    workers = Workers(worker_env(TASKS_BACKEND="database"), tmp_path)
    run_until_done(workers, workflow, deadline=time.monotonic() + 120)
    assert_each_effect_once(trio.merchant, workflow, 20)


@pytest.mark.slow
def test_the_workflow_runs_on_rq_with_redis(transactional_db, trio, tmp_path):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(RQ_REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("No Redis on 127.0.0.1:6379")
    client.flushdb()
    workflow = setup_workflow(trio.merchant, 20)
    env = worker_env(TASKS_BACKEND="rq", REDIS_URL=RQ_REDIS_URL)
    workers = Workers(env, tmp_path)
    try:
        run_until_done(workers, workflow, deadline=time.monotonic() + 120)
        # The steps ran as RQ jobs: their records are in Redis.
        assert any(client.scan_iter("rq:job:*", count=1000))
        assert_each_effect_once(trio.merchant, workflow, 20)
    finally:
        client.flushdb()
