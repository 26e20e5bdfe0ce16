"""The step engine: claims, leases, retries with backoff, giving up, exactly-once effects."""

import datetime
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.automations import engine, services
from patron.automations.models import Enrollment, EnrollmentStatus, RunStatus, StepRun
from patron.automations.tests.factories import ACTOR, make_workflow
from patron.contacts.models import ActivityEvent
from patron.factories import ContactFactory
from patron.loyalty.tests.factories import MemberFactory
from patron.tenants.models import Merchant


def run_all(worker: str = "test-worker") -> int:
    return engine.run_due_steps(worker=worker, budget_seconds=30)


def enroll(merchant: Any, workflow: Any, contacts: list[Any], **kwargs: Any) -> list[Enrollment]:
    with scope(merchant=merchant):
        return services.enrollments_create(
            merchant=merchant, workflow=workflow, contacts=contacts, actor=ACTOR, **kwargs
        )


def test_steps_run_in_order_and_the_enrollment_completes(trio):
    merchant = trio.merchant
    contact = ContactFactory(merchant=merchant)
    workflow = make_workflow(
        merchant, [("add_tag", {"tag": "Welcomed"}), ("add_note", {"text": "Hello {first_name}"})]
    )
    (enrollment,) = enroll(merchant, workflow, [contact], action_name="Say hello")
    assert run_all() == 2
    with scope(merchant=merchant):
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.COMPLETED
        runs = list(StepRun.objects.filter(enrollment=enrollment).order_by("position"))
        assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
        assert contact.contact_tags.filter(tag__name="Welcomed").exists()
        note = ActivityEvent.objects.get(contact=contact, type="note_added")
        assert note.data["text"] == f"Hello {contact.first_name}"
        types = list(
            ActivityEvent.objects.filter(contact=contact, type__startswith="automation")
            .order_by("id")
            .values_list("type", flat=True)
        )
        assert types == [
            "automation_enrolled",
            "automation_step_completed",
            "automation_step_completed",
            "automation_completed",
        ]


def test_a_claimed_run_is_not_claimed_again_while_its_lease_holds(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_tag", {"tag": "A"})])
    enroll(trio.merchant, workflow, [contact])
    first = engine.claim(worker="one")
    assert len(first) == 1
    assert engine.claim(worker="two") == []


def test_a_dead_workers_run_is_claimed_again_after_its_lease(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_tag", {"tag": "A"})])
    enroll(trio.merchant, workflow, [contact])
    (run_id,) = engine.claim(worker="dies")
    later = timezone.now() + datetime.timedelta(seconds=engine.lease_seconds() + 1)
    with time_machine.travel(later, tick=False):
        assert engine.claim(worker="survivor") == [run_id]
        # The dead worker, had it woken up, no longer owns the run and does nothing.
        engine.execute(run_id=run_id, worker="dies")
        with scopes_disabled():
            assert StepRun.objects.get(pk=run_id).status == RunStatus.RUNNING
        engine.execute(run_id=run_id, worker="survivor")
    with scopes_disabled():
        run = StepRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.attempts == 2


def test_parallel_workers_never_run_a_step_twice(transactional_db, trio):
    merchant = trio.merchant
    contacts = [ContactFactory(merchant=merchant) for _ in range(30)]
    workflow = make_workflow(merchant, [("add_note", {"text": "once"})])
    enroll(merchant, workflow, contacts)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            engine.run_due_steps(worker=name, budget_seconds=60, limit=3)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    with scopes_disabled():
        assert ActivityEvent.objects.filter(type="note_added", merchant=merchant).count() == 30
        assert StepRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 30
        assert set(StepRun.objects.values_list("attempts", flat=True)) == {1}


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    keys: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.keys.append(self.headers.get("Idempotency-Key", ""))
        status = Receiver.answers.pop(0) if Receiver.answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.answers, Receiver.keys = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_a_failing_step_is_retried_with_backoff_and_keeps_its_idempotency_key(trio, receiver):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("call_webhook", {"url": receiver})])
    (enrollment,) = enroll(trio.merchant, workflow, [contact])
    Receiver.answers = [500, 503]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        run_all()
        with scopes_disabled():
            run = StepRun.objects.get(enrollment=enrollment)
        assert run.status == RunStatus.PENDING
        assert run.due_at == start + engine.retry_delay(1)
        clock.move_to(run.due_at)
        run_all()
        with scopes_disabled():
            run.refresh_from_db()
        assert run.due_at == start + engine.retry_delay(1) + engine.retry_delay(2)
        assert engine.retry_delay(2) == 2 * engine.retry_delay(1)
        clock.move_to(run.due_at)
        run_all()
    with scopes_disabled():
        run.refresh_from_db()
        enrollment.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert len(Receiver.keys) == 3
    assert set(Receiver.keys) == {f"automation:{enrollment.pk}:{run.step_id}"}


def test_a_chunks_text_messages_go_to_one_delivery_task(
    trio, monkeypatch, django_capture_on_commit_callbacks
):
    from patron.messaging import tasks as messaging_tasks
    from patron.messaging.models import Message, MessageStatus

    enqueued: list[tuple[Any, ...]] = []
    real = messaging_tasks.messages_deliver_task

    class Recording:
        def enqueue(self, *args: Any) -> None:
            enqueued.append(args)
            real.call(*args)

    monkeypatch.setattr(messaging_tasks, "messages_deliver_task", Recording())
    merchant = trio.merchant
    contacts = [ContactFactory(merchant=merchant, phone=f"+8490100000{n}") for n in range(3)]
    workflow = make_workflow(merchant, [("send_sms", {"body": "Hi {first_name}"})])
    enroll(merchant, workflow, contacts)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_all() == 3
    ((merchant_id, ids),) = enqueued
    assert merchant_id == merchant.pk and len(ids) == 3
    with scope(merchant=merchant):
        sent = Message.objects.filter(pk__in=ids, status=MessageStatus.DELIVERED)
        assert sorted(str(m.to) for m in sent) == sorted(str(c.phone) for c in contacts)


def test_a_chunk_locks_its_rows_by_primary_key_alone(trio, monkeypatch):
    """No merchant filter and no subquery in the locking reads: with either, PostgreSQL
    planned from stale statistics after a bulk enrollment and scanned the merchant's
    runs once per enrollment."""
    from django.test.utils import CaptureQueriesContext

    lock_mine = engine._lock_mine
    seen: list[str] = []

    def watched(run_ids: list[int], worker: str, merchant: Merchant) -> list[StepRun]:
        with CaptureQueriesContext(connection) as queries:
            runs = lock_mine(run_ids, worker, merchant)
        seen.extend(q["sql"] for q in queries.captured_queries)
        return runs

    monkeypatch.setattr(engine, "_lock_mine", watched)
    merchant = trio.merchant
    contacts = [ContactFactory(merchant=merchant) for _ in range(3)]
    workflow = make_workflow(merchant, [("add_tag", {"tag": "Welcomed"})])
    enroll(merchant, workflow, contacts)
    assert run_all() == 3
    reads = [sql for sql in seen if sql.startswith("SELECT")]
    assert len(reads) == 3  # the runs' enrollment ids, the enrollments, the runs
    for sql in reads:
        where = sql.split(" WHERE ", 1)[1]
        assert "merchant_id" not in where and "SELECT" not in where, sql


def test_one_failing_step_in_a_chunk_leaves_no_trace_and_the_others_commit(trio):
    """The chunk first runs without savepoints; when a step fails there, it is run again
    with a savepoint per step, so nothing of the first try is left behind."""
    from patron.contacts import services as contact_services
    from patron.loyalty import services as loyalty_services
    from patron.loyalty.models import LedgerEntry

    merchant = trio.merchant
    with scope(merchant=merchant):
        loyalty_services.program_install_defaults(merchant=merchant)
        contacts = [
            contact_services.contact_create(
                merchant=merchant, actor=ACTOR, first_name=name, phone=f"090111122{n}"
            )
            for n, name in enumerate(["An", "Binh", "Chi"])
        ]
        for contact in (contacts[0], contacts[2]):
            member = loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)
            loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
    # Binh is no member: giving him points is refused.
    workflow = make_workflow(merchant, [("give_points", {"amount": 5})], name="Bonus")
    enrollments = enroll(merchant, workflow, contacts)
    assert run_all() == 3
    with scope(merchant=merchant):
        statuses = [
            (e.contact.first_name, StepRun.objects.get(enrollment=e).status) for e in enrollments
        ]
        assert statuses == [
            ("An", RunStatus.SUCCEEDED),
            ("Binh", RunStatus.FAILED),
            ("Chi", RunStatus.SUCCEEDED),
        ]
        assert LedgerEntry.objects.filter(merchant=merchant, kind="earn").count() == 2
        earned = ActivityEvent.objects.filter(merchant=merchant, type="points_earned")
        assert sorted(e.contact.first_name for e in earned) == ["An", "Chi"]
        done = ActivityEvent.objects.filter(
            merchant=merchant, type="automation_step_completed"
        ).values_list("contact__first_name", flat=True)
        assert sorted(done) == ["An", "Chi"]


def test_an_error_swallowed_without_savepoints_stops_the_commit(trio):
    from django.db import IntegrityError, connections, transaction

    from patron.lib.sql import StatementFailed, savepoints_off

    with pytest.raises(StatementFailed), transaction.atomic(), savepoints_off():
        try:
            with transaction.atomic():
                Merchant.objects.create(slug=trio.merchant.slug, name="Twin")
        except IntegrityError:
            pass  # the transaction is broken all the same
    # Savepoints are back, and the test's own transaction still works.
    assert "_savepoint_allowed" not in vars(connections["default"])
    assert Merchant.objects.filter(slug=trio.merchant.slug).count() == 1


def test_a_chunk_whose_steps_succeed_takes_no_savepoints_and_writes_its_events_at_once(
    transactional_db, trio
):
    """Outside a test's transaction, as in a worker: every atomic block of the claim and
    the chunk is a transaction of its own or runs without a savepoint."""
    from django.test.utils import CaptureQueriesContext

    merchant = trio.merchant
    contacts = [ContactFactory(merchant=merchant) for _ in range(3)]
    workflow = make_workflow(merchant, [("add_tag", {"tag": "Welcomed"})])
    enroll(merchant, workflow, contacts)
    with CaptureQueriesContext(connection) as queries:
        assert run_all() == 3
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    # One INSERT on SQLite; on PostgreSQL one COPY, which the capture does not see.
    event_inserts = [
        sql for sql in statements if sql.startswith('INSERT INTO "contacts_activityevent"')
    ]
    assert len(event_inserts) <= 1
    with scope(merchant=merchant):
        types = ActivityEvent.objects.filter(contact__in=contacts).values_list("type", flat=True)
        assert sorted(types) == sorted(
            [
                "automation_enrolled",
                "tag_added",
                "automation_step_completed",
                "automation_completed",
            ]
            * 3
        )


def test_a_chunk_reads_the_merchants_settings_once(trio):
    """The steps of a chunk read the loyalty program, the tiers and the channel settings
    once each, not once a step, and its gifts of points write together."""
    from django.test.utils import CaptureQueriesContext

    merchant = trio.merchant
    with scope(merchant=merchant):
        members = [MemberFactory(merchant=merchant) for _ in range(5)]
    workflow = make_workflow(
        merchant,
        [("give_points", {"amount": 5}), ("send_sms", {"body": "Hi {first_name}"})],
    )
    enroll(merchant, workflow, [member.contact for member in members])
    with CaptureQueriesContext(connection) as queries:
        assert run_all() == 10
    statements = [q["sql"] for q in queries.captured_queries]
    for table in ("loyalty_loyaltyprogram", "loyalty_tier", "messaging_channelsettings"):
        reads = [sql for sql in statements if f'FROM "{table}"' in sql]
        assert len(reads) <= 2, table  # one per chunk: the give-points one and the SMS one
    # The five gifts of points are written together (loyalty.services.points_give_to_contacts):
    # one statement a table ("5 times: UPDATE ..." is one executemany on SQLite).
    for table in ("loyalty_member", "loyalty_ledgerentry", "loyalty_pointlot"):
        writes = [sql for sql in statements if f'"{table}"' in sql and "SELECT" not in sql[:20]]
        assert len(writes) == 1, table
    with scope(merchant=merchant):
        for member in members:
            member.refresh_from_db()
            assert member.points_available == 5


def test_steps_due_at_once_run_through_in_the_same_claim_and_a_wait_stops_them(trio, monkeypatch):
    """Points, then a text: one claim runs both; the wait after them is left to its time,
    and when it fires the step after it runs with it."""
    claim = engine.claim
    claimed: list[int] = []

    def counted(**kwargs: Any) -> list[int]:
        ids = claim(**kwargs)
        claimed.extend(ids)
        return ids

    monkeypatch.setattr(engine, "claim", counted)
    merchant = trio.merchant
    with scope(merchant=merchant):
        members = [MemberFactory(merchant=merchant) for _ in range(3)]
    workflow = make_workflow(
        merchant,
        [
            ("give_points", {"amount": 5}),
            ("send_sms", {"body": "Hi {first_name}"}),
            ("wait", {"mode": "duration", "amount": 1, "unit": "hours"}),
            ("add_tag", {"tag": "Later"}),
        ],
    )
    enrollments = enroll(merchant, workflow, [member.contact for member in members])
    assert (run_all(), len(claimed)) == (6, 3)
    with scope(merchant=merchant):
        runs = StepRun.objects.filter(enrollment__in=enrollments)
        assert sorted(runs.values_list("position", "status", "attempts")) == sorted(
            [(1, RunStatus.SUCCEEDED, 1), (2, RunStatus.SUCCEEDED, 1), (3, RunStatus.PENDING, 0)]
            * 3
        )
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        assert (run_all(), len(claimed)) == (6, 6)
    with scope(merchant=merchant):
        for enrollment in enrollments:
            enrollment.refresh_from_db()
            assert enrollment.status == EnrollmentStatus.COMPLETED
            assert enrollment.contact.contact_tags.filter(tag__name="Later").exists()
        done = ActivityEvent.objects.filter(type="automation_step_completed")
        assert sorted(int(e.data["run_id"]) for e in done) == sorted(
            runs.values_list("pk", flat=True)
        )


def test_a_step_run_through_that_fails_is_run_again_on_its_own(trio):
    """A tag, then points: one contact is no member. The chunk fails as a whole where the
    points run through, runs again step by step, and only that contact's points fail."""
    merchant = trio.merchant
    with scope(merchant=merchant):
        members = [MemberFactory(merchant=merchant) for _ in range(2)]
    stranger = ContactFactory(merchant=merchant)
    workflow = make_workflow(
        merchant, [("add_tag", {"tag": "Seen"}), ("give_points", {"amount": 5})]
    )
    enrollments = enroll(merchant, workflow, [members[0].contact, stranger, members[1].contact])
    assert run_all() == 6
    with scope(merchant=merchant):
        final = [
            list(
                StepRun.objects.filter(enrollment=e)
                .order_by("position")
                .values_list("status", flat=True)
            )
            for e in enrollments
        ]
        assert final == [
            [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED],
            [RunStatus.SUCCEEDED, RunStatus.FAILED],
            [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED],
        ]
        for member in members:
            member.refresh_from_db()
            assert member.points_available == 5
        assert ActivityEvent.objects.filter(type="tag_added").count() == 3
