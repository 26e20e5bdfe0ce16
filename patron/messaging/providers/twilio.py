"""SMS through Twilio's Messages API (form-encoded POST with HTTP basic auth)."""

import httpx
from django.utils.translation import gettext_lazy as _

from patron.messaging.providers.base import (
    ConfigField,
    Outgoing,
    Provider,
    ProviderError,
    SendResult,
)
from patron.messaging.providers.http_gateway import TIMEOUT, raise_for_status


class TwilioProvider(Provider):
    name = "twilio"
    channel = "sms"
    label = "Twilio"
    config_fields = (
        ConfigField("account_sid", _("Account SID")),
        ConfigField("auth_token", _("Auth token"), secret=True),
        ConfigField("from_number", _("From number or messaging service SID")),
        # Only changed to point at a test server.
        ConfigField(
            "api_base", _("API base URL"), required=False, default="https://api.twilio.com"
        ),
    )

    def send(self, outgoing: Outgoing) -> SendResult:
        sid = self.config["account_sid"]
        url = f"{self.config['api_base'].rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        sender = outgoing.sender or self.config["from_number"]
        data = {"To": outgoing.to, "Body": outgoing.body}
        data["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        try:
            response = httpx.post(
                url, data=data, auth=(sid, self.config["auth_token"]), timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"Twilio could not be reached: {exc}", retryable=True) from exc
        raise_for_status(response, "Twilio")
        try:
            payload = response.json()
        except ValueError as exc:
            raise ProviderError("Twilio answered with something that is not JSON") from exc
        return SendResult(provider_message_id=str(payload.get("sid", "")))
