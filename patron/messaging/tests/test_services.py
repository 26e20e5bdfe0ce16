"""The rules of sending: queue then deliver once, consent, quiet hours, templates."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.factories import ContactFactory
from patron.lib.errors import InvalidInput, NotFound
from patron.messaging import selectors, services
from patron.messaging.models import Message, MessageStatus, Suppression
from patron.messaging.tasks import message_deliver_task, messages_deliver_due
from patron.messaging.tests.factories import ChannelSettingsFactory, MessageTemplateFactory
from patron.messaging.tests.fakes import fake_http_server

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def mark(trio):
    return ContactFactory(
        merchant=trio.merchant,
        first_name="Mark",
        last_name="Tran",
        phone="+84901234567",
        email="mark@example.com",
    )


def send(trio, **kwargs):
    defaults = {"merchant": trio.merchant, "channel": "sms", "actor": trio.actor, "body": "Hi"}
    return services.message_send(**(defaults | kwargs))


def opt_out(trio, contact):
    """The contact replied STOP: no more marketing texts to its phone."""
    services.suppression_add(
        merchant=trio.merchant,
        channel="sms",
        address=str(contact.phone),
        contact=contact,
        source="stop_reply",
        actor=trio.actor,
    )


def activity_types(contact):
    return list(
        ActivityEvent.objects.filter(contact=contact).order_by("pk").values_list("type", flat=True)
    )


def test_sms_to_a_contact_is_queued_then_delivered_to_the_outbox_after_commit(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send(trio, contact=mark, body="Your code BDAY-7K3Q9 is still valid")
        assert message.status == MessageStatus.QUEUED
    message.refresh_from_db()
    assert message.to == "+84901234567"
    assert message.status == MessageStatus.DELIVERED
    assert message.provider == "outbox"
    assert message.sent_at is not None
    assert list(selectors.outbox(trio.merchant)) == [message]
    assert activity_types(mark) == ["message_queued", "message_sent"]
    sent = ActivityEvent.objects.get(contact=mark, type="message_sent")
    assert sent.data["status"] == "delivered"
    assert sent.actor_label == trio.actor.label


def test_to_overrides_the_contacts_phone_and_a_contactless_message_writes_no_activity(
    trio, in_merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send(trio, to="0912 345 678", body="Your code is 123456")
    message.refresh_from_db()
    assert message.to == "+84912345678"
    assert message.status == MessageStatus.DELIVERED
    assert not ActivityEvent.objects.filter(type__startswith="message_").exists()


def test_same_idempotency_key_returns_the_first_message_and_sends_nothing_new(
    trio, in_merchant, mark
):
    first = send(trio, contact=mark, idempotency_key="enrollment-1-step-2")
    again = send(trio, contact=mark, body="different", idempotency_key="enrollment-1-step-2")
    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_a_batch_of_messages_is_what_one_at_a_time_gives_in_one_write(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    opt_out(trio, mark)
    others = [ContactFactory(merchant=trio.merchant, phone=f"+8490111222{n}") for n in range(2)]
    batch = [
        services.NewMessage(channel="sms", actor=trio.actor, body="Hi", contact=mark),
        services.NewMessage(
            channel="sms", actor=trio.actor, body="Sale", contact=mark, marketing=True
        ),
        *[
            services.NewMessage(
                channel="sms", actor=trio.actor, body="Hi", contact=contact, idempotency_key=key
            )
            for contact, key in zip(others, ("k1", "k2"), strict=True)
        ],
    ]
    with django_capture_on_commit_callbacks(execute=True):
        with CaptureQueriesContext(connection) as queries:
            sent = services.messages_send(merchant=trio.merchant, messages=batch)
        assert (
            len(
                [
                    q
                    for q in queries.captured_queries
                    if 'INSERT INTO "messaging_message"' in q["sql"]
                ]
            )
            == 1
        )
    for message in sent:
        message.refresh_from_db()
    assert [m.status for m in sent] == [
        MessageStatus.DELIVERED,
        MessageStatus.SUPPRESSED,
        MessageStatus.DELIVERED,
        MessageStatus.DELIVERED,
    ]
    assert sent[1].body == services.with_sms_opt_out("Sale", trio.merchant.language)
    assert activity_types(mark) == [
        "marketing_opted_out",
        "message_queued",
        "message_suppressed",
        "message_sent",
    ]
    # Again with the keys (and one key twice): the messages written answer, none is new.
    again = services.messages_send(merchant=trio.merchant, messages=[batch[3], batch[2], batch[3]])
    assert [m.pk for m in again] == [sent[3].pk, sent[2].pk, sent[3].pk]
    assert Message.objects.count() == 4
    # One message refused refuses the batch.
    nobody = ContactFactory(merchant=trio.merchant, phone="")
    with pytest.raises(InvalidInput):
        services.messages_send(
            merchant=trio.merchant,
            messages=[
                services.NewMessage(channel="sms", actor=trio.actor, body="Hi", contact=mark),
                services.NewMessage(channel="sms", actor=trio.actor, body="Hi", contact=nobody),
            ],
        )
    assert Message.objects.count() == 4


def test_idempotency_keys_are_per_merchant(trio, mark):
    other_contact = ContactFactory(merchant=trio.other_merchant)
    with scope(merchant=trio.merchant):
        mine = send(trio, contact=mark, idempotency_key="k")
    with scope(merchant=trio.other_merchant):
        theirs = services.message_send(
            merchant=trio.other_merchant,
            channel="sms",
            actor=trio.actor,
            body="Hi",
            contact=other_contact,
            idempotency_key="k",
        )
    assert mine.pk != theirs.pk


def test_outsider_cannot_message_another_merchants_contact(trio, mark):
    with scope(merchant=trio.other_merchant), pytest.raises(NotFound):
        services.message_send(
            merchant=trio.other_merchant, channel="sms", actor=trio.actor, body="x", contact=mark
        )


def test_outsider_outbox_does_not_show_other_merchants_messages(trio, mark):
    with scope(merchant=trio.merchant):
        send(trio, contact=mark)
    with scope(merchant=trio.other_merchant):
        assert list(selectors.outbox(trio.other_merchant)) == []


def test_email_needs_an_address_and_a_subject(trio, in_merchant):
    no_email = ContactFactory(merchant=trio.merchant, email=None)
    with pytest.raises(InvalidInput) as missing:
        send(trio, channel="email", contact=no_email, subject="Hi")
    assert missing.value.code == "no_address"
    with pytest.raises(InvalidInput):
        send(trio, channel="email", to="mark@example.com", subject="")


def test_marketing_to_an_opted_out_contact_is_recorded_as_suppressed_and_not_sent(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    opt_out(trio, mark)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = send(trio, contact=mark, marketing=True, body="20% off this weekend")
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert message.sent_at is None
    assert "message_suppressed" in activity_types(mark)
    assert not [c for c in callbacks if "enqueue" in repr(c)]


def test_service_messages_still_reach_an_opted_out_contact(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    opt_out(trio, mark)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(trio, contact=mark, body="Your code is 123456")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_opting_out_one_merchant_does_not_silence_another(trio, mark):
    with scope(merchant=trio.merchant):
        opt_out(trio, mark)
    with scope(merchant=trio.other_merchant):
        assert not selectors.is_suppressed(trio.other_merchant, "sms", str(mark.phone))


def test_marketing_inside_quiet_hours_waits_until_they_end_in_the_merchants_timezone(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    ChannelSettingsFactory(
        merchant=trio.merchant,
        quiet_hours_start=datetime.time(21, 0),
        quiet_hours_end=datetime.time(8, 0),
    )
    late = datetime.datetime(2026, 3, 10, 22, 30, tzinfo=SAIGON)
    with time_machine.travel(late, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            message = send(trio, contact=mark, marketing=True, body="Weekend sale")
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        assert message.send_after == datetime.datetime(2026, 3, 11, 8, 0, tzinfo=SAIGON)
        messages_deliver_due.call()
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
    with time_machine.travel(datetime.datetime(2026, 3, 11, 8, 0, 1, tzinfo=SAIGON), tick=False):
        messages_deliver_due.call()
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_service_messages_ignore_quiet_hours(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    ChannelSettingsFactory(
        merchant=trio.merchant,
        quiet_hours_start=datetime.time(21, 0),
        quiet_hours_end=datetime.time(8, 0),
    )
    with time_machine.travel(datetime.datetime(2026, 3, 10, 23, 0, tzinfo=SAIGON), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            message = send(trio, contact=mark, body="Your code is 123456")
        message.refresh_from_db()
    assert message.send_after is None
    assert message.status == MessageStatus.DELIVERED


def test_quiet_hours_within_one_day_and_outside_them():
    channels = ChannelSettingsFactory.build(
        quiet_hours_start=datetime.time(12, 0), quiet_hours_end=datetime.time(14, 0)
    )
    noon = datetime.datetime(2026, 3, 10, 12, 30, tzinfo=SAIGON)
    assert channels.quiet_until(noon, SAIGON) == datetime.datetime(
        2026, 3, 10, 14, 0, tzinfo=SAIGON
    )
    assert channels.quiet_until(noon.replace(hour=15), SAIGON) is None
    early = ChannelSettingsFactory.build(
        quiet_hours_start=datetime.time(21, 0), quiet_hours_end=datetime.time(8, 0)
    )
    assert early.quiet_until(noon.replace(hour=6), SAIGON) == datetime.datetime(
        2026, 3, 10, 8, 0, tzinfo=SAIGON
    )


def test_a_retried_delivery_task_sends_once(trio, in_merchant, mark):
    with fake_http_server() as gateway:
        ChannelSettingsFactory(
            merchant=trio.merchant, sms_provider="http_gateway", sms_config={"url": gateway.url}
        )
        message = send(trio, contact=mark, body="Your coupon code is BDAY-7K3Q9")
        message_deliver_task.call(trio.merchant.pk, message.pk)
        message_deliver_task.call(trio.merchant.pk, message.pk)
        messages_deliver_due.call()
    assert len(gateway.requests) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == "gw-1"
    assert message.attempts == 1


def test_a_message_whose_worker_died_mid_send_is_never_sent_again_but_shown_failed(
    trio, in_merchant, mark
):
    with fake_http_server() as gateway:
        ChannelSettingsFactory(
            merchant=trio.merchant, sms_provider="http_gateway", sms_config={"url": gateway.url}
        )
        message = send(trio, contact=mark)
        # The claim committed, then the worker was killed before the provider answered.
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.SENDING,
            claimed_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
        message_deliver_task.call(trio.merchant.pk, message.pk)
        messages_deliver_due.call()
    assert gateway.requests == []
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "may or may not" in message.error
    assert "message_failed" in activity_types(mark)


def test_a_gateway_outage_is_retried_later_and_a_refusal_fails_visibly(trio, in_merchant, mark):
    with fake_http_server() as gateway:
        ChannelSettingsFactory(
            merchant=trio.merchant, sms_provider="http_gateway", sms_config={"url": gateway.url}
        )
        gateway.answers = [(503, {}), (400, {"error": "invalid number"})]
        message = send(trio, contact=mark)
        message_deliver_task.call(trio.merchant.pk, message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        assert message.send_after is not None
        assert message.attempts == 1
        with time_machine.travel(message.send_after + datetime.timedelta(seconds=1)):
            messages_deliver_due.call()
    message.refresh_from_db()
    assert len(gateway.requests) == 2
    assert message.status == MessageStatus.FAILED
    assert "invalid number" in message.error
    failed = ActivityEvent.objects.get(contact=mark, type="message_failed")
    assert "invalid number" in failed.data["error"]


def test_incomplete_provider_settings_fail_the_message_with_the_missing_fields(
    trio, in_merchant, mark
):
    ChannelSettingsFactory(merchant=trio.merchant, sms_provider="twilio", sms_config={})
    message = send(trio, contact=mark)
    message_deliver_task.call(trio.merchant.pk, message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "account_sid" in message.error


def test_marketing_email_carries_an_unsubscribe_link_that_opts_the_address_out(
    trio, in_merchant, mark, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send(
            trio, channel="email", contact=mark, subject="Sale", body="20% off", marketing=True
        )
    link = message.body.rsplit("Unsubscribe: ", 1)[1]
    token = link.rstrip("/").rsplit("/", 1)[1]
    services.unsubscribe(token=token)
    assert selectors.is_suppressed(trio.merchant, "email", "mark@example.com")
    suppression = Suppression.objects.get()
    assert suppression.source == "unsubscribe_link"
    assert suppression.contact == mark
    assert "marketing_opted_out" in activity_types(mark)


def test_a_tampered_unsubscribe_link_is_refused(trio, in_merchant):
    token = services.unsubscribe_token(trio.merchant, "email", "mark@example.com")
    with pytest.raises(InvalidInput) as error:
        services.unsubscribe(token=token[:-2] + "xx")
    assert error.value.code == "invalid_unsubscribe_link"


@pytest.mark.parametrize("reply", ["STOP", "stop please", "UNSUBSCRIBE", "HỦY", "huỷ."])
def test_stop_replies_opt_the_number_out_of_marketing_sms(trio, in_merchant, mark, reply):
    result = services.inbound_sms(merchant=trio.merchant, from_number="0901234567", body=reply)
    assert result.action == "opted_out"
    assert result.contact == mark
    assert selectors.is_suppressed(trio.merchant, "sms", "+84901234567")
    assert activity_types(mark)[-2:] == ["sms_received", "marketing_opted_out"]


def test_start_opts_the_number_back_in(trio, in_merchant, mark):
    services.inbound_sms(merchant=trio.merchant, from_number="+84901234567", body="STOP")
    result = services.inbound_sms(merchant=trio.merchant, from_number="+84901234567", body="Start")
    assert result.action == "opted_in"
    assert not selectors.is_suppressed(trio.merchant, "sms", "+84901234567", mark)
    assert "marketing_opted_in" in activity_types(mark)


def test_other_replies_are_only_recorded(trio, in_merchant, mark):
    result = services.inbound_sms(
        merchant=trio.merchant, from_number="+84901234567", body="Stopping by later?"
    )
    assert result.action == "received"
    assert not Suppression.objects.exists()


def test_a_template_renders_merge_fields_for_the_contact(trio, in_merchant, mark):
    MessageTemplateFactory(
        merchant=trio.merchant,
        key="coupon",
        body="Hi {first_name} {last_name}, your code is {coupon_code}. {portal_link}",
    )
    message = services.message_send_template(
        merchant=trio.merchant,
        channel="sms",
        template_key="coupon",
        actor=trio.actor,
        contact=mark,
        context={"coupon_code": "BDAY-7K3Q9", "secret": "nope"},
    )
    assert message.body == ("Hi Mark Tran, your code is BDAY-7K3Q9. http://127.0.0.1:8000/p/alpha/")
    assert message.template_key == "coupon"


def test_a_template_in_the_merchants_language_is_preferred(trio, in_merchant, mark):
    MessageTemplateFactory(merchant=trio.merchant, key="hello", language="en", body="Hello")
    MessageTemplateFactory(merchant=trio.merchant, key="hello", language="vi", body="Xin chào")
    trio.merchant.language = "vi"
    message = services.message_send_template(
        merchant=trio.merchant, channel="sms", template_key="hello", actor=trio.actor, contact=mark
    )
    assert message.body == "Xin chào"


def test_templates_cannot_reach_anything_but_their_merge_fields(trio, in_merchant, mark):
    with pytest.raises(InvalidInput) as error:
        services.message_template_save(
            merchant=trio.merchant,
            actor=trio.actor,
            key="leak",
            channel="sms",
            language="en",
            body="{contact.merchant.agency} {settings.SECRET_KEY}",
        )
    assert error.value.code == "unknown_merge_field"
    # A template saved some other way still renders only plain substitutions.
    MessageTemplateFactory(
        merchant=trio.merchant,
        key="raw",
        body="{{ contact.merchant.api_keys.all }} {first_name.__class__} {first_name}",
    )
    message = services.message_send_template(
        merchant=trio.merchant, channel="sms", template_key="raw", actor=trio.actor, contact=mark
    )
    assert message.body == "{{ contact.merchant.api_keys.all }} {first_name.__class__} Mark"


def test_a_missing_template_is_a_clear_error(trio, in_merchant, mark):
    with pytest.raises(InvalidInput) as error:
        services.message_send_template(
            merchant=trio.merchant,
            channel="sms",
            template_key="nope",
            actor=trio.actor,
            contact=mark,
        )
    assert error.value.code == "template_not_found"


def test_outsider_templates_are_not_used(trio, mark):
    MessageTemplateFactory(merchant=trio.other_merchant, key="welcome")
    with scope(merchant=trio.merchant), pytest.raises(InvalidInput):
        services.message_send_template(
            merchant=trio.merchant,
            channel="sms",
            template_key="welcome",
            actor=trio.actor,
            contact=mark,
        )


def test_delivery_reports_move_forward_only(trio, in_merchant, mark):
    message = send(trio, contact=mark)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    delivered = services.message_mark_status(
        merchant=trio.merchant, message=message, status="delivered"
    )
    assert delivered.delivered_at is not None
    assert "message_delivered" in activity_types(mark)
    with pytest.raises(InvalidInput):
        services.message_mark_status(merchant=trio.merchant, message=message, status="queued")
    from patron.lib.errors import Conflict

    with pytest.raises(Conflict):
        services.message_mark_status(merchant=trio.merchant, message=message, status="sent")


def test_notifications_are_unread_per_user_until_each_reads_them(trio, in_merchant):
    services.notification_create(
        merchant=trio.merchant, text="Mark was added to the loyalty program", link="/contacts/1/"
    )
    services.notification_create(merchant=trio.merchant, text="Second")
    assert selectors.unread_count(trio.merchant, trio.alice) == 2
    marked = services.notifications_mark_read(merchant=trio.merchant, user=trio.alice)
    assert marked == 2
    assert selectors.unread_count(trio.merchant, trio.alice) == 0
    assert selectors.unread_count(trio.merchant, trio.bob) == 2
    assert services.notifications_mark_read(merchant=trio.merchant, user=trio.alice) == 0


def test_outsider_sees_none_of_the_merchants_notifications(trio):
    with scope(merchant=trio.merchant):
        services.notification_create(merchant=trio.merchant, text="Private")
    with scope(merchant=trio.other_merchant):
        assert selectors.unread_count(trio.other_merchant, trio.charlie) == 0


def test_points_and_tier_come_from_the_contacts_membership(trio, in_merchant, mark):
    from patron.loyalty.tests.factories import MemberFactory, TierFactory

    gold = TierFactory(merchant=trio.merchant, name="Gold")
    MemberFactory(
        merchant=trio.merchant,
        contact=mark,
        phone=str(mark.phone),
        tier=gold,
        points_available=1250,
    )
    MessageTemplateFactory(
        merchant=trio.merchant, key="balance", body="{name}: {points} points, {tier}"
    )
    message = services.message_send_template(
        merchant=trio.merchant,
        channel="sms",
        template_key="balance",
        actor=trio.actor,
        contact=mark,
    )
    assert message.body == "Mark Tran: 1250 points, Gold"


def test_a_contact_without_membership_gets_empty_points_and_tier(trio, in_merchant, mark):
    MessageTemplateFactory(merchant=trio.merchant, key="balance", body="[{points}][{tier}]")
    message = services.message_send_template(
        merchant=trio.merchant,
        channel="sms",
        template_key="balance",
        actor=trio.actor,
        contact=mark,
    )
    assert message.body == "[][]"
