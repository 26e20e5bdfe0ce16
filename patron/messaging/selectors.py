"""Reads of messages, templates, consent and notifications. The merchant comes first."""

from django.db.models import Q, QuerySet

from patron.contacts.models import Contact
from patron.lib.memo import remembered
from patron.lib.sql import first_row
from patron.messaging.models import (
    ChannelSettings,
    Message,
    MessageTemplate,
    Notification,
    Suppression,
)
from patron.tenants.models import Merchant, User


def outbox(merchant: Merchant) -> QuerySet[Message]:
    """Every message of the merchant, newest first (the Outbox page)."""
    return Message.objects.filter(merchant=merchant).select_related("contact").order_by("-pk")


def contact_messages(merchant: Merchant, contact: Contact) -> QuerySet[Message]:
    return Message.objects.filter(merchant=merchant, contact=contact).order_by("-pk")


def message_get(merchant: Merchant, message_id: int | str) -> Message | None:
    try:
        pk = int(message_id)
    except (TypeError, ValueError):
        return None
    return Message.objects.filter(merchant=merchant, pk=pk).first()


def channel_settings(merchant: Merchant) -> ChannelSettings:
    """The merchant's settings; unsaved defaults (the outbox) when it never set any."""
    # Read for every message sent: fixed SQL (patron.lib.sql), not a query built anew, and
    # once for a batch of them (patron.lib.memo).
    return remembered(
        ("channel_settings", merchant.pk),
        lambda: (
            first_row(ChannelSettings, {"merchant": merchant}) or ChannelSettings(merchant=merchant)
        ),
    )


def templates(merchant: Merchant) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(merchant=merchant).order_by("key", "channel", "language")


def template_get(
    merchant: Merchant, key: str, channel: str, language: str | None = None
) -> MessageTemplate | None:
    """The template in `language`, else the merchant's language, else English, else any."""
    found = list(MessageTemplate.objects.filter(merchant=merchant, key=key, channel=channel))
    for wanted in (language, merchant.language, "en"):
        for template in found:
            if wanted and template.language == wanted:
                return template
    return found[0] if found else None


def template_exists(merchant_id: int, key: str, channel: str) -> bool:
    """Has the merchant a template with this key for this channel, in any language?"""
    return MessageTemplate.objects.filter(
        merchant_id=merchant_id, key=key, channel=channel
    ).exists()


def is_suppressed(
    merchant: Merchant, channel: str, address: str, contact: Contact | None = None
) -> bool:
    """Has this address (or this contact, on this channel) opted out of marketing?"""
    match = Q(address=address)
    if contact is not None:
        match |= Q(contact=contact)
    return Suppression.objects.filter(merchant=merchant, channel=channel).filter(match).exists()


def suppressions(merchant: Merchant, contact: Contact) -> QuerySet[Suppression]:
    return Suppression.objects.filter(merchant=merchant, contact=contact).order_by("channel")


def notifications(merchant: Merchant) -> QuerySet[Notification]:
    return Notification.objects.filter(merchant=merchant).order_by("-pk")


def unread_notifications(merchant: Merchant, user: User) -> QuerySet[Notification]:
    return notifications(merchant).exclude(reads__user=user)


def unread_count(merchant: Merchant, user: User) -> int:
    return unread_notifications(merchant, user).count()


def coupon_choices(merchant: Merchant, contact: Contact) -> list[tuple[str, str]]:
    """(code, label) of the contact's available coupons, newest first."""
    from patron.coupons.selectors import available_coupons

    return [(c.code, c.label) for c in available_coupons(merchant, contact)[:20]]
