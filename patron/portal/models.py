"""The customer page: each merchant's settings for it, and the one-time sign-in codes.

A customer proves they own a phone number with a short code sent by SMS. Only a hash of
the code is stored, so a database dump or the admin never shows a code that still works.
The rows of `OneTimeCode` double as the send log: the per-phone and per-address limits
count them, whether or not the number belonged to a member, so the limits say nothing
about membership either.
"""

from dataclasses import dataclass

from django.db import models
from django.utils import timezone

from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant


@dataclass(frozen=True)
class Bound:
    low: int
    high: int
    default: int

    def clamp(self, value: int | None) -> int:
        if value is None:
            return self.default
        return max(self.low, min(self.high, int(value)))


# The safe range of each security knob. A merchant picks within it; nothing outside it
# can be stored, so a typo cannot turn the code into something guessable or eternal.
BOUNDS: dict[str, Bound] = {
    "code_ttl_minutes": Bound(2, 30, 10),
    "max_attempts": Bound(3, 10, 5),
    "sends_per_phone_per_hour": Bound(1, 10, 3),
    "sends_per_address_per_hour": Bound(1, 50, 10),
    "session_minutes": Bound(5, 240, 30),
}


class PortalSettings(models.Model):
    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    logo_url = models.URLField(max_length=500, blank=True, default="")
    primary_color = models.CharField(max_length=7, blank=True, default="")
    accent_color = models.CharField(max_length=7, blank=True, default="")
    allow_self_join = models.BooleanField(default=False)
    # The merchant's own web sites (one origin per line, "https://shop.example.com"):
    # the only pages allowed to show the customer page in the widget's frame.
    site_origins = models.TextField(blank=True, default="")
    code_ttl_minutes = models.PositiveSmallIntegerField(default=BOUNDS["code_ttl_minutes"].default)
    max_attempts = models.PositiveSmallIntegerField(default=BOUNDS["max_attempts"].default)
    sends_per_phone_per_hour = models.PositiveSmallIntegerField(
        default=BOUNDS["sends_per_phone_per_hour"].default
    )
    sends_per_address_per_hour = models.PositiveSmallIntegerField(
        default=BOUNDS["sends_per_address_per_hour"].default
    )
    session_minutes = models.PositiveSmallIntegerField(default=BOUNDS["session_minutes"].default)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[PortalSettings]" = merchant_scoped_manager()

    class Meta:
        verbose_name_plural = "portal settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(**{f"{name}__gte": bound.low, f"{name}__lte": bound.high}),
                name=f"portal_{name}_in_bounds",
            )
            for name, bound in BOUNDS.items()
        ]

    def __str__(self) -> str:
        return f"Customer page of {self.merchant_id}"

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in self.site_origins.splitlines() if line.strip()]

    def color(self) -> str:
        return self.primary_color or self.merchant.brand_color

    def accent(self) -> str:
        return self.accent_color or self.color()


class OneTimeCode(models.Model):
    """One code asked for on the customer page: the send log and the thing to verify."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    objects: "models.Manager[OneTimeCode]" = merchant_scoped_manager()

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "phone", "-created_at"], name="otp_by_phone"),
            models.Index(
                fields=["merchant", "client_address", "-created_at"], name="otp_by_address"
            ),
        ]

    def __str__(self) -> str:
        return f"Code for {self.phone} at {self.created_at:%Y-%m-%d %H:%M}"
