"""Each provider against a real server on 127.0.0.1 (or the outbox, which sends nothing)."""

import base64
import urllib.parse

import pytest

from patron.messaging.providers import Outgoing, ProviderError, provider_class
from patron.messaging.providers.anymail import AnymailProvider
from patron.messaging.providers.http_gateway import HttpGatewayProvider
from patron.messaging.providers.outbox import OutboxSmsProvider
from patron.messaging.providers.smtp import SmtpProvider
from patron.messaging.providers.twilio import TwilioProvider
from patron.messaging.tests.fakes import fake_http_server, fake_smtp_server, free_port

SMS = Outgoing(message_id=7, channel="sms", to="+84901234567", body="Your code is ABC", sender="")
EMAIL = Outgoing(
    message_id=8,
    channel="email",
    to="mark@example.com",
    subject="Welcome",
    body="Hello Mark",
    sender="Alpha Café <hello@alpha.example>",
    headers={"List-Unsubscribe": "<http://testserver/u/x/>"},
)


def test_outbox_sends_nothing_and_counts_as_delivered():
    result = OutboxSmsProvider().send(SMS)
    assert result.delivered is True
    assert result.provider_message_id == "outbox-7"


def test_unknown_provider_name_falls_back_to_the_outbox():
    assert provider_class("sms", "carrier-pigeon") is provider_class("sms", "outbox")


def test_twilio_posts_the_message_with_basic_auth_and_returns_its_sid():
    with fake_http_server() as server:
        server.answers = [(201, {"sid": "SM123", "status": "queued"})]
        provider = TwilioProvider(
            {
                "account_sid": "AC1",
                "auth_token": "secret",
                "from_number": "+15005550006",
                "api_base": server.url,
            }
        )
        result = provider.send(SMS)
    assert result.provider_message_id == "SM123"
    (request,) = server.requests
    assert request.path == "/2010-04-01/Accounts/AC1/Messages.json"
    form = urllib.parse.parse_qs(request.body.decode())
    assert form == {"To": ["+84901234567"], "Body": ["Your code is ABC"], "From": ["+15005550006"]}
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC1:secret").decode()


def test_twilio_refusal_of_a_number_is_final_and_a_server_error_is_retryable():
    config = {"account_sid": "AC1", "auth_token": "t", "from_number": "+1500"}
    with fake_http_server() as server:
        server.answers = [(400, {"message": "The 'To' number is not valid"}), (503, {})]
        provider = TwilioProvider(config | {"api_base": server.url})
        with pytest.raises(ProviderError) as refused:
            provider.send(SMS)
        with pytest.raises(ProviderError) as unavailable:
            provider.send(SMS)
    assert refused.value.retryable is False
    assert "not valid" in str(refused.value)
    assert unavailable.value.retryable is True


def test_twilio_unreachable_is_retryable():
    provider = TwilioProvider(
        {
            "account_sid": "AC1",
            "auth_token": "t",
            "from_number": "+1500",
            "api_base": f"http://127.0.0.1:{free_port()}",
        }
    )
    with pytest.raises(ProviderError) as error:
        provider.send(SMS)
    assert error.value.retryable is True


def test_http_gateway_posts_json_with_the_configured_header_and_reads_the_id():
    with fake_http_server() as server:
        server.answers = [(200, {"message_id": "g-42"})]
        provider = HttpGatewayProvider(
            {
                "url": server.url + "/send",
                "auth_header": "X-Api-Key",
                "auth_value": "k3y",
                "id_field": "message_id",
            }
        )
        result = provider.send(
            Outgoing(message_id=9, channel="sms", to="+84901", body="Hi", sender="ALPHA")
        )
    assert result.provider_message_id == "g-42"
    (request,) = server.requests
    assert request.path == "/send"
    assert request.headers["x-api-key"] == "k3y"
    assert request.json() == {"to": "+84901", "from": "ALPHA", "text": "Hi", "reference": "9"}


def test_http_gateway_throttling_is_retryable():
    with fake_http_server() as server:
        server.answers = [(429, {"error": "slow down"})]
        with pytest.raises(ProviderError) as error:
            HttpGatewayProvider({"url": server.url}).send(SMS)
    assert error.value.retryable is True


def test_smtp_delivers_to_the_configured_server_with_login():
    with fake_smtp_server() as server:
        provider = SmtpProvider(
            {
                "host": "127.0.0.1",
                "port": str(server.port),
                "username": "alpha",
                "password": "pw",
                "security": "none",
            }
        )
        result = provider.send(EMAIL)
    (mail,) = server.mails
    assert "mark@example.com" in mail["rcpt"][0]
    assert "hello@alpha.example" in mail["from"]
    assert "Subject: Welcome" in mail["data"]
    assert "Hello Mark" in mail["data"]
    assert "List-Unsubscribe: <http://testserver/u/x/>" in mail["data"]
    assert mail["auth"] is not None
    assert result.provider_message_id.startswith("<patron-8-")


def test_smtp_refused_recipient_is_a_final_failure():
    with fake_smtp_server() as server:
        server.refuse_rcpt = "550 no such user"
        provider = SmtpProvider({"host": "127.0.0.1", "port": str(server.port), "security": "none"})
        with pytest.raises(ProviderError) as error:
            provider.send(EMAIL)
    assert error.value.retryable is False


def test_smtp_unreachable_server_is_retryable():
    provider = SmtpProvider({"host": "127.0.0.1", "port": str(free_port()), "security": "none"})
    with pytest.raises(ProviderError) as error:
        provider.send(EMAIL)
    assert error.value.retryable is True


def test_smtp_without_a_host_uses_the_projects_default_mailer(settings, mailoutbox):
    result = SmtpProvider({}).send(EMAIL)
    (sent,) = mailoutbox
    assert sent.to == ["mark@example.com"]
    assert sent.subject == "Welcome"
    assert result.provider_message_id


def test_anymail_postmark_calls_the_service_api_and_returns_its_message_id():
    with fake_http_server() as server:
        server.answers = [
            (
                200,
                {
                    "To": "mark@example.com",
                    "MessageID": "pm-0001",
                    "ErrorCode": 0,
                    "Message": "OK",
                    "SubmittedAt": "2026-01-01T00:00:00Z",
                },
            )
        ]
        provider = AnymailProvider(
            {"service": "postmark", "api_key": "tok", "api_url": server.url + "/"}
        )
        result = provider.send(EMAIL)
    assert result.provider_message_id == "pm-0001"
    (request,) = server.requests
    assert request.path == "/email"
    assert request.headers["x-postmark-server-token"] == "tok"
    assert request.json()["To"] == "mark@example.com"


def test_anymail_service_error_is_retryable_when_the_service_is_down():
    with fake_http_server() as server:
        server.answers = [(500, {"ErrorCode": 500, "Message": "down"})]
        provider = AnymailProvider(
            {"service": "postmark", "api_key": "tok", "api_url": server.url + "/"}
        )
        with pytest.raises(ProviderError) as error:
            provider.send(EMAIL)
    assert error.value.retryable is True
