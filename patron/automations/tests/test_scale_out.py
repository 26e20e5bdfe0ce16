"""Patron scaled out: 2 web processes and 2 workers on PostgreSQL with the RQ backend.

The deployment README's "Running at scale" describes: `patron serve --no-worker` (granian
workers) twice, on their own ports, and `patron worker` twice with TASKS_BACKEND=rq, all
sharing the database and Redis. 200 contacts are created and enrolled into a workflow
(join the program, give points, send an SMS) through the API, half through each web
process; then every enrollment must complete with each effect exactly once.

Jobs go to a Redis database of this test's own (emptied before and after), so other
users of the local Redis are left alone. Every process is stopped by its process group.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scope

from patron.automations.models import Enrollment, EnrollmentStatus
from patron.lib.actors import Actor
from patron.loyalty.models import LedgerEntry, Member
from patron.messaging.models import Message
from patron.tenants.services import api_key_create, merchant_create

ROOT = Path(settings.BASE_DIR)
REDIS_DB = int(os.environ.get("SCALE_OUT_REDIS_DB", "12"))
CONTACTS = 200
POINTS = 40
DEADLINE_SECONDS = 480

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis(*args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-n", str(REDIS_DB), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip()


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """Child processes, each in its own process group, logged to files, stopped by pid."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder, self.env = folder, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "patron", *args],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )


class Api:
    def __init__(self, port: int, key: str):
        self.base = f"http://127.0.0.1:{port}"
        self.key = key
        self.calls = 0

    def post(self, path: str, body: dict[str, Any], key: str) -> Any:
        request = urllib.request.Request(  # noqa: S310 (our own loopback address)
            self.base + "/api/v1" + path,
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            self.calls += 1
            return json.loads(response.read() or b"null")

    def ready(self) -> bool:
        try:
            url = self.base + "/readyz"
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                return bool(response.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False


def wait_for(condition: Any, deadline: float, what: str, processes: Processes) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}\n{processes.logs()}")
        time.sleep(0.5)


def test_two_web_processes_and_two_rq_workers_run_every_enrollment_exactly_once(
    transactional_db: None, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "Scale-out needs PostgreSQL: several processes write at once, and the step "
            "engine's parallel claims rely on its row locks (SKIP LOCKED)"
        )
    if redis("PING") != "PONG":
        pytest.skip("Scale-out needs the local Redis for the RQ task backend")
    # Leftovers of an earlier, interrupted run (RQ's own keys) are cleared; anything else
    # means the database belongs to someone else.
    leftovers = redis("KEYS", "*").split()
    assert all(key.startswith("rq:") for key in leftovers), (
        f"Redis database {REDIS_DB} is in use: set SCALE_OUT_REDIS_DB"
    )
    redis("FLUSHDB")

    actor = Actor.system("Scale-out test")
    merchant = merchant_create(slug="scale-out", name="Scale Out", country="VN")
    with scope(merchant=merchant):
        key = api_key_create(merchant=merchant, actor=actor).raw
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        TASKS_BACKEND="rq",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        PATRON_VAR_DIR=str(tmp_path),
    )
    ports = [free_port(), free_port()]
    processes = Processes(tmp_path, env)
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    try:
        # As a deployment does before starting its processes: migrate with their settings
        # (the RQ mode adds apps of its own to the test database's schema).
        migrate = subprocess.run(
            [sys.executable, "-m", "patron", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        for n, port in enumerate(ports):
            processes.start(
                f"web-{n}", "serve", "--no-worker", "--port", str(port), "--workers", "2"
            )
        for n in range(2):
            processes.start(f"worker-{n}", "worker")
        webs = [Api(port, key) for port in ports]
        wait_for(lambda: all(web.ready() for web in webs), deadline, "the web processes", processes)

        workflow = webs[0].post(
            "/workflows",
            {
                "name": "Welcome gift",
                "steps": [
                    {"action_type": "add_to_program"},
                    {"action_type": "give_points", "config": {"amount": POINTS}},
                    {"action_type": "send_sms", "config": {"body": "Hi {first_name}, thanks!"}},
                ],
            },
            "workflow",
        )
        webs[1].post(f"/workflows/{workflow['id']}/publish", {}, "publish")

        contact_ids: list[list[str]] = [[], []]
        for n in range(CONTACTS):
            side = n % 2
            contact = webs[side].post(
                "/contacts",
                {"first_name": f"Guest{n}", "phone": f"+8491{n:07d}"},
                f"contact-{n}",
            )
            contact_ids[side].append(contact["id"])
        enrolled = 0
        for side, ids in enumerate(contact_ids):
            for start in range(0, len(ids), 20):
                answer = webs[side].post(
                    f"/workflows/{workflow['id']}/enrollments",
                    {"contact_ids": ids[start : start + 20]},
                    f"enroll-{side}-{start}",
                )
                enrolled += len(answer["items"])
        assert enrolled == CONTACTS
        assert [web.calls for web in webs] == [
            1 + CONTACTS // 2 + CONTACTS // 40,
            1 + CONTACTS // 2 + CONTACTS // 40,
        ]

        def finished() -> bool:
            with scope(merchant=merchant):
                open_enrollments = Enrollment.objects.exclude(
                    status=EnrollmentStatus.COMPLETED
                ).count()
                undelivered = (
                    Message.objects.filter(channel="sms")
                    .exclude(status__in=["sent", "delivered"])
                    .count()
                )
            return open_enrollments == 0 and undelivered == 0

        wait_for(finished, deadline, "every enrollment to complete", processes)
    finally:
        processes.stop()
        redis("FLUSHDB")

    with scope(merchant=merchant):
        assert Enrollment.objects.filter(status=EnrollmentStatus.COMPLETED).count() == CONTACTS
        members = Member.objects.filter(merchant=merchant)
        assert members.count() == CONTACTS
        assert set(members.values_list("points_available", flat=True)) == {POINTS}
        given = LedgerEntry.objects.filter(source="automation")
        assert given.count() == CONTACTS
        assert given.values("member").distinct().count() == CONTACTS
        sms = Message.objects.filter(channel="sms")
        assert sms.count() == CONTACTS
        assert sms.values("contact").distinct().count() == CONTACTS
    # Bounded: the whole flow (processes included) finished within its deadline.
    assert time.monotonic() - started < DEADLINE_SECONDS
