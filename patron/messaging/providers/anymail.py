"""Email through a sending service's API with django-anymail (Postmark, SendGrid, ...).

The merchant names the service and its key; anymail's backend for that service does the
call and tells us the service's message id.
"""

from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from patron.messaging.providers.base import ConfigField, Outgoing, ProviderError, SendResult
from patron.messaging.providers.smtp import MailProvider

# The services we offer, with the name anymail gives their secret.
SERVICES = {
    "postmark": "server_token",
    "sendgrid": "api_key",
    "mailgun": "api_key",
    "brevo": "api_key",
    "resend": "api_key",
    "amazon_ses": "",
}


class AnymailProvider(MailProvider):
    name = "anymail"
    label = "Email service (Anymail)"
    config_fields = (
        ConfigField("service", format_lazy("{}: {}", _("Service"), ", ".join(SERVICES))),
        ConfigField("api_key", _("API key"), secret=True, required=False),
        ConfigField("api_url", _("API URL (empty: the service's own)"), required=False),
    )

    def backend(self) -> BaseEmailBackend:
        service = self.config.get("service", "")
        if service not in SERVICES:
            raise ProviderError(f"Unknown email service {service!r}")
        options: dict[str, Any] = {}
        if SERVICES[service] and self.config.get("api_key"):
            options[SERVICES[service]] = self.config["api_key"]
        if self.config.get("api_url"):
            options["api_url"] = self.config["api_url"]
        backend_class = import_string(f"anymail.backends.{service}.EmailBackend")
        return backend_class(**options)

    def send(self, outgoing: Outgoing) -> SendResult:
        from anymail.exceptions import AnymailError

        try:
            return super().send(outgoing)
        except AnymailError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None) or 0
            retryable = status == 429 or status >= 500 or status == 0
            raise ProviderError(
                f"The email service refused the message: {exc}", retryable=retryable
            ) from exc

    def message_id(self, email: EmailMessage) -> str:
        status = getattr(email, "anymail_status", None)
        return str(getattr(status, "message_id", "") or "")
