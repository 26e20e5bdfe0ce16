"""Who changed what and when, and how much each API key has asked of us.

`AuditEntry` is the audit trail: one row per staff or API write, with the actor, the
time and the object's state before and after, written by the service that made the
change (through `patron.audit.services.audit_record`). Rows are only ever added.

`RateLimitWindow` counts the requests of one API key in one fixed time window; the
rate limiter in `patron.audit.ratelimit` raises it with a conditional UPDATE.
"""

from django.db import models
from django.utils import timezone

from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import ApiKey, Merchant


class AuditEntry(ActorFields):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    # "<app>.<noun>_<verb>", named after the service that wrote it: "contacts.contact_update".
    action = models.CharField(max_length=100)
    # "<app_label>.<Model>" and the pk of the object written, as text.
    object_type = models.CharField(max_length=100, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    object_label = models.CharField(max_length=200, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects: "models.Manager[AuditEntry]" = merchant_scoped_manager()

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "-at"], name="audit_recent"),
            models.Index(fields=["merchant", "object_type", "object_id"], name="audit_object"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id} by {self.actor_label}"


class RateLimitWindow(models.Model):
    """Requests of one API key in the fixed window that starts at `window_start`."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "window_start"], name="one_window_per_key")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_age")]

    def __str__(self) -> str:
        return f"key {self.api_key_id} at {self.window_start:%H:%M:%S}: {self.count}"


class ErasedPhone(models.Model):
    """A phone number of an erased contact, kept only as a keyed one-way hash.

    Seed 004's anti-fraud rule (a phone does not carry a membership to someone else)
    must still hold after erasure; the hash answers "was this number here before?"
    without keeping the number.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    phone_hash = models.CharField(max_length=64)
    erased_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[ErasedPhone]" = merchant_scoped_manager()

    class Meta:
        indexes = [models.Index(fields=["merchant", "phone_hash"], name="erased_phone_lookup")]

    def __str__(self) -> str:
        return f"{self.phone_hash[:12]}… erased {self.erased_at:%Y-%m-%d}"
