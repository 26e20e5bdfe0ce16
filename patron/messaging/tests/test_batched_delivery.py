"""Messages queued together (a chunk of workflow steps) go to one delivery task, which
sends those of the outbox together and the others one by one."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.contacts.models import ActivityEvent
from patron.factories import ContactFactory
from patron.messaging import services, tasks
from patron.messaging.models import Message, MessageStatus
from patron.messaging.tasks import messages_deliver_task  # the real one, kept from patching
from patron.messaging.tests.factories import ChannelSettingsFactory
from patron.messaging.tests.fakes import fake_http_server


def send(trio, body):
    return services.message_send(
        merchant=trio.merchant, channel="sms", actor=trio.actor, to="+84901234567", body=body
    )


class Recorder:
    """Stands in for a task: records what is enqueued instead of running it."""

    def __init__(self):
        self.calls = []

    def enqueue(self, *args):
        self.calls.append(args)


@pytest.fixture
def enqueued(monkeypatch):
    one, many = Recorder(), Recorder()
    monkeypatch.setattr(tasks, "message_deliver_task", one)
    monkeypatch.setattr(tasks, "messages_deliver_task", many)
    return one, many


def test_a_batch_enqueues_one_task_for_what_committed_and_it_delivers_each(
    trio, in_merchant, enqueued, django_capture_on_commit_callbacks
):
    one, many = enqueued
    with django_capture_on_commit_callbacks(execute=True):
        with services.deliveries_batched(), transaction.atomic():
            first = send(trio, "One")
            second = send(trio, "Two")
            with pytest.raises(RuntimeError), transaction.atomic():
                send(trio, "Rolled back with its savepoint")
                raise RuntimeError
        # The test's own transaction is still open: the batch waits for its commit.
        assert many.calls == []
    assert one.calls == []
    ((merchant_id, ids),) = many.calls
    assert merchant_id == trio.merchant.pk and len(ids) == 3
    assert ids[:2] == [first.pk, second.pk]
    # The rolled-back message's id is still in the batch: the task finds no such
    # message and goes on with the others.
    messages_deliver_task.call(trio.merchant.pk, [*ids, 999_999])
    assert set(Message.objects.values_list("pk", "status")) == {
        (first.pk, MessageStatus.DELIVERED),
        (second.pk, MessageStatus.DELIVERED),
    }


def test_a_batch_that_raises_enqueues_nothing(trio, in_merchant, enqueued):
    one, many = enqueued
    with pytest.raises(RuntimeError), services.deliveries_batched():
        send(trio, "Committed on its own")
        raise RuntimeError
    # The message committed (no outer transaction): the periodic sweep delivers it.
    assert one.calls == [] and many.calls == []
    assert Message.objects.get().status == MessageStatus.QUEUED


def test_outside_a_batch_each_message_has_its_own_task(
    trio, in_merchant, enqueued, django_capture_on_commit_callbacks
):
    one, many = enqueued
    with django_capture_on_commit_callbacks(execute=True):
        first = send(trio, "One")
        second = send(trio, "Two")
    assert one.calls == [(trio.merchant.pk, first.pk), (trio.merchant.pk, second.pk)]
    assert many.calls == []


def texts(trio, count, **fields):
    contact = ContactFactory(merchant=trio.merchant)
    return [
        services.message_send(
            merchant=trio.merchant,
            channel="sms",
            actor=trio.actor,
            contact=contact,
            body=f"Text {n}",
            **fields,
        )
        for n in range(count)
    ]


def statements(trio, messages):
    with CaptureQueriesContext(connection) as queries:
        services.messages_deliver(merchant=trio.merchant, message_ids=[m.pk for m in messages])
    return len(queries)


def test_outbox_messages_are_delivered_together_in_as_many_statements_for_two_as_for_six(
    trio, in_merchant
):
    first, two, six = texts(trio, 1), texts(trio, 2), texts(trio, 6)
    statements(trio, first)  # a warm-up: what a process reads once is not counted below
    assert statements(trio, two) == statements(trio, six)
    for message in Message.objects.all():
        assert message.status == MessageStatus.DELIVERED
        assert message.provider == "outbox"
        assert message.provider_message_id == f"outbox-{message.pk}"
        assert message.attempts == 1
        assert message.claimed_at == message.sent_at == message.delivered_at is not None
    sent = ActivityEvent.objects.filter(type="message_sent")
    assert sorted(int(event.data["message_id"]) for event in sent) == sorted(
        m.pk for m in first + two + six
    )


def test_a_batch_leaves_what_is_not_queued_or_not_due(trio, in_merchant):
    sent, later, queued = texts(trio, 3)
    services.messages_deliver(merchant=trio.merchant, message_ids=[sent.pk])
    Message.objects.filter(pk=later.pk).update(
        send_after=timezone.now() + datetime.timedelta(hours=1)
    )
    services.messages_deliver(
        merchant=trio.merchant, message_ids=[sent.pk, later.pk, queued.pk, 999_999]
    )
    by_id = {m.pk: m for m in Message.objects.all()}
    assert by_id[sent.pk].attempts == 1  # not sent a second time
    assert by_id[later.pk].status == MessageStatus.QUEUED
    assert by_id[queued.pk].status == MessageStatus.DELIVERED


def test_a_batch_that_cannot_commit_is_delivered_one_by_one(trio, in_merchant, monkeypatch):
    messages = texts(trio, 3)

    def broken(merchant, message_ids):
        raise RuntimeError("the batch's transaction failed")

    monkeypatch.setattr(services, "_deliver_locally", broken)
    services.messages_deliver(merchant=trio.merchant, message_ids=[m.pk for m in messages])
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.DELIVERED}


def test_a_message_for_a_provider_over_the_network_goes_on_its_own(trio, in_merchant):
    with fake_http_server() as gateway:
        ChannelSettingsFactory(
            merchant=trio.merchant, sms_provider="http_gateway", sms_config={"url": gateway.url}
        )
        messages = texts(trio, 2)
        email = services.message_send(
            merchant=trio.merchant,
            channel="email",
            actor=trio.actor,
            to="ana@example.com",
            subject="Hi",
            body="Hello",
        )
        services.messages_deliver(
            merchant=trio.merchant, message_ids=[m.pk for m in messages] + [email.pk]
        )
    assert len(gateway.requests) == 2
    by_id = {m.pk: m for m in Message.objects.all()}
    assert {by_id[m.pk].status for m in messages} == {MessageStatus.SENT}
    assert by_id[email.pk].status == MessageStatus.DELIVERED
    assert by_id[email.pk].provider == "outbox"
