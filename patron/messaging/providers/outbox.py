"""The default provider: the message stays in Patron, visible on the Outbox page."""

from patron.messaging.providers.base import Outgoing, Provider, SendResult


class OutboxSmsProvider(Provider):
    name = "outbox"
    channel = "sms"
    label = "Outbox"
    local = True

    def send(self, outgoing: Outgoing) -> SendResult:
        return SendResult(provider_message_id=f"outbox-{outgoing.message_id}", delivered=True)


class OutboxEmailProvider(OutboxSmsProvider):
    channel = "email"
