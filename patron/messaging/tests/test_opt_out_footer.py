"""Marketing SMS say how to opt out; service messages (a code sent by hand) do not."""

import pytest
from django_scopes import scope

from patron.factories import ContactFactory
from patron.messaging import services
from patron.messaging.models import Message, MessageStatus
from patron.messaging.segments import sms_segments
from patron.messaging.tests.factories import MessageTemplateFactory


@pytest.fixture
def mark(trio):
    return ContactFactory(
        merchant=trio.merchant, first_name="Mark", phone="+84901234567", email="m@example.com"
    )


def send(trio, mark, **kwargs):
    defaults = {"merchant": trio.merchant, "channel": "sms", "actor": trio.actor, "contact": mark}
    return services.message_send(**(defaults | kwargs))


def test_a_marketing_sms_ends_with_the_opt_out_line(trio, in_merchant, mark):
    message = send(trio, mark, body="20% off this weekend", marketing=True)
    assert message.body == "20% off this weekend\nReply STOP to opt out"


def test_the_opt_out_line_speaks_the_merchants_language(trio, in_merchant, mark):
    trio.merchant.language = "vi"
    message = send(trio, mark, body="Giảm 20% cuối tuần", marketing=True)
    assert message.body == "Giảm 20% cuối tuần\nTrả lời STOP để từ chối nhận tin"


def test_a_template_in_vietnamese_gets_the_vietnamese_line(trio, in_merchant, mark):
    MessageTemplateFactory(
        merchant=trio.merchant, key="promo", language="vi", body="Chào {first_name}!"
    )
    message = services.message_send_template(
        merchant=trio.merchant,
        channel="sms",
        template_key="promo",
        actor=trio.actor,
        contact=mark,
        marketing=True,
    )
    assert message.body == "Chào Mark!\nTrả lời STOP để từ chối nhận tin"


def test_a_message_that_already_mentions_stop_gets_no_second_line(trio, in_merchant, mark):
    message = send(trio, mark, body="Sale today. Text STOP to end.", marketing=True)
    assert message.body == "Sale today. Text STOP to end."
    # "Stop by" is not an opt-out instruction.
    message = send(trio, mark, body="Stop by on Friday", marketing=True)
    assert message.body.endswith("\nReply STOP to opt out")


def test_service_messages_and_emails_get_no_sms_footer(trio, in_merchant, mark):
    assert send(trio, mark, body="Your code BDAY-7K3Q9").body == "Your code BDAY-7K3Q9"
    email = send(trio, mark, channel="email", subject="Sale", body="Come by", marketing=True)
    assert "STOP" not in email.body
    assert "Unsubscribe:" in email.body


def test_a_code_sent_from_the_activity_tab_has_no_opt_out_line(
    trio, mark, django_capture_on_commit_callbacks
):
    client = trio.login(trio.bob)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/messaging/contacts/{mark.pk}/sms/", {"body": "Your code BDAY-7K3Q9"})
    with scope(merchant=trio.merchant):
        assert Message.objects.get().body == "Your code BDAY-7K3Q9"


def test_stop_after_a_marketing_sms_suppresses_the_next_one(trio, in_merchant, mark):
    send(trio, mark, body="First offer", marketing=True)
    services.inbound_sms(merchant=trio.merchant, from_number="+84901234567", body="STOP")
    second = send(trio, mark, body="Second offer", marketing=True)
    assert second.status == MessageStatus.SUPPRESSED


def test_the_template_preview_shows_the_line_and_counts_it_in_the_segments(trio):
    client = trio.login(trio.alice)
    body = "Hi {first_name}, " + "x" * 130
    plain = client.post(
        "/messaging/templates/preview/", {"body": body, "channel": "sms", "language": "en"}
    ).content.decode()
    assert "Reply STOP to opt out" not in plain
    assert "139 characters, 1 SMS" in plain
    marketing = client.post(
        "/messaging/templates/preview/",
        {"body": body, "channel": "sms", "language": "en", "marketing": "on"},
    ).content.decode()
    assert "Reply STOP to opt out" in marketing
    assert "161 characters, 2 SMS segments" in marketing
    vietnamese = client.post(
        "/messaging/templates/preview/",
        {"body": "Chào {first_name}", "channel": "sms", "language": "vi", "marketing": "on"},
    ).content.decode()
    assert "Trả lời STOP để từ chối nhận tin" in vietnamese
    email = client.post(
        "/messaging/templates/preview/",
        {"body": "Hi", "subject": "Sale", "channel": "email", "marketing": "on"},
    ).content.decode()
    assert "STOP" not in email
    assert "SMS" not in email


def test_segments_follow_the_alphabet_of_the_text():
    assert sms_segments("") == 0
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2
    assert sms_segments("ạ" * 70) == 1
    assert sms_segments("ạ" * 71) == 2
    assert sms_segments("ạ" * 135) == 3
