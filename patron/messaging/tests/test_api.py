"""Messages in the API, and the provider webhooks (replies, delivery reports)."""

from urllib.parse import urlencode

import pytest
from django.test import Client
from django_scopes import scope

from patron.factories import ContactFactory
from patron.messaging import selectors
from patron.messaging.models import Message, MessageStatus
from patron.messaging.tests.factories import ChannelSettingsFactory, MessageTemplateFactory


@pytest.fixture
def mark(trio):
    return ContactFactory(
        merchant=trio.merchant, first_name="Mark", phone="+84901234567", email="mark@example.com"
    )


def test_post_message_sends_an_sms_to_the_contact_and_lists_it(trio, mark):
    response = trio.api.post(
        f"/contacts/{mark.pk}/messages", {"channel": "sms", "body": "Code BDAY-7K3Q9"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == "sms"
    assert body["to"] == "+84901234567"
    assert body["body"] == "Code BDAY-7K3Q9"
    assert body["status"] in {"queued", "delivered"}
    listed = trio.api.get(f"/contacts/{mark.pk}/messages").json()
    assert [m["id"] for m in listed["items"]] == [body["id"]]
    assert set(listed["items"][0]) >= {"id", "channel", "to", "body", "status"}


def test_post_message_with_a_template_and_merge_values(trio, mark):
    MessageTemplateFactory(merchant=trio.merchant, key="coupon", body="{first_name}: {coupon_code}")
    response = trio.api.post(
        f"/contacts/{mark.pk}/messages",
        {"channel": "sms", "template_key": "coupon", "context": {"coupon_code": "X1"}},
    )
    assert response.status_code == 201, response.content
    assert response.json()["body"] == "Mark: X1"


def test_post_message_retried_with_the_same_idempotency_key_sends_once(trio, mark):
    headers = {"Idempotency-Key": "resend-1"}
    first = trio.api.post(f"/contacts/{mark.pk}/messages", {"body": "Hi"}, headers=headers)
    again = trio.api.post(f"/contacts/{mark.pk}/messages", {"body": "Hi"}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    with scope(merchant=trio.merchant):
        assert Message.objects.count() == 1


def test_empty_message_is_a_problem_with_a_code(trio, mark):
    response = trio.api.post(f"/contacts/{mark.pk}/messages", {"body": "  "})
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"


def test_outsider_cannot_list_or_message_another_merchants_contact(trio, mark):
    assert trio.outsider_api.get(f"/contacts/{mark.pk}/messages").status_code == 404
    response = trio.outsider_api.post(f"/contacts/{mark.pk}/messages", {"body": "Hi"})
    assert response.status_code == 404
    with scope(merchant=trio.merchant):
        assert not Message.objects.exists()


def test_inbound_stop_from_twilio_opts_the_number_out(trio, mark):
    channels = ChannelSettingsFactory(merchant=trio.merchant)
    # Twilio posts form-encoded fields.
    response = Client().post(
        f"/api/v1/messaging/inbound-sms?secret={channels.webhook_secret}",
        urlencode({"From": "+84901234567", "Body": "STOP", "MessageSid": "SM1"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"action": "opted_out"}
    with scope(merchant=trio.merchant):
        assert selectors.is_suppressed(trio.merchant, "sms", "+84901234567")


def test_inbound_json_with_the_secret_in_a_header(trio, mark):
    channels = ChannelSettingsFactory(merchant=trio.merchant)
    response = Client().post(
        "/api/v1/messaging/inbound-sms",
        {"from": "0901234567", "text": "HUY"},
        content_type="application/json",
        headers={"X-Patron-Webhook-Secret": channels.webhook_secret},
    )
    assert response.json() == {"action": "opted_out"}


def test_inbound_without_a_valid_secret_is_refused(trio, mark):
    ChannelSettingsFactory(merchant=trio.merchant)
    for url in (
        "/api/v1/messaging/inbound-sms",
        "/api/v1/messaging/inbound-sms?secret=not-the-secret-at-all",
    ):
        response = Client().post(url, {"From": "+84901234567", "Body": "STOP"})
        assert response.status_code == 403
    with scope(merchant=trio.merchant):
        assert not selectors.is_suppressed(trio.merchant, "sms", "+84901234567")


def test_outsider_secret_opts_out_only_in_its_own_merchant(trio, mark):
    theirs = ChannelSettingsFactory(merchant=trio.other_merchant)
    Client().post(
        f"/api/v1/messaging/inbound-sms?secret={theirs.webhook_secret}",
        {"From": "+84901234567", "Body": "STOP"},
    )
    with scope(merchant=trio.merchant):
        assert not selectors.is_suppressed(trio.merchant, "sms", "+84901234567")
    with scope(merchant=trio.other_merchant):
        assert selectors.is_suppressed(trio.other_merchant, "sms", "+84901234567")


def test_delivery_report_marks_the_message_delivered(trio, mark):
    channels = ChannelSettingsFactory(merchant=trio.merchant)
    with scope(merchant=trio.merchant):
        message = Message.objects.create(
            merchant=trio.merchant,
            channel="sms",
            contact=mark,
            to="+84901234567",
            body="Hi",
            status=MessageStatus.SENT,
            provider="twilio",
            provider_message_id="SM42",
        )
    url = f"/api/v1/messaging/delivery-status?secret={channels.webhook_secret}"
    response = Client().post(url, {"MessageSid": "SM42", "MessageStatus": "delivered"})
    assert response.json() == {"id": str(message.pk), "status": "delivered"}
    # A late "sent" report does not take it back.
    late = Client().post(url, {"MessageSid": "SM42", "MessageStatus": "sent"})
    assert late.json()["status"] == "delivered"


def test_delivery_report_for_another_merchants_message_is_not_found(trio, mark):
    theirs = ChannelSettingsFactory(merchant=trio.other_merchant)
    with scope(merchant=trio.merchant):
        Message.objects.create(
            merchant=trio.merchant,
            channel="sms",
            to="+84901234567",
            body="Hi",
            status=MessageStatus.SENT,
            provider_message_id="SM42",
        )
    response = Client().post(
        f"/api/v1/messaging/delivery-status?secret={theirs.webhook_secret}",
        {"MessageSid": "SM42", "MessageStatus": "delivered"},
    )
    assert response.status_code == 404
