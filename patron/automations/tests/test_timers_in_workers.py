"""Seed 001 scheduled for a later time, run by a real `patron worker` (database queue and
RQ on the local Redis): the stages start at the chosen time, not before, and within the
worker's poll interval after it (the clock enqueues run_due_steps every second)."""

import datetime
import time

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.automations import services
from patron.automations.models import Enrollment, EnrollmentStatus, StepRun, Workflow
from patron.automations.templates import ADD_TO_PROGRAM
from patron.automations.tests.factories import ACTOR, make_workflow
from patron.automations.tests.test_workers import Workers, worker_env
from patron.contacts import services as contact_services
from patron.messaging.models import Message, Notification
from patron.tenants import services as tenant_services

# A Redis database of its own (the scale-out test uses 12, the crash test 11).
REDIS_URL = "redis://127.0.0.1:6379/13"
# The clock ticks every second and the database worker polls every half second; the
# rest is room for a busy machine.
LATE_AT_MOST = datetime.timedelta(seconds=5)


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def completed(enrollment: Enrollment) -> bool:
    with scopes_disabled():
        enrollment.refresh_from_db()
    return enrollment.status == EnrollmentStatus.COMPLETED


def scheduled_seed_001_runs_on_time(tmp_path, env):
    merchant = tenant_services.merchant_create(
        slug="cafe", name="Cafe", country="VN", timezone_name="Asia/Ho_Chi_Minh"
    )
    with scope(merchant=merchant):
        mark = contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Mark",
            last_name="Nguyen",
            phone="0912 345 678",
            email="mark@example.com",
        )
        welcome = Workflow.objects.get(merchant=merchant, template_key=ADD_TO_PROGRAM)
    ping = make_workflow(merchant, [("add_tag", {"tag": "Worker up"})], name="Ping")
    workers = Workers(env, tmp_path)
    workers.start()
    try:
        # A first enrollment tells that the worker runs and polls.
        with scope(merchant=merchant):
            (first,) = services.enrollments_create(
                merchant=merchant, workflow=ping, contacts=[mark], actor=ACTOR
            )
        assert wait_for(lambda: completed(first), 120), "the worker never started"
        at = timezone.now() + datetime.timedelta(seconds=4)
        with scope(merchant=merchant):
            (enrollment,) = services.enrollments_create(
                merchant=merchant,
                workflow=welcome,
                contacts=[mark],
                actor=ACTOR,
                action_name="Add to loyalty program LP",
                scheduled_at=at,
            )
        assert enrollment.status == EnrollmentStatus.SCHEDULED
        assert wait_for(lambda: completed(enrollment), 60)
    finally:
        workers.stop()
    with scope(merchant=merchant):
        runs = list(StepRun.objects.filter(enrollment=enrollment).order_by("position"))
        assert [r.name for r in runs] == [
            "Add to the loyalty program",
            "Send SMS",
            "Send email",
            "Notify staff",
        ]
        assert all(r.started_at is not None and r.started_at >= at for r in runs)
        assert runs[0].started_at - at <= LATE_AT_MOST, runs[0].started_at - at
        channels = sorted(Message.objects.filter(contact=mark).values_list("channel", flat=True))
        assert channels == ["email", "sms"]
        (note,) = Notification.objects.filter(merchant=merchant)
        assert note.text == "Mark Nguyen was added to the loyalty program"


@pytest.mark.slow
def test_scheduled_seed_001_runs_on_time_on_the_database_queue(transactional_db, tmp_path):
    scheduled_seed_001_runs_on_time(tmp_path, worker_env(TASKS_BACKEND="database"))


@pytest.mark.slow
def test_scheduled_seed_001_runs_on_time_on_rq(transactional_db, tmp_path):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("No Redis on 127.0.0.1:6379")
    client.flushdb()
    try:
        scheduled_seed_001_runs_on_time(
            tmp_path, worker_env(TASKS_BACKEND="rq", REDIS_URL=REDIS_URL)
        )
    finally:
        client.flushdb()
