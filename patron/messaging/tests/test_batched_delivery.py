"""Messages queued together (a chunk of workflow steps) go to one delivery task."""

import pytest
from django.db import transaction

from patron.messaging import services, tasks
from patron.messaging.models import Message, MessageStatus
from patron.messaging.tasks import messages_deliver_task  # the real one, kept from patching


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
