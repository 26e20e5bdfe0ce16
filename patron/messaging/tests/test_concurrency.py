"""Two workers racing for the same message: the conditional UPDATE lets one send."""

import threading

import pytest
from django.db import connection
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.factories import ContactFactory, MerchantFactory
from patron.lib.actors import SYSTEM
from patron.messaging import services
from patron.messaging.models import Message, MessageStatus
from patron.messaging.tests.factories import ChannelSettingsFactory
from patron.messaging.tests.fakes import fake_http_server

WORKERS = 4


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_message_send_it_once(settings):
    # Enqueue into the database queue and leave it there: the threads are the workers.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    merchant = MerchantFactory()
    contact = ContactFactory(merchant=merchant, phone="+84901234567")
    with fake_http_server() as gateway:
        ChannelSettingsFactory(
            merchant=merchant, sms_provider="http_gateway", sms_config={"url": gateway.url}
        )
        with scope(merchant=merchant):
            message = services.message_send(
                merchant=merchant, channel="sms", actor=SYSTEM, body="Hi", contact=contact
            )
            assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
        start = threading.Barrier(WORKERS)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                start.wait()
                with scope(merchant=merchant):
                    services.message_deliver(merchant=merchant, message_id=message.pk)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert len(gateway.requests) == 1
    with scope(merchant=merchant):
        sent = Message.objects.get(pk=message.pk)
    assert sent.status == MessageStatus.SENT
    assert sent.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_batch_of_outbox_messages_send_each_once():
    merchant = MerchantFactory()
    contact = ContactFactory(merchant=merchant, phone="+84901234567")
    with scope(merchant=merchant):
        ids = [
            services.message_send(
                merchant=merchant, channel="sms", actor=SYSTEM, body=f"Hi {n}", contact=contact
            ).pk
            for n in range(5)
        ]
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(order: list[int]) -> None:
        try:
            start.wait()
            with scope(merchant=merchant):
                services.messages_deliver(merchant=merchant, message_ids=order)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    # Half of the workers have the ids the other way round: the locks are taken in one
    # order whatever the batch's, so they do not deadlock.
    orders = [ids if n % 2 else ids[::-1] for n in range(WORKERS)]
    threads = [threading.Thread(target=work, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with scope(merchant=merchant):
        sent = list(Message.objects.filter(pk__in=ids))
        events = ActivityEvent.objects.filter(merchant=merchant, type="message_sent").count()
    assert {(m.status, m.attempts) for m in sent} == {(MessageStatus.DELIVERED, 1)}
    assert events == len(ids)
