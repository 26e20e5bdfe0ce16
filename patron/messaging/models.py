"""Messages to customers (SMS and email), their templates, consent, and the staff bell.

A `Message` is written first (queued), then delivered by the merchant's provider in a
background task. Its status only moves forward; the delivery task claims a message with a
conditional UPDATE, so a retried task never hands the same message to a provider twice.
"""

import datetime
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patron.contacts.models import Contact
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.lib.sealed import SealedJSONField, SealedTextField
from patron.tenants.models import Merchant


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    # Claimed by a delivery task and handed to the provider; the outcome is not known yet.
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


class SmsProvider(models.TextChoices):
    OUTBOX = "outbox", _("Outbox (nothing leaves Patron)")
    TWILIO = "twilio", _("Twilio")
    HTTP_GATEWAY = "http_gateway", _("HTTP gateway")


class EmailProvider(models.TextChoices):
    OUTBOX = "outbox", _("Outbox (nothing leaves Patron)")
    SMTP = "smtp", _("SMTP")
    ANYMAIL = "anymail", _("Email service (Anymail)")


class Message(ActorFields):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    template_key = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    marketing = models.BooleanField(default=False)
    provider = models.CharField(max_length=32, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # Not before this time (quiet hours, or a retry's backoff).
    send_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[Message]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="message_recent"),
            models.Index(fields=["merchant", "contact", "-created_at"], name="message_contact"),
            models.Index(fields=["status", "send_after"], name="message_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} ({self.status})"


class MessageTemplate(models.Model):
    """A message with merge fields such as {{ first_name }}, per channel and language."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8, default="en")
    name = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    marketing = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[MessageTemplate]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "key", "channel", "language"], name="message_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.channel}, {self.language})"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(24)


def webhook_secret_digest(secret: str) -> str:
    """What the inbound webhooks look the merchant up by; the secret itself is sealed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ChannelSettings(models.Model):
    """How one merchant's messages leave: providers, senders, quiet hours."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="channel_settings"
    )
    sms_provider = models.CharField(
        max_length=32, choices=SmsProvider.choices, default=SmsProvider.OUTBOX
    )
    # Provider credentials (tokens, passwords) are sealed at rest: see patron/lib/sealed.py.
    # The field is a text column to the type checker; models see the opened dict.
    sms_config: "dict[str, Any]" = SealedJSONField(  # type: ignore[assignment]
        default=dict, blank=True
    )
    sms_sender = models.CharField(max_length=64, blank=True, default="")
    email_provider = models.CharField(
        max_length=32, choices=EmailProvider.choices, default=EmailProvider.OUTBOX
    )
    email_config: "dict[str, Any]" = SealedJSONField(  # type: ignore[assignment]
        default=dict, blank=True
    )
    email_from = models.CharField(max_length=254, blank=True, default="")
    # In the merchant's timezone. A window that crosses midnight (21:00 to 08:00) is usual.
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # Authenticates the inbound SMS and delivery-status webhooks of this merchant. Sealed
    # at rest (the settings page shows it for the provider's console); requests find the
    # merchant by its digest.
    webhook_secret = SealedTextField(default=new_webhook_secret)
    webhook_secret_digest = models.CharField(max_length=64, unique=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[ChannelSettings]" = merchant_scoped_manager()

    class Meta:
        verbose_name_plural = "channel settings"

    def __str__(self) -> str:
        return f"Channels of {self.merchant_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.webhook_secret_digest = webhook_secret_digest(self.webhook_secret)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "webhook_secret" in update_fields:
            kwargs["update_fields"] = {*update_fields, "webhook_secret_digest"}
        super().save(*args, **kwargs)

    @property
    def has_quiet_hours(self) -> bool:
        return (
            self.quiet_hours_start is not None
            and self.quiet_hours_end is not None
            and self.quiet_hours_start != self.quiet_hours_end
        )

    def quiet_until(self, now: datetime.datetime, tz: datetime.tzinfo) -> datetime.datetime | None:
        """The end of the quiet hours `now` falls in, or None outside them."""
        if not self.has_quiet_hours:
            return None
        assert self.quiet_hours_start is not None and self.quiet_hours_end is not None
        local = now.astimezone(tz)
        start, end, t = self.quiet_hours_start, self.quiet_hours_end, local.time()
        if start < end:
            inside = start <= t < end
            end_day = local.date()
        else:
            inside = t >= start or t < end
            end_day = local.date() + datetime.timedelta(days=1 if t >= start else 0)
        if not inside:
            return None
        return datetime.datetime.combine(end_day, end, tzinfo=tz)


class SuppressionSource(models.TextChoices):
    STOP_REPLY = "stop_reply", _("STOP reply")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    STAFF = "staff", _("Staff")


class Suppression(models.Model):
    """An address that opted out of marketing on a channel. Service messages still go."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressions"
    )
    source = models.CharField(max_length=20, choices=SuppressionSource.choices)
    detail = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Suppression]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "address"], name="suppression_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.address} opted out"


class Notification(ActorFields):
    """A line in the staff bell, for every staff user of the merchant."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Notification]" = merchant_scoped_manager()

    class Meta:
        indexes = [models.Index(fields=["merchant", "-created_at"], name="notification_recent")]

    def __str__(self) -> str:
        return self.text


class NotificationRead(models.Model):
    """That one staff user has read one notification."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notification_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notification_id}"
