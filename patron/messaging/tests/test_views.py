"""Staff pages: Outbox, the bell, Notifications, Send SMS on Activity, settings, templates,
and the public unsubscribe page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.factories import ContactFactory
from patron.messaging import selectors, services
from patron.messaging.models import ChannelSettings, Message, MessageTemplate
from patron.messaging.tests.factories import MessageTemplateFactory


@pytest.fixture
def mark(trio):
    return ContactFactory(merchant=trio.merchant, first_name="Mark", phone="+84901234567")


def test_outbox_lists_the_merchants_messages(trio, mark):
    with scope(merchant=trio.merchant):
        services.message_send(
            merchant=trio.merchant, channel="sms", actor=trio.actor, body="Hello Mark", contact=mark
        )
    response = trio.login(trio.bob).get("/messaging/")
    assert response.status_code == 200
    assert "Hello Mark" in response.content.decode()
    assert 'aria-current="page">Outbox' in response.content.decode()


def test_outsider_outbox_does_not_show_the_merchants_messages(trio, mark):
    with scope(merchant=trio.merchant):
        services.message_send(
            merchant=trio.merchant, channel="sms", actor=trio.actor, body="Hello Mark", contact=mark
        )
    response = trio.login(trio.charlie).get("/messaging/")
    assert "Hello Mark" not in response.content.decode()


def test_send_sms_from_the_activity_tab_queues_and_shows_it(
    trio, mark, django_capture_on_commit_callbacks
):
    client = trio.login(trio.bob)
    profile = client.get(f"/contacts/{mark.pk}/").content.decode()
    assert "Send SMS" in profile
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/messaging/contacts/{mark.pk}/sms/",
            {"body": "Your code BDAY-7K3Q9"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="activity"' in page
    assert "SMS queued." in page
    assert "BDAY-7K3Q9" in page
    with scope(merchant=trio.merchant):
        message = Message.objects.get()
        assert message.status == "delivered"
        assert message.actor_label == "bob@example.com"
        assert ActivityEvent.objects.filter(contact=mark, type="message_sent").exists()


def test_send_sms_to_another_merchants_contact_is_not_found(trio, mark):
    response = trio.login(trio.charlie).post(f"/messaging/contacts/{mark.pk}/sms/", {"body": "Hi"})
    assert response.status_code == 404
    with scope(merchant=trio.merchant):
        assert not Message.objects.exists()


def test_the_bell_shows_the_unread_count_with_a_constant_number_of_queries(trio):
    client = trio.login(trio.alice)
    with scope(merchant=trio.merchant):
        services.notification_create(merchant=trio.merchant, text="Mark was added")
    client.get("/messaging/")
    with CaptureQueriesContext(connection) as one:
        page = client.get("/messaging/").content.decode()
    assert "Notifications, 1 unread" in page
    with scope(merchant=trio.merchant):
        for n in range(5):
            services.notification_create(merchant=trio.merchant, text=f"More {n}")
    with CaptureQueriesContext(connection) as six:
        page = client.get("/messaging/").content.decode()
    assert "Notifications, 6 unread" in page
    assert len(six) == len(one)


def test_opening_notifications_marks_them_read_for_that_user_only(trio):
    with scope(merchant=trio.merchant):
        services.notification_create(
            merchant=trio.merchant, text="Mark was added to the loyalty program"
        )
    response = trio.login(trio.alice).get("/messaging/notifications/")
    assert "Mark was added to the loyalty program" in response.content.decode()
    assert "Notifications, 0 unread" in response.content.decode()
    with scope(merchant=trio.merchant):
        assert selectors.unread_count(trio.merchant, trio.alice) == 0
        assert selectors.unread_count(trio.merchant, trio.bob) == 1


def test_outsider_sees_no_notifications_of_the_merchant(trio):
    with scope(merchant=trio.merchant):
        notification = services.notification_create(merchant=trio.merchant, text="Private note")
    client = trio.login(trio.charlie)
    assert "Private note" not in client.get("/messaging/notifications/").content.decode()
    assert client.get(f"/messaging/notifications/{notification.pk}/").status_code == 404


def test_opening_a_notification_follows_only_local_links(trio):
    with scope(merchant=trio.merchant):
        local = services.notification_create(merchant=trio.merchant, text="a", link="/contacts/")
        away = services.notification_create(
            merchant=trio.merchant, text="b", link="https://evil.example/"
        )
    client = trio.login(trio.alice)
    assert client.get(f"/messaging/notifications/{local.pk}/")["Location"] == "/contacts/"
    assert client.get(f"/messaging/notifications/{away.pk}/")["Location"] == (
        "/messaging/notifications/"
    )


def test_channel_settings_are_for_owners_and_managers_only(trio):
    assert trio.login(trio.bob).get("/messaging/settings/").status_code == 403
    assert trio.login(trio.bob).get("/messaging/templates/").status_code == 403
    assert trio.login(trio.alice).get("/messaging/settings/").status_code == 200


def test_owner_saves_twilio_settings_and_quiet_hours_and_the_secret_is_kept(trio):
    client = trio.login(trio.alice)
    form = {
        "sms_provider": "twilio",
        "sms_sender": "+15005550006",
        "email_provider": "outbox",
        "email_from": "Alpha <hello@alpha.example>",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "sms__twilio__account_sid": "AC1",
        "sms__twilio__auth_token": "s3cr3t-twilio-token",
        "sms__twilio__from_number": "+15005550006",
        "sms__twilio__api_base": "https://api.twilio.com",
    }
    assert client.post("/messaging/settings/", form).status_code == 302
    client.post("/messaging/settings/", form | {"sms__twilio__auth_token": ""})
    with scope(merchant=trio.merchant):
        channels = ChannelSettings.objects.get(merchant=trio.merchant)
    assert channels.sms_provider == "twilio"
    assert channels.sms_config["auth_token"] == "s3cr3t-twilio-token"
    assert str(channels.quiet_hours_start) == "21:00:00"
    page = client.get("/messaging/settings/").content.decode()
    assert "s3cr3t-twilio-token" not in page
    assert channels.webhook_secret in page


def test_half_given_quiet_hours_are_refused(trio):
    response = trio.login(trio.alice).post(
        "/messaging/settings/",
        {"sms_provider": "outbox", "email_provider": "outbox", "quiet_hours_start": "21:00"},
    )
    assert response.status_code == 422
    assert "both ends" in response.content.decode()


def test_manager_creates_a_template_and_previews_it(trio):
    client = trio.login(trio.alice)
    preview = client.post(
        "/messaging/templates/preview/",
        {"body": "Hi {first_name}, you have {points} points. {nope}", "channel": "sms"},
    ).content.decode()
    assert "Hi Mark, you have 1250 points." in preview
    assert "Unknown merge fields:" in preview
    response = client.post(
        "/messaging/templates/new/",
        {"key": "welcome", "channel": "sms", "language": "vi", "body": "Chào {first_name}!"},
    )
    assert response.status_code == 302
    with scope(merchant=trio.merchant):
        template = MessageTemplate.objects.get()
    assert template.language == "vi"
    assert "welcome" in client.get("/messaging/templates/").content.decode()


def test_a_template_with_an_unknown_field_is_not_saved(trio):
    response = trio.login(trio.alice).post(
        "/messaging/templates/new/",
        {"key": "x", "channel": "sms", "language": "en", "body": "{contact.email}"},
    )
    assert response.status_code == 422
    assert "Unknown merge fields" in response.content.decode()


def test_outsider_cannot_open_or_delete_the_merchants_template(trio):
    template = MessageTemplateFactory(merchant=trio.merchant)
    client = trio.login(trio.charlie)
    assert client.get(f"/messaging/templates/{template.pk}/").status_code == 404
    assert client.post(f"/messaging/templates/{template.pk}/delete/").status_code == 404
    with scope(merchant=trio.merchant):
        assert MessageTemplate.objects.filter(pk=template.pk).exists()


def test_unsubscribe_page_asks_then_opts_out_without_a_login(trio, client):
    token = services.unsubscribe_token(trio.merchant, "email", "mark@example.com")
    page = client.get(f"/messaging/unsubscribe/{token}/")
    assert page.status_code == 200
    assert "mark@example.com" in page.content.decode()
    with scope(merchant=trio.merchant):
        assert not selectors.is_suppressed(trio.merchant, "email", "mark@example.com")
    done = client.post(f"/messaging/unsubscribe/{token}/")
    assert "You are unsubscribed" in done.content.decode()
    with scope(merchant=trio.merchant):
        assert selectors.is_suppressed(trio.merchant, "email", "mark@example.com")


def test_unsubscribe_with_a_forged_token_is_refused(trio, client):
    token = services.unsubscribe_token(trio.merchant, "email", "mark@example.com")
    response = client.post(f"/messaging/unsubscribe/{token[:-3]}abc/")
    assert response.status_code == 400
    with scope(merchant=trio.merchant):
        assert not selectors.is_suppressed(trio.merchant, "email", "mark@example.com")


def test_pages_speak_vietnamese(trio):
    client = trio.login(trio.alice)
    client.cookies["django_language"] = "vi"
    page = client.get("/messaging/").content.decode()
    assert "Hộp thư đi" in page


def test_send_sms_can_include_an_available_discount_code_of_the_contact(
    trio, mark, django_capture_on_commit_callbacks
):
    from patron.coupons.tests.factories import issue_coupon

    coupon = issue_coupon(trio.merchant, mark)
    client = trio.login(trio.bob)
    profile = client.get(f"/contacts/{mark.pk}/").content.decode()
    assert coupon.code in profile
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/messaging/contacts/{mark.pk}/sms/",
            {"body": "Sorry for the trouble!", "coupon_code": coupon.code},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    with scope(merchant=trio.merchant):
        message = Message.objects.get()
    assert message.body == f"Sorry for the trouble!\nYour discount code: {coupon.code}"


def test_send_sms_refuses_a_code_that_is_not_the_contacts(trio, mark):
    from patron.coupons.tests.factories import issue_coupon

    someone_else = issue_coupon(trio.merchant)
    response = trio.login(trio.bob).post(
        f"/messaging/contacts/{mark.pk}/sms/",
        {"body": "", "coupon_code": someone_else.code},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    with scope(merchant=trio.merchant):
        assert not Message.objects.exists()
