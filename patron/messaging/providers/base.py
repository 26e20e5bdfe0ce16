"""The one interface every SMS and email provider implements.

A provider gets an `Outgoing` (plain values, no model), hands it to its service and
returns a `SendResult`, or raises `ProviderError`. It never touches the database: the
delivery service claims the message before and records the result after.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    channel: str
    to: str
    body: str
    subject: str = ""
    sender: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""
    # Some providers confirm delivery at once (the outbox); most only accept the message.
    delivered: bool = False


class ProviderError(Exception):
    """The provider refused or could not be reached.

    `retryable` is true when trying again later may work (a timeout, a 5xx, a 429); a
    refusal of the message itself (bad number, bad credentials) is not retried.
    """

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ConfigField:
    """One setting a provider needs, as the settings page shows it."""

    name: str
    label: Any  # a lazily translated string
    secret: bool = False
    required: bool = True
    default: str = ""


class Provider:
    name: ClassVar[str]
    channel: ClassVar[str]
    label: ClassVar[str]
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    # True when "sending" is only a database write (the outbox): the delivery service
    # then claims and records the result in one transaction, so it is exactly once.
    local: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = {f.name: f.default for f in self.config_fields} | (config or {})

    def missing_config(self) -> list[str]:
        return [f.name for f in self.config_fields if f.required and not self.config.get(f.name)]

    def send(self, outgoing: Outgoing) -> SendResult:
        raise NotImplementedError
