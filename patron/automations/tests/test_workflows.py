"""Workflows end to end with the real loyalty, coupon and messaging services."""

import datetime

import time_machine
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from patron.automations import engine, services, triggers
from patron.automations.models import (
    Enrollment,
    EnrollmentStatus,
    Health,
    RunStatus,
    StepRun,
    Workflow,
)
from patron.automations.selectors import workflow_health
from patron.automations.templates import ADD_TO_PROGRAM
from patron.automations.tests.factories import ACTOR, make_workflow
from patron.contacts import services as contact_services
from patron.contacts.models import ActivityEvent
from patron.coupons.models import Coupon
from patron.loyalty import selectors as loyalty_selectors
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerEntry
from patron.messaging import selectors as messaging_selectors
from patron.messaging.models import Notification
from patron.tenants import services as tenant_services


def new_merchant(slug: str = "cafe", timezone_name: str = "Asia/Ho_Chi_Minh") -> object:
    return tenant_services.merchant_create(
        slug=slug, name="Cafe", country="VN", timezone_name=timezone_name, currency="VND"
    )


def run_all() -> int:
    return engine.run_due_steps(worker="tests", budget_seconds=60)


def test_every_new_merchant_gets_the_built_in_workflows(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        workflows = {w.template_key: w for w in Workflow.objects.filter(merchant=merchant)}
        assert set(workflows) == {
            ADD_TO_PROGRAM,
            "birthday_coupon",
            "reinvitation_coupon",
            "points_expiring_reminder",
        }
        assert workflows[ADD_TO_PROGRAM].name == "Add to the loyalty program"
        assert workflow_health(workflows[ADD_TO_PROGRAM]) == Health.GREEN
        assert workflow_health(workflows["birthday_coupon"]) == Health.YELLOW


def test_seed_001_add_to_the_loyalty_program(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        mark = contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Mark",
            phone="0912 345 678",
            email="mark@example.com",
        )
        workflow = Workflow.objects.get(merchant=merchant, template_key=ADD_TO_PROGRAM)
        services.enrollments_create(
            merchant=merchant,
            workflow=workflow,
            contacts=[mark],
            actor=ACTOR,
            action_name="Add to loyalty program LP",
        )
    assert run_all() == 4
    with scope(merchant=merchant):
        member = loyalty_selectors.member_for_contact(merchant, mark)
        assert member is not None and member.status == "active"
        outbox = list(messaging_selectors.outbox(merchant))
        assert sorted(m.channel for m in outbox) == ["email", "sms"]
        sms = next(m for m in outbox if m.channel == "sms")
        assert sms.body.startswith("Hi Mark, welcome to the Cafe loyalty program")
        (note,) = Notification.objects.filter(merchant=merchant)
        assert note.text == "Mark was added to the loyalty program"
        stages = list(
            ActivityEvent.objects.filter(contact=mark, type="automation_step_completed")
            .order_by("id")
            .values_list("data__step", flat=True)
        )
        assert stages == [
            "Add to the loyalty program",
            "Send SMS",
            "Send email",
            "Notify staff",
        ]


def test_a_retried_step_gives_points_once_and_issues_one_coupon(db, trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        loyalty_services.program_install_defaults(merchant=merchant)
        contact = contact_services.contact_create(
            merchant=merchant, actor=ACTOR, first_name="Lan", phone="0901 111 222"
        )
        member = loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)
        loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
    workflow = make_workflow(
        merchant,
        [
            ("give_points", {"amount": 50}),
            ("issue_coupon", {"label": "Welcome", "type": "percentage", "value": "10"}),
            ("send_sms", {"body": "Your code: {coupon_code}"}),
        ],
    )
    with scope(merchant=merchant):
        (enrollment,) = services.enrollments_create(
            merchant=merchant, workflow=workflow, contacts=[contact], actor=ACTOR
        )
        # A worker acted and died before recording the step: the services saw the key.
        run = StepRun.objects.get(enrollment=enrollment)
        with transaction.atomic():
            loyalty_services.points_give(
                merchant=merchant,
                member=member,
                amount=50,
                actor=ACTOR,
                idempotency_key=run.idempotency_key,
            )
    run_all()
    with scope(merchant=merchant):
        member.refresh_from_db()
        assert member.points_available == 50
        assert LedgerEntry.objects.filter(member=member).count() == 1
        coupon = Coupon.objects.get(contact=contact)
        (sms,) = messaging_selectors.outbox(merchant)
        assert sms.body == f"Your code: {coupon.code}"
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.COMPLETED


def test_a_step_that_keeps_failing_gives_up_turns_the_workflow_red_and_tells_staff(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="X")
    # Giving points to a contact who is no member is refused: no retry will help.
    workflow = make_workflow(merchant, [("give_points", {"amount": 5})], name="Bonus")
    with scope(merchant=merchant):
        (enrollment,) = services.enrollments_create(
            merchant=merchant, workflow=workflow, contacts=[contact], actor=ACTOR
        )
    run_all()
    with scope(merchant=merchant):
        enrollment.refresh_from_db()
        workflow.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.FAILED
        assert StepRun.objects.get(enrollment=enrollment).status == RunStatus.FAILED
        assert workflow_health(workflow) == Health.RED
        (note,) = Notification.objects.filter(merchant=merchant)
        assert "Bonus" in note.text and "failed" in note.text
        # Publishing again says the failure is dealt with.
        services.workflow_publish(merchant=merchant, workflow=workflow, actor=ACTOR)
        workflow.refresh_from_db()
        assert workflow_health(workflow) == Health.GREEN


def test_a_wait_step_fires_at_its_due_time(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="W")
    workflow = make_workflow(
        merchant,
        [
            ("wait", {"mode": "duration", "amount": 2, "unit": "hours"}),
            ("add_tag", {"tag": "Waited"}),
        ],
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with scope(merchant=merchant):
            services.enrollments_create(
                merchant=merchant, workflow=workflow, contacts=[contact], actor=ACTOR
            )
        assert run_all() == 0
        clock.move_to(start + datetime.timedelta(hours=2) - datetime.timedelta(seconds=1))
        assert run_all() == 0
        clock.move_to(start + datetime.timedelta(hours=2))
        assert run_all() == 2
    with scope(merchant=merchant):
        assert contact.contact_tags.filter(tag__name="Waited").exists()


def test_wait_until_a_time_of_day_uses_the_merchants_timezone(trio):
    merchant = trio.merchant  # Asia/Ho_Chi_Minh, UTC+7
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="T")
    workflow = make_workflow(
        merchant,
        [("wait", {"mode": "until_time", "time": "09:00"}), ("add_tag", {"tag": "Morning"})],
    )
    # 03:00 UTC is 10:00 in Ho Chi Minh City: the next 09:00 there is tomorrow 02:00 UTC.
    moment = datetime.datetime(2026, 11, 23, 3, tzinfo=datetime.UTC)
    with time_machine.travel(moment, tick=False), scope(merchant=merchant):
        (enrollment,) = services.enrollments_create(
            merchant=merchant, workflow=workflow, contacts=[contact], actor=ACTOR
        )
        run = StepRun.objects.get(enrollment=enrollment)
    assert run.due_at == datetime.datetime(2026, 11, 24, 2, tzinfo=datetime.UTC)


def test_a_scheduled_enrollment_runs_at_the_chosen_time(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="S")
    workflow = make_workflow(merchant, [("add_tag", {"tag": "Scheduled"})])
    start = timezone.now()
    at = start + datetime.timedelta(days=1)
    with time_machine.travel(start, tick=False) as clock:
        with scope(merchant=merchant):
            (enrollment,) = services.enrollments_create(
                merchant=merchant,
                workflow=workflow,
                contacts=[contact],
                actor=ACTOR,
                scheduled_at=at,
            )
        assert enrollment.status == EnrollmentStatus.SCHEDULED
        assert run_all() == 0
        clock.move_to(at)
        assert run_all() == 1
    with scope(merchant=merchant):
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.COMPLETED


def test_reentry_rules(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="R")
    once = make_workflow(merchant, [("add_note", {"text": "x"})], reentry="once", name="Once")
    after = make_workflow(merchant, [("add_note", {"text": "x"})], name="After exit")
    with scope(merchant=merchant):

        def enroll(workflow: Workflow) -> int:
            return len(
                services.enrollments_create(
                    merchant=merchant, workflow=workflow, contacts=[contact], actor=ACTOR
                )
            )

        assert enroll(once) == 1
        assert enroll(after) == 1
        assert enroll(after) == 0  # still running
        run_all()
        assert enroll(after) == 1  # the first run ended
        assert enroll(once) == 0


def test_a_tag_added_event_starts_the_workflow_listening_for_it(
    trio, django_capture_on_commit_callbacks
):
    merchant = trio.merchant
    make_workflow(
        merchant,
        [("add_note", {"text": "VIP welcome"})],
        trigger_type="tag_added",
        trigger_config={"tag": "VIP"},
    )
    with scope(merchant=merchant):
        contact = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="V")
        contact_services.contact_tag_add(
            merchant=merchant, contact=contact, name="Regular", actor=ACTOR
        )
        event = ActivityEvent.objects.get(contact=contact, type="tag_added")
        assert services.event_dispatch(event) == []
        contact_services.contact_tag_add(
            merchant=merchant, contact=contact, name="vip", actor=ACTOR
        )
        event = ActivityEvent.objects.get(contact=contact, type="tag_added", data__tag="vip")
        assert len(services.event_dispatch(event)) == 1


def test_recording_a_trigger_event_enqueues_its_dispatch_after_commit(
    trio, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    merchant = trio.merchant
    dispatches = DBTaskResult.objects.filter(task_path="patron.automations.tasks.dispatch_event")
    with django_capture_on_commit_callbacks(execute=True), scope(merchant=merchant):
        contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="E")
    # No workflow listens to new contacts yet: no job.
    assert not dispatches.exists()
    make_workflow(merchant, [("add_note", {"text": "Hello"})], trigger_type="contact_created")
    with django_capture_on_commit_callbacks(execute=True), scope(merchant=merchant):
        contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="F")
    assert dispatches.count() == 1


def test_birthdays_start_on_the_merchants_date_once_a_year(trio):
    merchant = trio.merchant  # UTC+7
    with scope(merchant=merchant):
        born = contact_services.contact_create(
            merchant=merchant, actor=ACTOR, first_name="B", birthday=datetime.date(1990, 11, 24)
        )
    make_workflow(
        merchant,
        [("add_note", {"text": "Happy birthday"})],
        trigger_type="birthday",
        trigger_config={"hour": 9},
    )
    # 23 Nov 20:00 UTC is 24 Nov 03:00 in Ho Chi Minh City: his birthday, but before 9.
    assert triggers.run_date_triggers(datetime.datetime(2026, 11, 23, 20, tzinfo=datetime.UTC)) == 0
    # 02:00 UTC on the 24th is 09:00 local.
    assert triggers.run_date_triggers(datetime.datetime(2026, 11, 24, 2, tzinfo=datetime.UTC)) == 1
    assert triggers.run_date_triggers(datetime.datetime(2026, 11, 24, 5, tzinfo=datetime.UTC)) == 0
    with scope(merchant=merchant):
        assert Enrollment.objects.get(contact=born).trigger_key == "birthday:2026"


def test_no_visit_for_n_days(trio):
    merchant = trio.merchant
    long_ago = timezone.now() - datetime.timedelta(days=90)
    with time_machine.travel(long_ago, tick=False), scope(merchant=merchant):
        gone = contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="Gone")
    with scope(merchant=merchant):
        contact_services.contact_create(merchant=merchant, actor=ACTOR, first_name="Fresh")
    make_workflow(
        merchant,
        [("add_note", {"text": "Come back"})],
        trigger_type="no_visit",
        trigger_config={"days": 60, "hour": 0},
    )
    assert triggers.run_date_triggers() == 1
    assert triggers.run_date_triggers() == 0
    with scope(merchant=merchant):
        assert Enrollment.objects.get().contact == gone
