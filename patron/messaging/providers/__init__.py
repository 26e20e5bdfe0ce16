"""Delivery providers, one module each, all built on `base.Provider`.

`provider_for(settings, channel)` picks the class the merchant chose in its channel
settings; a new provider is a new module registered in REGISTRY below.
"""

from patron.messaging.providers.anymail import AnymailProvider
from patron.messaging.providers.base import (
    ConfigField,
    Outgoing,
    Provider,
    ProviderError,
    SendResult,
)
from patron.messaging.providers.http_gateway import HttpGatewayProvider
from patron.messaging.providers.outbox import OutboxEmailProvider, OutboxSmsProvider
from patron.messaging.providers.smtp import SmtpProvider
from patron.messaging.providers.twilio import TwilioProvider

REGISTRY: dict[tuple[str, str], type[Provider]] = {
    ("sms", "outbox"): OutboxSmsProvider,
    ("sms", "twilio"): TwilioProvider,
    ("sms", "http_gateway"): HttpGatewayProvider,
    ("email", "outbox"): OutboxEmailProvider,
    ("email", "smtp"): SmtpProvider,
    ("email", "anymail"): AnymailProvider,
}


def provider_class(channel: str, name: str) -> type[Provider]:
    # An unknown name (a provider removed in an upgrade) falls back to the outbox, so
    # messages stay visible instead of failing unseen.
    return REGISTRY.get((channel, name)) or REGISTRY[(channel, "outbox")]


__all__ = [
    "REGISTRY",
    "ConfigField",
    "Outgoing",
    "Provider",
    "ProviderError",
    "SendResult",
    "provider_class",
]
