"""SMS through any HTTP gateway: a JSON POST to a URL the merchant configures.

The body is {"to", "from", "text", "reference"}; an optional header carries the
gateway's key; the gateway's message id is read from the answer's `id_field`.
"""

import httpx
from django.utils.translation import gettext_lazy as _

from patron.messaging.providers.base import (
    ConfigField,
    Outgoing,
    Provider,
    ProviderError,
    SendResult,
)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def raise_for_status(response: httpx.Response, who: str) -> None:
    if response.is_success:
        return
    detail = response.text[:300]
    # Throttling and server errors pass; anything else is about this message.
    retryable = response.status_code == 429 or response.status_code >= 500
    raise ProviderError(
        f"{who} answered {response.status_code}: {detail}".strip(), retryable=retryable
    )


class HttpGatewayProvider(Provider):
    name = "http_gateway"
    channel = "sms"
    label = "HTTP gateway"
    config_fields = (
        ConfigField("url", _("Gateway URL")),
        ConfigField("auth_header", _("Auth header name"), required=False, default="Authorization"),
        ConfigField("auth_value", _("Auth header value"), secret=True, required=False),
        ConfigField("id_field", _("Message id field in the answer"), required=False, default="id"),
    )

    def send(self, outgoing: Outgoing) -> SendResult:
        headers = {}
        if self.config.get("auth_value"):
            headers[self.config["auth_header"] or "Authorization"] = self.config["auth_value"]
        payload = {
            "to": outgoing.to,
            "from": outgoing.sender,
            "text": outgoing.body,
            "reference": str(outgoing.message_id),
        }
        try:
            response = httpx.post(
                self.config["url"], json=payload, headers=headers, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"The gateway could not be reached: {exc}", retryable=True) from exc
        raise_for_status(response, "The gateway")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        message_id = (
            answer.get(self.config["id_field"] or "id", "") if isinstance(answer, dict) else ""
        )
        return SendResult(provider_message_id=str(message_id or ""))
