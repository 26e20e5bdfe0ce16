"""Messages in the public API, and the webhooks SMS providers call (replies, delivery)."""

import contextlib
import datetime
import hmac
import json
from typing import Any, Literal

from django.http import HttpRequest
from django_scopes import scope, scopes_disabled
from ninja import Field, Query, Router, Schema

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.contacts import selectors as contact_selectors
from patron.contacts.services import ContactNotFound
from patron.lib.errors import Forbidden, InvalidInput
from patron.messaging import selectors, services
from patron.messaging.models import ChannelSettings, Message, webhook_secret_digest
from patron.tenants.models import Merchant

router = Router(tags=["messaging"])

SECRET_HEADER = "X-Patron-Webhook-Secret"  # noqa: S105 (a header name)


class MessageOut(Schema):
    id: str
    channel: str
    to: str
    subject: str
    body: str
    status: str
    marketing: bool
    contact_id: str | None
    error: str
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    delivered_at: datetime.datetime | None

    @staticmethod
    def from_message(message: Message) -> "MessageOut":
        return MessageOut(
            id=str(message.pk),
            channel=message.channel,
            to=message.to,
            subject=message.subject,
            body=message.body,
            status=message.status,
            marketing=message.marketing,
            contact_id=str(message.contact_id) if message.contact_id else None,
            error=message.error,
            created_at=message.created_at,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
        )


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageIn(Schema):
    channel: Literal["sms", "email"] = "sms"
    body: str = Field("", max_length=services.MAX_EMAIL_LENGTH)
    subject: str = Field("", max_length=200)
    template_key: str | None = Field(
        None, max_length=64, description="Send this message template instead of `body`"
    )
    context: dict[str, str] = Field(
        default_factory=dict, description='Merge field values, e.g. {"coupon_code": "X"}'
    )
    marketing: bool = Field(
        False, description="Marketing: skipped for opted-out contacts, held in quiet hours"
    )


class InboundOut(Schema):
    action: str


class StatusOut(Schema):
    id: str
    status: str


def _contact(request: HttpRequest, contact_id: str) -> Any:
    merchant, _ = tenant(request)
    contact = contact_selectors.contact_get(merchant, contact_id)
    if contact is None:
        raise ContactNotFound()
    return contact


@router.get("/contacts/{contact_id}/messages", response={200: MessagePage, **ERRORS})
def list_messages(
    request: HttpRequest,
    contact_id: str,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> MessagePage:
    merchant, _ = tenant(request)
    contact = _contact(request, contact_id)
    page = paginate(selectors.contact_messages(merchant, contact), cursor, limit)
    return MessagePage(
        items=[MessageOut.from_message(m) for m in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/contacts/{contact_id}/messages",
    response={201: MessageOut, **ERRORS},
    summary="Send an SMS or email to the contact",
)
def send_message(
    request: HttpRequest, contact_id: str, payload: MessageIn
) -> tuple[int, MessageOut]:
    merchant, actor = tenant(request)
    contact = _contact(request, contact_id)
    if payload.template_key:
        message = services.message_send_template(
            merchant=merchant,
            channel=payload.channel,
            template_key=payload.template_key,
            actor=actor,
            contact=contact,
            context=payload.context,
            marketing=payload.marketing,
        )
    else:
        message = services.message_send(
            merchant=merchant,
            channel=payload.channel,
            actor=actor,
            body=payload.body,
            subject=payload.subject,
            contact=contact,
            marketing=payload.marketing,
        )
    return 201, MessageOut.from_message(message)


def _webhook_merchant(request: HttpRequest) -> Merchant:
    """The merchant whose webhook secret came with the request (query or header)."""
    given = request.headers.get(SECRET_HEADER) or request.GET.get("secret") or ""
    if len(given) < 16:
        raise Forbidden("A valid webhook secret is required.")
    with scopes_disabled():
        digest = webhook_secret_digest(given)
        channels = ChannelSettings.objects.filter(webhook_secret_digest=digest).first()
        # The lookup finds the row; the constant-time compare is what authenticates.
        if channels is None or not hmac.compare_digest(channels.webhook_secret, given):
            raise Forbidden("A valid webhook secret is required.")
        return channels.merchant


def _payload(request: HttpRequest) -> dict[str, str]:
    """Form-encoded (Twilio) or JSON (gateways) bodies, keys lower-cased."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise InvalidInput("The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise InvalidInput("The body must be a JSON object.")
        return {str(k).lower(): str(v) for k, v in data.items()}
    return {key.lower(): str(request.POST.get(key, "")) for key in request.POST}


@router.post(
    "/messaging/inbound-sms",
    auth=None,
    response={200: InboundOut, **ERRORS, 403: Any},
    summary="A customer's SMS reply (the SMS provider's webhook)",
    description=(
        "Authenticated by the merchant's webhook secret (Settings → Channel settings) in "
        f"the `secret` query parameter or the `{SECRET_HEADER}` header. Takes Twilio's "
        "form fields (`From`, `Body`) or JSON (`from`, `text` or `body`). STOP, "
        "UNSUBSCRIBE or HUY opt the number out of marketing SMS; START opts it back in."
    ),
)
def inbound_sms(request: HttpRequest) -> InboundOut:
    merchant = _webhook_merchant(request)
    data = _payload(request)
    sender = data.get("from", "")
    body = data.get("body") or data.get("text") or ""
    with scope(merchant=merchant):
        result = services.inbound_sms(merchant=merchant, from_number=sender, body=body)
    return InboundOut(action=result.action)


@router.post(
    "/messaging/delivery-status",
    auth=None,
    response={200: StatusOut, **ERRORS, 403: Any},
    summary="A provider's delivery report (the SMS provider's status webhook)",
    description=(
        "Same secret as the inbound webhook. Takes Twilio's `MessageSid` and "
        "`MessageStatus`, or JSON `id` and `status` (sent, delivered, failed)."
    ),
)
def delivery_status(request: HttpRequest) -> StatusOut:
    merchant = _webhook_merchant(request)
    data = _payload(request)
    provider_id = data.get("messagesid") or data.get("id") or ""
    reported = (data.get("messagestatus") or data.get("status") or "").lower()
    status = {"undelivered": "failed"}.get(reported, reported)
    with scope(merchant=merchant):
        message = services.message_for_provider_id(merchant, provider_id)
        if status in {"sent", "delivered", "failed"}:
            # Reports arrive out of order ("sent" after "delivered"): the later one stays.
            with contextlib.suppress(services.StatusGoesBackwards):
                message = services.message_mark_status(
                    merchant=merchant,
                    message=message,
                    status=status,
                    error=data.get("errormessage") or data.get("error") or "",
                )
    return StatusOut(id=str(message.pk), status=message.status)
