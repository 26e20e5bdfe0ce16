"""Writes of messaging: send (now or after quiet hours), deliver, consent, notifications.

`message_send` only records a queued message; a task delivers it after commit through
the merchant's provider. Delivery claims the message with a conditional UPDATE
(queued -> sending) and only the task that wins the claim calls the provider, so a task
that is retried, or run twice by two workers, never sends the same message twice.
"""

import datetime
import logging
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.contacts.events import events_deferred, fan_out_batched
from patron.contacts.models import Contact
from patron.lib.actors import SYSTEM, Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.memo import shared_reads
from patron.lib.phones import parse_phone, try_parse_phone
from patron.lib.sql import first_row, insert_row, rows, update_rows
from patron.lib.text import fold
from patron.messaging import defaults, events, merge, selectors
from patron.messaging.models import (
    Channel,
    ChannelSettings,
    EmailProvider,
    Message,
    MessageStatus,
    MessageTemplate,
    Notification,
    NotificationRead,
    SmsProvider,
    Suppression,
    SuppressionSource,
)
from patron.messaging.providers import Outgoing, Provider, ProviderError, provider_class
from patron.tenants.models import Merchant, User

logger = logging.getLogger(__name__)

MAX_SMS_LENGTH = 1600  # ten concatenated segments; longer texts are refused by carriers
MAX_EMAIL_LENGTH = 100_000
MAX_ATTEMPTS = 3
RETRY_BASE_SECONDS = 60
# A message claimed longer ago than this without an outcome had its worker die mid-send.
STALE_CLAIM = datetime.timedelta(minutes=10)
UNSUBSCRIBE_SALT = "patron.messaging.unsubscribe"

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "HUY"}
# A marketing SMS that already tells how to opt out ("Reply STOP ...") gets no footer.
# Upper case only: "Stop by on Friday" says nothing about opting out.
MENTIONS_STOP = re.compile(r"\bSTOP\b")
START_WORDS = {"START", "UNSTOP", "SUBSCRIBE"}


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "No such message"


class NoAddress(InvalidInput):
    code = "no_address"
    title = "The contact has no phone number or email for this channel"


class TemplateNotFound(InvalidInput):
    code = "template_not_found"
    title = "There is no message template with this key for this channel"


class UnknownMergeField(InvalidInput):
    code = "unknown_merge_field"
    title = "The template uses a merge field that does not exist"


class InvalidUnsubscribeLink(InvalidInput):
    code = "invalid_unsubscribe_link"
    title = "This unsubscribe link is not valid"


class StatusGoesBackwards(Conflict):
    code = "message_status_conflict"
    title = "A message's status only moves forward"


def _clean_channel(channel: str) -> str:
    if channel not in Channel.values:
        raise InvalidInput("The channel is sms or email.", field="channel")
    return channel


def _address(merchant: Merchant, channel: str, contact: Contact | None, to: str | None) -> str:
    if channel == Channel.SMS:
        raw = to if to else (str(contact.phone) if contact and contact.phone else "")
        if not raw:
            raise NoAddress(field="to")
        return parse_phone(raw, merchant.country)
    raw = (to or (contact.email if contact else "") or "").strip().lower()
    if not raw:
        raise NoAddress(field="to")
    try:
        validate_email(raw)
    except ValidationError as exc:
        raise InvalidInput("This is not a valid email address.", field="to") from exc
    return raw


def _clean_body(channel: str, body: str, subject: str) -> tuple[str, str]:
    body = (body or "").strip()
    subject = " ".join((subject or "").split())
    if not body:
        raise InvalidInput("A message cannot be empty.", field="body")
    limit = MAX_SMS_LENGTH if channel == Channel.SMS else MAX_EMAIL_LENGTH
    if len(body) > limit:
        raise InvalidInput(f"A message has at most {limit} characters.", field="body")
    if len(subject) > 200:
        raise InvalidInput("A subject has at most 200 characters.", field="subject")
    if channel == Channel.EMAIL and not subject:
        raise InvalidInput("An email needs a subject.", field="subject")
    return body, subject


def sms_opt_out_footer(language: str) -> str:
    """How to opt out, in the message's language (STOP works in every language)."""
    with translation.override(language or "en"):
        return _("Reply STOP to opt out")


def with_sms_opt_out(body: str, language: str) -> str:
    """A marketing SMS ends with how to opt out, unless it already mentions STOP."""
    if MENTIONS_STOP.search(body):
        return body
    return f"{body}\n{sms_opt_out_footer(language)}"


def unsubscribe_token(merchant: Merchant, channel: str, address: str) -> str:
    return signing.dumps({"m": merchant.pk, "c": channel, "a": address}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(merchant: Merchant, channel: str, address: str) -> str:
    token = unsubscribe_token(merchant, channel, address)
    return settings.SITE_URL + reverse("messaging:unsubscribe", args=[token])


def read_unsubscribe_token(token: str) -> tuple[int, str, str]:
    """(merchant id, channel, address) of a link we signed, or InvalidUnsubscribeLink."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return int(data["m"]), str(data["c"]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidUnsubscribeLink() from exc


def _enqueue_delivery(message: Message) -> None:
    from patron.messaging.tasks import message_deliver_task

    task = message_deliver_task
    if message.send_after and task.get_backend().supports_defer:
        task = task.using(run_after=message.send_after)
    # The periodic sweep (messages_deliver_due) delivers what a lost enqueue leaves.
    task.enqueue(message.merchant_id, message.pk)


# Messages queued inside `deliveries_batched`, waiting for its end: merchant id -> ids.
_batch: ContextVar[dict[int, list[int]] | None] = ContextVar("message_batch", default=None)


@contextmanager
def deliveries_batched() -> Iterator[None]:
    """Hand the messages queued inside this block to one delivery task per merchant when
    it ends, instead of one task per message: for writers that queue many messages in one
    transaction, such as a chunk of workflow steps.

    The block should enclose the writer's transaction: it then enqueues as it ends,
    after the commit; inside an outer transaction it waits for that one's commit. A
    message whose savepoint was rolled back is not found by the task and is skipped; if
    the block raises, nothing is enqueued, and the periodic sweep (messages_deliver_due)
    delivers whatever did commit. Messages waiting for quiet hours to end are enqueued
    on their own, for their time.
    """
    token = _batch.set({})
    try:
        yield
        batch = _batch.get() or {}
    finally:
        _batch.reset(token)
    from patron.messaging.tasks import messages_deliver_task

    def enqueue() -> None:
        for merchant_id, message_ids in batch.items():
            try:
                messages_deliver_task.enqueue(merchant_id, message_ids)
            except Exception:
                # As with a single message: a queue that is down must not fail what
                # has already committed; the sweep delivers these.
                logger.exception("delivery of %s messages not enqueued", len(message_ids))

    if batch:
        transaction.on_commit(enqueue)  # at once when no transaction is open


def _deliver_after_commit(message: Message) -> None:
    batch = _batch.get()
    if batch is not None and not message.send_after:
        batch.setdefault(message.merchant_id, []).append(message.pk)
        return
    # robust: a queue that is down must not fail a committed send; the periodic sweep
    # (messages_deliver_due) delivers what was not enqueued.
    transaction.on_commit(lambda: _enqueue_delivery(message), robust=True)


def _replay(merchant: Merchant, idempotency_key: str | None) -> Message | None:
    """The message an earlier call with this key wrote, if any."""
    if not idempotency_key:
        return None
    return first_row(Message, {"merchant": merchant, "idempotency_key": idempotency_key})


@transaction.atomic
def message_send(
    *,
    merchant: Merchant,
    channel: str,
    actor: Actor,
    body: str,
    subject: str = "",
    contact: Contact | None = None,
    to: str | None = None,
    marketing: bool = False,
    idempotency_key: str | None = None,
    template_key: str = "",
    language: str = "",
) -> Message:
    """Queue a message; it is delivered by the merchant's provider after commit.

    Marketing messages to an address that opted out are recorded as `suppressed` and
    never sent; those written inside the merchant's quiet hours wait for their end.
    Marketing SMS end with how to opt out, in `language` (default: the merchant's).
    """
    channel = _clean_channel(channel)
    if found := _replay(merchant, idempotency_key):
        return found
    message = _prepare(
        merchant,
        NewMessage(
            channel=channel,
            actor=actor,
            body=body,
            subject=subject,
            contact=contact,
            to=to,
            marketing=marketing,
            idempotency_key=idempotency_key,
            template_key=template_key,
            language=language,
        ),
    )
    try:
        # A savepoint: when a concurrent call with the same key wins, its row is the answer.
        with transaction.atomic():
            insert_row(message)
    except IntegrityError:
        if idempotency_key:
            return Message.objects.get(merchant=merchant, idempotency_key=idempotency_key)
        raise
    _queued(message)
    return message


@dataclass(frozen=True)
class NewMessage:
    """One message of `messages_send`: `message_send`'s arguments but the merchant."""

    channel: str
    actor: Actor
    body: str
    subject: str = ""
    contact: Contact | None = None
    to: str | None = None
    marketing: bool = False
    idempotency_key: str | None = None
    template_key: str = ""
    language: str = ""


@transaction.atomic
def messages_send(*, merchant: Merchant, messages: Sequence[NewMessage]) -> list[Message]:
    """`message_send` for each message, the keys looked up by one statement and the rows
    written by one (a workflow's chunk texts its contacts this way). Returns the messages
    in the same order. All or nothing: one that is refused refuses them all, and a key
    that another call writes at the same moment fails the batch (the caller's retry then
    finds it)."""
    outgoing = [replace(item, channel=_clean_channel(item.channel)) for item in messages]
    keys = [item.idempotency_key for item in outgoing if item.idempotency_key]
    done = {
        found.idempotency_key: found
        for found in rows(Message, {"merchant": merchant, "idempotency_key": keys})
    }
    made: list[Message] = []
    answers: list[Message] = []
    for item in outgoing:
        if item.idempotency_key and item.idempotency_key in done:
            # Written before, or earlier in this batch.
            answers.append(done[item.idempotency_key])
            continue
        message = _prepare(merchant, item)
        made.append(message)
        answers.append(message)
        if item.idempotency_key:
            done[item.idempotency_key] = message
    Message.objects.bulk_create(made)
    for message in made:
        _queued(message)
    return answers


def _prepare(merchant: Merchant, item: NewMessage) -> Message:
    """The unsaved message `item` asks for, checked, with its status and time to send."""
    channel, contact, marketing = item.channel, item.contact, item.marketing
    if contact is not None and contact.merchant_id != merchant.pk:
        raise NotFound("No such contact.", field="contact")
    address = _address(merchant, channel, contact, item.to)
    body, subject = _clean_body(channel, item.body, item.subject)
    if marketing and channel == Channel.SMS:
        body = with_sms_opt_out(body, item.language or merchant.language)
        if len(body) > MAX_SMS_LENGTH:
            raise InvalidInput(
                f"A message has at most {MAX_SMS_LENGTH} characters with its opt-out line.",
                field="body",
            )
    message = Message(
        merchant=merchant,
        channel=channel,
        contact=contact,
        to=address,
        subject=subject,
        body=body,
        marketing=marketing,
        template_key=item.template_key,
        idempotency_key=item.idempotency_key or None,
    )
    message.set_actor(item.actor)
    channels = selectors.channel_settings(merchant)
    if marketing and selectors.is_suppressed(merchant, channel, address, contact):
        message.status = MessageStatus.SUPPRESSED
    elif marketing:
        message.send_after = channels.quiet_until(timezone.now(), merchant.zone)
        if channel == Channel.EMAIL:
            link = unsubscribe_url(merchant, channel, address)
            with translation.override(item.language or merchant.language or "en"):
                message.body += "\n\n" + _("Unsubscribe: %(link)s") % {"link": link}
    return message


def _queued(message: Message) -> None:
    """What follows a message's row: its timeline event, and its delivery unless it was
    suppressed."""
    if message.status == MessageStatus.SUPPRESSED:
        events.message_suppressed(message=message)
        return
    events.message_queued(message=message)
    _deliver_after_commit(message)


@transaction.atomic
def message_send_template(
    *,
    merchant: Merchant,
    channel: str,
    template_key: str,
    actor: Actor,
    contact: Contact | None = None,
    to: str | None = None,
    context: dict[str, Any] | None = None,
    marketing: bool = False,
    idempotency_key: str | None = None,
) -> Message:
    """Render the merchant's template for the contact and send it."""
    channel = _clean_channel(channel)
    if found := _replay(merchant, idempotency_key):
        return found
    template = selectors.template_get(merchant, template_key, channel)
    if template is None:
        raise TemplateNotFound(field="template_key")
    values = merge.values_for(merchant, contact, context)
    return message_send(
        merchant=merchant,
        channel=channel,
        actor=actor,
        body=merge.render(template.body, values),
        subject=merge.render(template.subject, values),
        contact=contact,
        to=to,
        marketing=marketing or template.marketing,
        idempotency_key=idempotency_key,
        template_key=template.key,
        language=template.language,
    )


def _provider(merchant: Merchant, channel: str) -> tuple[Provider, str]:
    channels = selectors.channel_settings(merchant)
    if channel == Channel.SMS:
        provider_cls = provider_class(channel, channels.sms_provider)
        return provider_cls(channels.sms_config), channels.sms_sender
    provider_cls = provider_class(channel, channels.email_provider)
    sender = channels.email_from or settings.DEFAULT_FROM_EMAIL
    return provider_cls(channels.email_config), sender


def _claim(merchant: Merchant, message_id: int) -> bool:
    """queued -> sending, by one worker only: the row count says who won."""
    now = timezone.now()
    claimed = (
        Message.objects.filter(merchant=merchant, pk=message_id, status=MessageStatus.QUEUED)
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    return claimed == 1


def _outgoing(message: Message, sender: str) -> Outgoing:
    headers = {}
    if message.channel == Channel.EMAIL and message.marketing:
        link = unsubscribe_url(message.merchant, message.channel, message.to)
        # One-click unsubscribe (RFC 8058): mail clients POST to the link.
        headers = {
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    return Outgoing(
        message_id=message.pk,
        channel=message.channel,
        to=message.to,
        body=message.body,
        subject=message.subject,
        sender=sender,
        headers=headers,
    )


@transaction.atomic
def _record_sent(merchant: Merchant, message_id: int, provider: str, result: Any) -> Message:
    message = Message.objects.select_for_update().get(merchant=merchant, pk=message_id)
    _mark_sent(message, provider, result, timezone.now())
    message.save()
    events.message_sent(message=message)
    return message


def _mark_sent(message: Message, provider: str, result: Any, now: datetime.datetime) -> None:
    """Set what the provider answered on `message` (the caller writes it)."""
    message.provider = provider
    message.provider_message_id = result.provider_message_id[:200]
    message.error = ""
    message.sent_at = now
    message.status = MessageStatus.DELIVERED if result.delivered else MessageStatus.SENT
    if result.delivered:
        message.delivered_at = now


@transaction.atomic
def _record_failure(
    merchant: Merchant, message_id: int, provider: str, error: ProviderError
) -> Message:
    message = Message.objects.select_for_update().get(merchant=merchant, pk=message_id)
    message.provider = provider
    message.error = str(error)[:2000]
    if error.retryable and message.attempts < MAX_ATTEMPTS:
        # Back to the queue with a growing delay; the attempt count bounds the retries.
        delay = RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
        message.status = MessageStatus.QUEUED
        message.send_after = timezone.now() + datetime.timedelta(seconds=delay)
        message.save()
        transaction.on_commit(lambda: _enqueue_delivery(message), robust=True)
        return message
    message.status = MessageStatus.FAILED
    message.failed_at = timezone.now()
    message.save()
    events.message_failed(message=message)
    return message


def message_deliver(*, merchant: Merchant, message_id: int) -> Message | None:
    """Hand a queued message to the provider, at most once.

    Deliberately not one transaction: the claim must be committed before the provider
    is called, so that a crash after the call leaves the message `sending` (never sent
    again) rather than `queued` (sent twice); and no transaction stays open during a
    network call. The outbox is the exception: its "send" is a row update, so claim
    and result commit together and a crash loses nothing.
    """
    message = selectors.message_get(merchant, message_id)
    if message is None or message.status != MessageStatus.QUEUED:
        return message
    provider, sender = _provider(merchant, message.channel)
    outgoing = _outgoing(message, sender)
    if provider.local:
        with transaction.atomic():
            if not _claim(merchant, message.pk):
                return selectors.message_get(merchant, message_id)
            return _record_sent(merchant, message.pk, provider.name, provider.send(outgoing))
    with transaction.atomic():
        if not _claim(merchant, message.pk):
            return selectors.message_get(merchant, message_id)
    missing = provider.missing_config()
    try:
        if missing:
            raise ProviderError(
                _("The %(provider)s settings are incomplete: %(fields)s")
                % {"provider": provider.label, "fields": ", ".join(missing)}
            )
        result = provider.send(outgoing)
    except ProviderError as error:
        logger.warning("Message %s via %s failed: %s", message.pk, provider.name, error)
        return _record_failure(merchant, message.pk, provider.name, error)
    return _record_sent(merchant, message.pk, provider.name, result)


def messages_deliver(*, merchant: Merchant, message_ids: Sequence[int]) -> None:
    """`message_deliver` for several of a merchant's messages, such as those a chunk of
    workflow steps queued together (`deliveries_batched`).

    Those whose provider is local (the outbox) are claimed, sent and recorded in one
    transaction: a statement to lock them, one to write them and one for their events,
    where one by one each took six and a commit. If that transaction fails, they go one
    by one. The others go one by one: each is a call over the network, with its claim
    committed before it. One message's fault never holds back the others; the periodic
    sweep (`messages_deliver_due`) comes back for a message still queued.
    """
    with shared_reads():
        channels = dict(
            Message.objects.filter(
                merchant=merchant, pk__in=message_ids, status=MessageStatus.QUEUED
            ).values_list("pk", "channel")
        )
        local = {
            channel for channel in set(channels.values()) if _provider(merchant, channel)[0].local
        }
        together = [pk for pk in message_ids if channels.get(pk) in local]
        one_by_one = [pk for pk in message_ids if pk in channels and pk not in together]
        if together:
            try:
                with fan_out_batched():
                    _deliver_locally(merchant, together)
            except Exception:
                logger.exception("%s local messages are delivered one by one", len(together))
                one_by_one = together + one_by_one
    for message_id in one_by_one:
        try:
            message_deliver(merchant=merchant, message_id=message_id)
        except Exception:
            logger.exception("message %s not delivered", message_id)


@transaction.atomic
def _deliver_locally(merchant: Merchant, message_ids: list[int]) -> None:
    """Send queued messages through their local provider and record them, together."""
    now = timezone.now()
    messages = list(
        Message.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(merchant=merchant, pk__in=message_ids, status=MessageStatus.QUEUED)
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .order_by("pk")
    )
    with events_deferred():
        for message in messages:
            message.merchant = merchant
            provider, sender = _provider(merchant, message.channel)
            result = provider.send(_outgoing(message, sender))
            message.attempts += 1
            message.claimed_at = now
            _mark_sent(message, provider.name, result, now)
            events.message_sent(message=message)
        update_rows(
            Message,
            messages,
            [
                "attempts", "claimed_at", "provider", "provider_message_id", "error",
                "sent_at", "status", "delivered_at",
            ],
        )  # fmt: skip


def due_messages(now: datetime.datetime | None = None) -> list[tuple[int, int]]:
    """(merchant id, message id) of queued messages whose time has come, all merchants.

    Used by the periodic sweep; it reads across tenants on purpose and returns ids only.
    """
    from django_scopes import scopes_disabled

    now = now or timezone.now()
    # A message queued a minute ago without a deferred time had its enqueue lost.
    lost = now - datetime.timedelta(minutes=1)
    with scopes_disabled():
        rows = Message.objects.filter(status=MessageStatus.QUEUED).filter(
            Q(send_after__lte=now) | Q(send_after__isnull=True, created_at__lte=lost)
        )
        return list(rows.order_by("pk").values_list("merchant_id", "pk")[:500])


def merchants_with_stale_claims(now: datetime.datetime | None = None) -> list[int]:
    """Ids of merchants with a message claimed too long ago (read across tenants)."""
    from django_scopes import scopes_disabled

    now = now or timezone.now()
    with scopes_disabled():
        rows = Message.objects.filter(
            status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM
        )
        return sorted(set(rows.values_list("merchant_id", flat=True)))


@transaction.atomic
def messages_fail_stale_claims(*, merchant: Merchant, now: datetime.datetime | None = None) -> int:
    """Messages whose worker died mid-send: we cannot know if they left, so say so."""
    now = now or timezone.now()
    stale = list(
        Message.objects.select_for_update().filter(
            merchant=merchant, status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM
        )
    )
    for message in stale:
        message.status = MessageStatus.FAILED
        message.failed_at = now
        message.error = "The delivery was interrupted; it may or may not have been sent."
        message.save()
        events.message_failed(message=message)
    return len(stale)


ORDER = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.SUPPRESSED: 3,
}


@transaction.atomic
def message_mark_status(
    *,
    merchant: Merchant,
    message: Message,
    status: str,
    actor: Actor = SYSTEM,
    error: str = "",
) -> Message:
    """A provider's report on a message (delivered, failed). Reports never go backwards."""
    if status not in {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED}:
        raise InvalidInput("The status is sent, delivered or failed.", field="status")
    message = Message.objects.select_for_update().get(merchant=merchant, pk=message.pk)
    if message.status == status:
        return message
    if ORDER[MessageStatus(message.status)] >= ORDER[MessageStatus(status)]:
        raise StatusGoesBackwards()
    now = timezone.now()
    message.status = status
    if status == MessageStatus.SENT:
        message.sent_at = message.sent_at or now
        message.save()
        events.message_sent(message=message)
    elif status == MessageStatus.DELIVERED:
        message.sent_at = message.sent_at or now
        message.delivered_at = now
        message.save()
        events.message_delivered(message=message)
    else:
        message.failed_at = now
        message.error = (error or "Reported as failed by the provider")[:2000]
        message.save()
        events.message_failed(message=message)
    return message


def message_for_provider_id(merchant: Merchant, provider_message_id: str) -> Message:
    found = Message.objects.filter(
        merchant=merchant, provider_message_id=provider_message_id
    ).first()
    if not provider_message_id or found is None:
        raise MessageNotFound()
    return found


# Consent


@transaction.atomic
def suppression_add(
    *,
    merchant: Merchant,
    channel: str,
    address: str,
    source: str,
    actor: Actor,
    contact: Contact | None = None,
    detail: str = "",
) -> Suppression:
    """Opt an address out of marketing on a channel (idempotent)."""
    channel = _clean_channel(channel)
    found = Suppression.objects.filter(merchant=merchant, channel=channel, address=address).first()
    if found is not None:
        return found
    suppression = Suppression(
        merchant=merchant,
        channel=channel,
        address=address,
        contact=contact,
        source=source,
        detail=detail[:200],
    )
    try:
        with transaction.atomic():
            suppression.save()
    except IntegrityError:
        return Suppression.objects.get(merchant=merchant, channel=channel, address=address)
    if contact is not None:
        events.marketing_opted_out(contact=contact, channel=channel, source=source, actor=actor)
    return suppression


@transaction.atomic
def suppression_remove(
    *, merchant: Merchant, channel: str, address: str, actor: Actor, contact: Contact | None
) -> bool:
    match = Q(address=address)
    if contact is not None:
        match |= Q(contact=contact)
    deleted, _counts = (
        Suppression.objects.filter(merchant=merchant, channel=channel).filter(match).delete()
    )
    if deleted and contact is not None:
        events.marketing_opted_in(contact=contact, channel=channel, actor=actor)
    return bool(deleted)


@dataclass(frozen=True)
class InboundResult:
    action: str  # "opted_out", "opted_in" or "received"
    contact: Contact | None


def _keyword(body: str) -> str:
    # "Huỷ", "HỦY" and "huy." all mean the same to a Vietnamese customer.
    words = fold(body).upper().split()
    return words[0].strip(string.punctuation) if words else ""


@transaction.atomic
def inbound_sms(*, merchant: Merchant, from_number: str, body: str) -> InboundResult:
    """A customer's reply: STOP (or UNSUBSCRIBE, HUY) opts out, START opts back in."""
    phone = try_parse_phone(from_number, merchant.country)
    if phone is None:
        raise InvalidInput("The sender is not a phone number.", field="from")
    contact = Contact.objects.filter(
        merchant=merchant, phone=phone, deleted_at__isnull=True
    ).first()
    actor = Actor.customer(contact.pk, contact.full_name or phone) if contact else SYSTEM
    keyword = _keyword(body)
    if contact is not None:
        events.sms_received(contact=contact, body=body, actor=actor)
    if keyword in STOP_WORDS:
        suppression_add(
            merchant=merchant,
            channel=Channel.SMS,
            address=phone,
            contact=contact,
            source=SuppressionSource.STOP_REPLY,
            detail=body.strip()[:200],
            actor=actor,
        )
        return InboundResult("opted_out", contact)
    if keyword in START_WORDS:
        suppression_remove(
            merchant=merchant, channel=Channel.SMS, address=phone, contact=contact, actor=actor
        )
        return InboundResult("opted_in", contact)
    return InboundResult("received", contact)


@transaction.atomic
def unsubscribe(*, token: str) -> Suppression:
    """The target of an unsubscribe link. The signature is the authority: no login."""
    from django_scopes import scope

    merchant_id, channel, address = read_unsubscribe_token(token)
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise InvalidUnsubscribeLink()
    with scope(merchant=merchant):
        lookup = {"phone": address} if channel == Channel.SMS else {"email": address}
        contact = Contact.objects.filter(
            merchant=merchant, deleted_at__isnull=True, **lookup
        ).first()
        actor = Actor.customer(contact.pk, contact.full_name or address) if contact else SYSTEM
        return suppression_add(
            merchant=merchant,
            channel=channel,
            address=address,
            contact=contact,
            source=SuppressionSource.UNSUBSCRIBE_LINK,
            actor=actor,
        )


# Notifications (the staff bell)


@transaction.atomic
def notification_create(
    *, merchant: Merchant, text: str, link: str = "", actor: Actor | None = None
) -> Notification:
    text = " ".join((text or "").split())
    if not text:
        raise InvalidInput("A notification needs a text.", field="text")
    notification = Notification(merchant=merchant, text=text[:500], link=(link or "")[:500])
    notification.set_actor(actor or SYSTEM)
    notification.save()
    return notification


@transaction.atomic
def notifications_mark_read(
    *, merchant: Merchant, user: User, notifications: Iterable[Notification] | None = None
) -> int:
    """Mark the given notifications (all unread ones when None) read for this user."""
    unread = selectors.unread_notifications(merchant, user)
    if notifications is not None:
        unread = unread.filter(pk__in=[n.pk for n in notifications])
    reads = [NotificationRead(notification=n, user=user) for n in unread]
    # ignore_conflicts: two tabs marking the same notification read at once is fine.
    NotificationRead.objects.bulk_create(reads, ignore_conflicts=True)
    return len(reads)


# Settings and templates


@transaction.atomic
def channel_settings_update(
    *,
    merchant: Merchant,
    actor: Actor,
    sms_provider: str,
    sms_config: dict[str, str],
    sms_sender: str,
    email_provider: str,
    email_config: dict[str, str],
    email_from: str,
    quiet_hours_start: datetime.time | None,
    quiet_hours_end: datetime.time | None,
) -> ChannelSettings:
    if sms_provider not in SmsProvider.values:
        raise InvalidInput("Unknown SMS provider.", field="sms_provider")
    if email_provider not in EmailProvider.values:
        raise InvalidInput("Unknown email provider.", field="email_provider")
    if (quiet_hours_start is None) != (quiet_hours_end is None):
        raise InvalidInput("Give both ends of the quiet hours, or neither.", field="quiet_hours")
    channels, _created = ChannelSettings.objects.select_for_update().get_or_create(
        merchant=merchant
    )

    def keep_secrets(old: dict[str, str], new: dict[str, str], name: str, cls: Any) -> dict:
        # A secret left blank in the form keeps its saved value (the form never shows it).
        secrets = {f.name for f in provider_class(name, cls).config_fields if f.secret}
        return {k: (v or old.get(k, "")) if k in secrets else v for k, v in new.items()}

    channels.sms_config = keep_secrets(channels.sms_config, sms_config, "sms", sms_provider)
    channels.email_config = keep_secrets(
        channels.email_config, email_config, "email", email_provider
    )
    channels.sms_provider = sms_provider
    channels.sms_sender = sms_sender.strip()[:64]
    channels.email_provider = email_provider
    channels.email_from = email_from.strip()[:254]
    channels.quiet_hours_start = quiet_hours_start
    channels.quiet_hours_end = quiet_hours_end
    channels.updated_at = timezone.now()
    channels.save()
    return channels


@transaction.atomic
def message_template_save(
    *,
    merchant: Merchant,
    actor: Actor,
    key: str,
    channel: str,
    language: str,
    body: str,
    subject: str = "",
    name: str = "",
    marketing: bool = False,
    template: MessageTemplate | None = None,
) -> MessageTemplate:
    """Create a template, or change `template`. Unknown merge fields are refused."""
    channel = _clean_channel(channel)
    unknown = merge.unknown_fields(body + " " + subject)
    if unknown:
        raise UnknownMergeField(
            _("Unknown merge fields: %(fields)s") % {"fields": ", ".join(unknown)}, field="body"
        )
    body, subject = _clean_body(channel, body, subject)
    if template is None:
        template = MessageTemplate(merchant=merchant)
    else:
        template = MessageTemplate.objects.select_for_update().get(
            merchant=merchant, pk=template.pk
        )
    template.key = key.strip()
    template.channel = channel
    template.language = language
    template.name = name.strip()[:200]
    template.subject = subject
    template.body = body
    template.marketing = marketing
    template.updated_at = timezone.now()
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError as exc:
        raise Conflict(
            _("A template with this key, channel and language exists already."), field="key"
        ) from exc
    return template


@transaction.atomic
def message_templates_install_defaults(
    *, merchant: Merchant, actor: Actor = SYSTEM
) -> list[MessageTemplate]:
    """The built-in templates (see `defaults.py`) the merchant does not have yet.

    Idempotent: a template that exists (with its key, channel and language) is left as
    the merchant wrote it, so running this again creates nothing and changes nothing.
    """
    from django_scopes import scope

    made = []
    with scope(merchant=merchant):
        have = set(
            MessageTemplate.objects.filter(merchant=merchant).values_list(
                "key", "channel", "language"
            )
        )
        for default in defaults.BUILT_IN:
            if (default.key, default.channel, default.language) in have:
                continue
            made.append(
                message_template_save(
                    merchant=merchant,
                    actor=actor,
                    key=default.key,
                    channel=default.channel,
                    language=default.language,
                    name=default.name,
                    subject=default.subject,
                    body=default.body,
                    marketing=default.marketing,
                )
            )
    return made


@transaction.atomic
def message_template_delete(*, merchant: Merchant, template: MessageTemplate, actor: Actor) -> None:
    MessageTemplate.objects.filter(merchant=merchant, pk=template.pk).delete()
