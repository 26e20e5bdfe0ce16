import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_scopes import scope
from standardwebhooks.webhooks import Webhook

from patron.contacts import services as contacts
from patron.contacts.events import fan_out_batched, record
from patron.integrations import services, tasks
from patron.integrations.models import DeliveryStatus, WebhookDelivery
from patron.integrations.tests.factories import WebhookEndpointFactory
from patron.integrations.tests.loopback import LoopbackServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = LoopbackServer().start()
    yield server
    server.stop()


def create_contact(trio, django_capture_on_commit_callbacks, **fields):
    """Create a contact and run what its commit triggers (the fan-out to endpoints)."""
    with django_capture_on_commit_callbacks(execute=True):
        contact = contacts.contact_create(merchant=trio.merchant, actor=trio.actor, **fields)
    return contact


def send_all(trio):
    with scope(merchant=trio.merchant):
        ids = list(
            WebhookDelivery.objects.filter(merchant=trio.merchant).values_list("pk", flat=True)
        )
    for delivery_id in ids:
        tasks.webhook_deliver.call(trio.merchant.pk, delivery_id)


def test_receiver_gets_events_that_verify_with_standardwebhooks(
    trio, receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(merchant=trio.merchant, url=receiver.url + "/hooks")
    with scope(merchant=trio.merchant):
        create_contact(
            trio, django_capture_on_commit_callbacks, first_name="Mark", phone="0980000000"
        )
    send_all(trio)

    assert len(receiver.received) == 1
    request = receiver.received[0]
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "contact_created"
    assert payload["data"]["phone"] == "+84980000000"
    assert payload["data"]["merchant"] == "alpha"
    with scope(merchant=trio.merchant):
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.response_code == 200
    assert delivery.response_body == "ok"
    assert request.headers["webhook-id"] == delivery.message_id


def test_a_forged_signature_does_not_verify(trio, receiver, django_capture_on_commit_callbacks):
    WebhookEndpointFactory(merchant=trio.merchant, url=receiver.url)
    with scope(merchant=trio.merchant):
        create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
    send_all(trio)
    other_secret = WebhookEndpointFactory(merchant=trio.merchant).secret
    request = receiver.received[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(other_secret).verify(request.body, request.headers)


def test_a_receiver_that_was_down_gets_the_event_once_it_is_back(
    trio, django_capture_on_commit_callbacks
):
    receiver = LoopbackServer().start()
    port = receiver.port
    receiver.stop()  # the receiver is down: connections are refused
    endpoint = WebhookEndpointFactory(merchant=trio.merchant, url=f"http://127.0.0.1:{port}/in")
    with scope(merchant=trio.merchant):
        create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
    send_all(trio)
    with scope(merchant=trio.merchant):
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.attempt == 1
    assert delivery.error
    assert delivery.next_retry_at > timezone.now()

    # A second failure pushes the next retry further out.
    with time_machine.travel(delivery.next_retry_at + datetime.timedelta(seconds=1), tick=True):
        assert tasks.webhooks_retry_due.call() == 1
    with scope(merchant=trio.merchant):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.attempt == 2

    back = LoopbackServer(port=port).start()
    try:
        with time_machine.travel(delivery.next_retry_at + datetime.timedelta(seconds=1), tick=True):
            assert tasks.webhooks_retry_due.call() == 1
            request = back.received[0]
            payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    finally:
        back.stop()
    assert payload["type"] == "contact_created"
    with scope(merchant=trio.merchant):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt == 3
    assert [entry["code"] for entry in delivery.log] == [None, None, 200]
    assert len(back.received) == 1


def test_a_server_error_is_logged_with_its_response_and_retried(
    trio, django_capture_on_commit_callbacks
):
    failing = LoopbackServer(handle=lambda r: (503, {}, b"maintenance")).start()
    try:
        WebhookEndpointFactory(merchant=trio.merchant, url=failing.url)
        with scope(merchant=trio.merchant):
            create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
        send_all(trio)
    finally:
        failing.stop()
    with scope(merchant=trio.merchant):
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code == 503
    assert delivery.response_body == "maintenance"


def test_deliveries_give_up_after_the_last_retry(trio):
    endpoint = WebhookEndpointFactory(merchant=trio.merchant, url="http://127.0.0.1:9/")
    with scope(merchant=trio.merchant):
        delivery = WebhookDelivery.objects.create(
            merchant=trio.merchant,
            endpoint=endpoint,
            event_type="contact_created",
            message_id="msg_x",
            attempt=len(services.RETRY_DELAYS),
        )
        services.delivery_send(merchant=trio.merchant, delivery_id=delivery.pk)
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_retry_at is None


def test_endpoints_receive_only_the_event_types_they_chose(
    trio, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(merchant=trio.merchant, url=receiver.url, event_types=["note_added"])
    with scope(merchant=trio.merchant):
        contact = create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
        with django_capture_on_commit_callbacks(execute=True):
            contacts.note_add(merchant=trio.merchant, contact=contact, text="Hi", actor=trio.actor)
    send_all(trio)
    assert [r.json()["type"] for r in receiver.received] == ["note_added"]


def test_disabled_endpoints_and_other_merchants_endpoints_get_nothing(
    trio, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(merchant=trio.merchant, url=receiver.url, enabled=False)
    WebhookEndpointFactory(merchant=trio.other_merchant, url=receiver.url)
    with scope(merchant=trio.merchant):
        create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
    send_all(trio)
    assert receiver.received == []


def test_replay_sends_the_same_message_again(trio, receiver, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpointFactory(merchant=trio.merchant, url=receiver.url)
    with scope(merchant=trio.merchant):
        create_contact(trio, django_capture_on_commit_callbacks, first_name="Mark")
    send_all(trio)
    with scope(merchant=trio.merchant):
        first = WebhookDelivery.objects.get()
    answer = trio.login(trio.alice).post(f"/integrations/webhooks/deliveries/{first.pk}/replay/")
    assert answer.status_code == 302
    send_all(trio)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    Webhook(endpoint.secret).verify(receiver.received[1].body, receiver.received[1].headers)


def test_an_endpoint_is_created_from_the_app_and_its_secret_shown_once(trio):
    client = trio.login(trio.alice)
    page = client.post(
        "/integrations/webhooks/",
        {
            "url": "https://hooks.example.com/patron",
            "event_types": ["points_earned"],
            "enabled": "on",
        },
        follow=True,
    )
    # Created, then redirected: reloading the page cannot create a second endpoint.
    assert page.redirect_chain == [("/integrations/webhooks/", 302)]
    assert page.status_code == 200
    with scope(merchant=trio.merchant):
        endpoint = services.WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["points_earned"]
    assert endpoint.secret in page.content.decode()
    detail = client.get(f"/integrations/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200
    assert endpoint.secret not in detail.content.decode()
    assert endpoint.secret not in client.get("/integrations/webhooks/").content.decode()


def test_staff_role_may_not_manage_webhooks(trio):
    assert trio.login(trio.bob).get("/integrations/webhooks/").status_code == 403


def test_outsiders_get_404_for_another_merchants_endpoint_and_delivery(trio):
    endpoint = WebhookEndpointFactory(merchant=trio.merchant)
    with scope(merchant=trio.merchant):
        delivery = WebhookDelivery.objects.create(
            merchant=trio.merchant, endpoint=endpoint, event_type="x", message_id="msg_1"
        )
    charlie = trio.login(trio.charlie)
    assert charlie.get(f"/integrations/webhooks/{endpoint.pk}/").status_code == 404
    assert charlie.post(f"/integrations/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert (
        charlie.post(f"/integrations/webhooks/deliveries/{delivery.pk}/replay/").status_code == 404
    )
    with scope(merchant=trio.merchant):
        assert WebhookDelivery.objects.count() == 1


def test_the_integrations_pages_speak_vietnamese(trio):
    client = trio.login(trio.alice)
    client.post("/i18n/setlang/", {"language": "vi"})
    for url in ("/integrations/webhooks/", "/integrations/import/", "/integrations/shopify/"):
        page = client.get(url, headers={"Accept-Language": "vi"}).content.decode()
        assert "Tích hợp" in page


@pytest.mark.django_db(transaction=True)
def test_a_batched_block_fans_out_its_committed_events_once_it_ends(trio):
    # Workflow chunks record their events in one transaction and fan them out together:
    # an event whose savepoint rolled back, or whose block raised, reaches no endpoint.
    WebhookEndpointFactory(merchant=trio.merchant)
    with scope(merchant=trio.merchant):
        contact = contacts.contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark"
        )

    def event_types():
        with scope(merchant=trio.merchant):
            return sorted(
                WebhookDelivery.objects.exclude(event_type="contact_created").values_list(
                    "event_type", flat=True
                )
            )

    def write(type):
        record(merchant=trio.merchant, type=type, actor=trio.actor, contact=contact)

    with fan_out_batched(), transaction.atomic():
        write("points_earned")
        with pytest.raises(RuntimeError), transaction.atomic():
            write("points_redeemed")
            raise RuntimeError("this step rolls back")
        write("coupon_used")
        assert event_types() == []  # nothing before the commit
    assert event_types() == ["coupon_used", "points_earned"]

    with pytest.raises(RuntimeError), fan_out_batched(), transaction.atomic():
        write("points_given")
        raise RuntimeError("the whole block rolls back")
    assert event_types() == ["coupon_used", "points_earned"]
