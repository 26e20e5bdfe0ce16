"""Email over SMTP through Django's mail framework.

With a host in the merchant's settings, a connection to that server; without one, the
project's default mailer (MAILERS["default"] in settings.py).
"""

import smtplib
from typing import Any

from django.core.mail import EmailMessage, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.crypto import get_random_string
from django.utils.translation import gettext_lazy as _

from patron.messaging.providers.base import (
    ConfigField,
    Outgoing,
    Provider,
    ProviderError,
    SendResult,
)


class MailProvider(Provider):
    """Shared by the providers that hand an EmailMessage to a Django mail backend."""

    channel = "email"

    def backend(self) -> BaseEmailBackend:
        raise NotImplementedError

    def build(self, outgoing: Outgoing) -> EmailMessage:
        domain = (outgoing.sender.rpartition("@")[2] or "patron.local").strip(">")
        message_id = f"<patron-{outgoing.message_id}-{get_random_string(8)}@{domain}>"
        return EmailMessage(
            subject=outgoing.subject,
            body=outgoing.body,
            from_email=outgoing.sender or None,
            to=[outgoing.to],
            headers={"Message-ID": message_id, **outgoing.headers},
        )

    def send(self, outgoing: Outgoing) -> SendResult:
        email = self.build(outgoing)
        backend = self.backend()
        try:
            sent = backend.send_messages([email])
        except smtplib.SMTPResponseException as exc:
            # 4xx replies are temporary by the SMTP standard, 5xx are final.
            raise ProviderError(
                f"The mail server refused the message: {exc.smtp_code} {exc.smtp_error!r}",
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise ProviderError(f"The mail server refused the recipient: {exc}") from exc
        except OSError as exc:
            # Connection refused, timeouts, a dropped connection (SMTPException is an
            # OSError too, hence the specific cases above).
            raise ProviderError(
                f"The mail server could not be reached: {exc}", retryable=True
            ) from exc
        if not sent:
            raise ProviderError("The mail backend sent nothing")
        return SendResult(provider_message_id=self.message_id(email))

    def message_id(self, email: EmailMessage) -> str:
        return str(email.extra_headers.get("Message-ID", ""))


class SmtpProvider(MailProvider):
    name = "smtp"
    label = "SMTP"
    config_fields = (
        ConfigField("host", _("SMTP host (empty: the server's default mailer)"), required=False),
        ConfigField("port", _("Port"), required=False, default="587"),
        ConfigField("username", _("Username"), required=False),
        ConfigField("password", _("Password"), secret=True, required=False),
        ConfigField(
            "security", _("Security: starttls, ssl or none"), required=False, default="starttls"
        ),
    )

    def backend(self) -> BaseEmailBackend:
        host = self.config.get("host")
        if not host:
            return mailers.default
        security = (self.config.get("security") or "starttls").lower()
        options: dict[str, Any] = {
            "host": host,
            "port": int(self.config.get("port") or 587),
            "username": self.config.get("username") or "",
            "password": self.config.get("password") or "",
            "use_tls": security == "starttls",
            "use_ssl": security == "ssl",
            "timeout": 20,
        }
        # A named alias is how Django 6.1 builds a mailer from options alone, without
        # falling back to the deprecated EMAIL_* settings.
        return SmtpBackend(alias="merchant_smtp", **options)
