"""The built-in workflows and the message templates they send, in every new merchant."""

import datetime

import time_machine
from django.utils import timezone
from django_scopes import scope

from patron.automations import engine, services, triggers
from patron.automations.models import Health, Workflow
from patron.automations.selectors import workflow_health, workflow_steps, workflow_warnings
from patron.automations.templates import ADD_TO_PROGRAM
from patron.automations.tests.factories import ACTOR
from patron.contacts import services as contact_services
from patron.coupons.models import Coupon
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import PointLot
from patron.messaging import merge
from patron.messaging import selectors as messaging_selectors
from patron.messaging import services as messaging_services
from patron.messaging.models import MessageTemplate
from patron.tenants import services as tenant_services

KEYS = {"welcome", "birthday_coupon", "reinvitation_coupon", "points_expiring"}


def new_merchant(language="en"):
    return tenant_services.merchant_create(
        slug=f"cafe-{language}",
        name="Cafe",
        country="VN",
        timezone_name="Asia/Ho_Chi_Minh",
        currency="VND",
        language=language,
    )


def run_all():
    return engine.run_due_steps(worker="tests", budget_seconds=60)


def publish(merchant, key):
    with scope(merchant=merchant):
        workflow = Workflow.objects.get(merchant=merchant, template_key=key)
        return services.workflow_publish(merchant=merchant, workflow=workflow, actor=ACTOR)


def outbox_by_channel(merchant):
    with scope(merchant=merchant):
        return {m.channel: m for m in messaging_selectors.outbox(merchant)}


def test_every_new_merchant_gets_templates_for_sms_and_email_in_english_and_vietnamese(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        templates = list(MessageTemplate.objects.filter(merchant=merchant))
    assert {(t.key, t.channel, t.language) for t in templates} == {
        (key, channel, language)
        for key in KEYS
        for channel in ("sms", "email")
        for language in ("en", "vi")
    }
    for template in templates:
        assert not merge.unknown_fields(template.body + " " + template.subject)
        assert "{" in template.body, template  # they use merge fields
        assert template.name
        assert bool(template.subject) == (template.channel == "email")
        # Only the welcome is a service message; the offers are marketing.
        assert template.marketing == (template.key != "welcome")


def test_installing_the_defaults_again_creates_nothing_and_keeps_the_merchants_edits(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        welcome = MessageTemplate.objects.get(key="welcome", channel="sms", language="en")
        messaging_services.message_template_save(
            merchant=merchant,
            actor=ACTOR,
            template=welcome,
            key="welcome",
            channel="sms",
            language="en",
            body="Welcome aboard, {first_name}!",
        )
        counts = (MessageTemplate.objects.count(), Workflow.objects.count())
    assert services.workflows_install_defaults(merchant=merchant) == []
    assert messaging_services.message_templates_install_defaults(merchant=merchant) == []
    with scope(merchant=merchant):
        assert (MessageTemplate.objects.count(), Workflow.objects.count()) == counts
        welcome.refresh_from_db()
        assert welcome.body == "Welcome aboard, {first_name}!"


def test_a_deleted_template_comes_back_with_the_next_install_and_nothing_else(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        MessageTemplate.objects.filter(key="birthday_coupon", language="vi").delete()
    made = messaging_services.message_templates_install_defaults(merchant=merchant)
    assert sorted((t.key, t.channel, t.language) for t in made) == [
        ("birthday_coupon", "email", "vi"),
        ("birthday_coupon", "sms", "vi"),
    ]


def test_the_built_in_workflows_send_existing_templates_and_have_no_warnings(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        workflows = list(Workflow.objects.filter(merchant=merchant))
        assert len(workflows) == 4
        used = set()
        for workflow in workflows:
            assert workflow_warnings(workflow) == [], workflow.name
            for step in workflow_steps(workflow):
                if step.action_type in {"send_sms", "send_email"}:
                    assert not step.config.get("body")
                    channel = step.action_type.removeprefix("send_")
                    assert MessageTemplate.objects.filter(
                        key=step.config["template_key"], channel=channel
                    ).exists()
                    used.add(step.config["template_key"])
        assert used == KEYS


def test_a_missing_template_turns_the_workflow_yellow_with_a_warning(db):
    merchant = new_merchant()
    with scope(merchant=merchant):
        workflow = Workflow.objects.get(merchant=merchant, template_key=ADD_TO_PROGRAM)
        assert workflow_health(workflow) == Health.GREEN
        MessageTemplate.objects.filter(key="welcome", channel="email").delete()
        assert workflow_health(workflow) == Health.YELLOW
        (warning,) = workflow_warnings(workflow)
        assert "Send email" in warning and "“welcome”" in warning


def test_seed_001_in_a_vietnamese_merchant_welcomes_in_vietnamese(db):
    merchant = new_merchant("vi")
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
            merchant=merchant, workflow=workflow, contacts=[mark], actor=ACTOR
        )
    assert run_all() == 4
    sent = outbox_by_channel(merchant)
    assert sent["sms"].body.startswith("Chào Mark, chào mừng bạn đến với chương trình")
    assert "/p/cafe-vi/" in sent["sms"].body  # the portal link
    assert "STOP" not in sent["sms"].body  # a welcome is not marketing
    assert sent["email"].subject == (
        "Chào mừng bạn đến với chương trình khách hàng thân thiết của Cafe"
    )
    assert sent["sms"].template_key == sent["email"].template_key == "welcome"


def test_the_birthday_workflow_sends_the_coupon_by_sms_and_email(db):
    merchant = new_merchant()
    publish(merchant, "birthday_coupon")
    with scope(merchant=merchant):
        contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Lan",
            phone="0901 111 222",
            email="lan@example.com",
            birthday=datetime.date(1992, 11, 24),
        )
    # 02:00 UTC on 24 November is 09:00 in Ho Chi Minh City.
    assert triggers.run_date_triggers(datetime.datetime(2026, 11, 24, 2, tzinfo=datetime.UTC)) == 1
    run_all()
    with scope(merchant=merchant):
        coupon = Coupon.objects.get()
    assert coupon.label == "Birthday Coupon"
    sent = outbox_by_channel(merchant)
    assert sent["sms"].body == (
        f"Happy birthday Lan! A gift from Cafe: your birthday discount code {coupon.code}.\n"
        "Reply STOP to opt out"
    )
    assert sent["sms"].marketing and sent["email"].marketing
    assert coupon.code in sent["email"].body
    assert sent["email"].subject == "Happy birthday, Lan!"
    assert "Unsubscribe: " in sent["email"].body


def test_the_reinvitation_workflow_in_vietnamese(db):
    merchant = new_merchant("vi")
    publish(merchant, "reinvitation_coupon")
    with (
        time_machine.travel(timezone.now() - datetime.timedelta(days=90), tick=False),
        scope(merchant=merchant),
    ):
        contact_services.contact_create(
            merchant=merchant, actor=ACTOR, first_name="Minh", phone="0901 333 444"
        )
    local_noon = timezone.now().replace(hour=5, minute=0)  # 12:00 in Ho Chi Minh City
    assert triggers.run_date_triggers(local_noon) == 1
    run_all()
    with scope(merchant=merchant):
        coupon = Coupon.objects.get()
    sent = outbox_by_channel(merchant)
    assert set(sent) == {"sms"}  # no email address: the email step is skipped
    assert sent["sms"].body == (
        f"Cafe nhớ bạn, Minh! Hãy quay lại và dùng mã giảm giá này: {coupon.code}\n"
        "Trả lời STOP để từ chối nhận tin"
    )


def test_the_points_expiring_reminder_says_how_many_and_when(db):
    merchant = new_merchant()
    publish(merchant, "points_expiring_reminder")
    with scope(merchant=merchant):
        contact = contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Hoa",
            phone="0901 555 666",
            email="hoa@example.com",
        )
        member = loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)
        loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
        loyalty_services.points_give(merchant=merchant, member=member, amount=300, actor=ACTOR)
        expires = datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC)
        PointLot.objects.filter(member=member).update(expires_at=expires)
    now = datetime.datetime(2026, 11, 24, 4, tzinfo=datetime.UTC)  # 11:00 local
    with time_machine.travel(now, tick=False):
        assert triggers.run_date_triggers(now) == 1
        run_all()
    sent = outbox_by_channel(merchant)
    assert sent["sms"].body == (
        "Hoa, 300 of your Cafe points expire on 2026-12-01. Come and spend them!\n"
        "Reply STOP to opt out"
    )
    assert "300 of your points at Cafe expire on 2026-12-01" in sent["email"].body
    assert "You have 300 points in all" in sent["email"].body
