"""Domain events of messaging, written to the contact's activity.

A message without a contact (a one-time code to a number that is not a customer yet)
writes no event: its body may be a secret and there is no timeline to put it on.
"""

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import Actor
from patron.messaging.models import Message

BODY_EXCERPT = 300


def _data(message: Message) -> dict[str, object]:
    return {
        "message_id": str(message.pk),
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject,
        "body": message.body[:BODY_EXCERPT],
        "status": message.status,
        "marketing": message.marketing,
    }


def _record(message: Message, type: str, actor: Actor | None = None, **extra: object) -> None:
    if message.contact_id is None:
        return
    record(
        merchant=message.merchant,
        type=type,
        actor=actor or message.actor,
        contact=message.contact,
        data=_data(message) | extra,
    )


def message_queued(*, message: Message) -> None:
    send_after = message.send_after.isoformat() if message.send_after else None
    _record(message, "message_queued", send_after=send_after)


def message_suppressed(*, message: Message) -> None:
    _record(message, "message_suppressed")


def message_sent(*, message: Message) -> None:
    _record(message, "message_sent", provider=message.provider)


def message_delivered(*, message: Message) -> None:
    _record(message, "message_delivered", provider=message.provider)


def message_failed(*, message: Message) -> None:
    _record(message, "message_failed", provider=message.provider, error=message.error[:300])


def marketing_opted_out(
    *, contact: Contact, channel: str, source: str, actor: Actor
) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="marketing_opted_out",
        actor=actor,
        contact=contact,
        data={"channel": channel, "source": source},
    )


def marketing_opted_in(*, contact: Contact, channel: str, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="marketing_opted_in",
        actor=actor,
        contact=contact,
        data={"channel": channel},
    )


def sms_received(*, contact: Contact, body: str, actor: Actor) -> ActivityEvent:
    return record(
        merchant=contact.merchant,
        type="sms_received",
        actor=actor,
        contact=contact,
        data={"body": body[:BODY_EXCERPT]},
    )
