"""Provider credentials are sealed in the database and never shown back on the page."""

import json

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django_scopes import scope, scopes_disabled

from patron.factories import MerchantFactory
from patron.lib.sealed import is_sealed
from patron.messaging.models import ChannelSettings, webhook_secret_digest

TOKEN = "s3cr3t-twilio-token"
SMTP_PASSWORD = "smtp-pa55word"

TWILIO_FORM = {
    "sms_provider": "twilio",
    "sms_sender": "+15005550006",
    "email_provider": "smtp",
    "email_from": "hello@alpha.example",
    "sms__twilio__account_sid": "AC1",
    "sms__twilio__auth_token": TOKEN,
    "sms__twilio__from_number": "+15005550006",
    "sms__twilio__api_base": "https://api.twilio.com",
    "email__smtp__host": "smtp.alpha.example",
    "email__smtp__username": "alpha",
    "email__smtp__password": SMTP_PASSWORD,
}


def raw_columns(merchant_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sms_config, email_config FROM messaging_channelsettings WHERE merchant_id = %s",
            [merchant_id],
        )
        return cursor.fetchone()


def raw_webhook_secret(merchant_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT webhook_secret FROM messaging_channelsettings WHERE merchant_id = %s",
            [merchant_id],
        )
        return cursor.fetchone()[0]


def test_the_inbound_webhook_secret_is_sealed_and_still_admits_the_provider(trio):
    assert trio.login(trio.alice).post("/messaging/settings/", TWILIO_FORM).status_code == 302
    with scope(merchant=trio.merchant):
        secret = ChannelSettings.objects.get(merchant=trio.merchant).webhook_secret
    raw = raw_webhook_secret(trio.merchant.pk)
    assert is_sealed(raw) and secret not in raw
    inbound = {"From": "+84980000001", "Body": "hello"}
    admitted = Client().post(f"/api/v1/messaging/inbound-sms?secret={secret}", inbound)
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
    refused = Client().post(f"/api/v1/messaging/inbound-sms?secret={wrong}", inbound)
    assert admitted.status_code < 400
    assert refused.status_code == 403


def test_saved_provider_secrets_are_sealed_in_the_database(trio):
    assert trio.login(trio.alice).post("/messaging/settings/", TWILIO_FORM).status_code == 302
    sms_raw, email_raw = raw_columns(trio.merchant.pk)
    for raw in (sms_raw, email_raw):
        assert is_sealed(raw)
        assert TOKEN not in raw and SMTP_PASSWORD not in raw
        # Nothing of the configuration shows, not even the names of the fields.
        assert "auth_token" not in raw and "AC1" not in raw
    with scope(merchant=trio.merchant):
        channels = ChannelSettings.objects.get(merchant=trio.merchant)
    assert channels.sms_config["auth_token"] == TOKEN
    assert channels.email_config["password"] == SMTP_PASSWORD


def test_the_settings_page_never_shows_a_saved_secret(trio):
    client = trio.login(trio.alice)
    client.post("/messaging/settings/", TWILIO_FORM)
    page = client.get("/messaging/settings/").content.decode()
    assert TOKEN not in page and SMTP_PASSWORD not in page
    assert page.count("saved, leave empty to keep") >= 4  # placeholder and help, twice
    assert 'value="AC1"' in page  # what is not secret shows as saved
    # Left empty, the secrets are kept; a refused form does not echo a typed secret either.
    client.post("/messaging/settings/", TWILIO_FORM | {"sms__twilio__auth_token": ""})
    refused = client.post(
        "/messaging/settings/",
        TWILIO_FORM | {"sms__twilio__auth_token": "new-token-typed", "quiet_hours_start": "21:00"},
    )
    assert refused.status_code == 422
    assert "new-token-typed" not in refused.content.decode()
    with scope(merchant=trio.merchant):
        assert ChannelSettings.objects.get().sms_config["auth_token"] == TOKEN


def test_the_settings_page_in_vietnamese_says_the_secret_is_kept(trio):
    client = trio.login(trio.alice)
    client.post("/messaging/settings/", TWILIO_FORM)
    page = client.get("/messaging/settings/", headers={"accept-language": "vi"})
    assert "đã lưu, để trống để giữ nguyên" in page.content.decode()


def test_the_migration_seals_existing_rows_and_can_open_them_again(transactional_db):
    merchant = MerchantFactory()
    executor = MigrationExecutor(connection)
    before = [("messaging", "0001_initial")]
    sealed = [("messaging", "0006_webhook_secret_digest_unique")]
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        old.get_model("messaging", "ChannelSettings").objects.create(
            merchant_id=merchant.pk,
            sms_provider="twilio",
            sms_config={"account_sid": "AC1", "auth_token": TOKEN},
            email_config={},
        )
        assert TOKEN in raw_columns(merchant.pk)[0]
        webhook_secret = raw_webhook_secret(merchant.pk)

        executor = MigrationExecutor(connection)
        executor.migrate(sealed)
        sms_raw, email_raw = raw_columns(merchant.pk)
        assert is_sealed(sms_raw) and is_sealed(email_raw)
        assert TOKEN not in sms_raw
        with scopes_disabled():
            channels = ChannelSettings.objects.get(merchant=merchant)
        assert channels.sms_config == {"account_sid": "AC1", "auth_token": TOKEN}
        assert channels.email_config == {}
        assert is_sealed(raw_webhook_secret(merchant.pk))
        assert channels.webhook_secret == webhook_secret
        assert channels.webhook_secret_digest == webhook_secret_digest(webhook_secret)

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        sms_raw, _email_raw = raw_columns(merchant.pk)
        opened = sms_raw if isinstance(sms_raw, dict) else json.loads(sms_raw)
        assert opened == {"account_sid": "AC1", "auth_token": TOKEN}
        assert raw_webhook_secret(merchant.pk) == webhook_secret
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
