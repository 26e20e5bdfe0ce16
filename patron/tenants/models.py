"""Who owns what: agencies run merchants; staff users reach merchants by role.

The merchant is the tenant. Every row of business data elsewhere carries a `merchant`
foreign key and a django-scopes manager, so a query that forgets the merchant raises
instead of leaking another merchant's rows.
"""

import hashlib
import secrets
import zoneinfo
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from patron.lib.scoping import merchant_scoped_manager


class Agency(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Merchant(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="merchants")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166 code; phones parse with it")
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD")
    language = models.CharField(max_length=8, default="en")
    brand_color = models.CharField(max_length=7, default="#2563eb")
    created_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Where the shop is: dates and times on its pages are the shop's local ones.

        UTC when the stored name is not a known zone, so one bad value cannot break
        every page of the merchant."""
        try:
            return zoneinfo.ZoneInfo(self.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        email = self.normalize_email(email).lower()
        user = self.model(email=email, username=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs into the staff app, by email."""

    email = models.EmailField(unique=True)
    language = models.CharField(max_length=8, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    STAFF = "staff", _("Staff")


class StaffAccess(models.Model):
    """A staff user's role at one merchant."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="accesses")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="accesses")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="one_access_per_merchant")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is {self.role} at {self.merchant_id}"


class AgencyAdmin(models.Model):
    """An agency admin reaches every merchant of the agency, as an owner."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agency_admins")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="admins")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "agency"], name="one_admin_per_agency")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} administers {self.agency_id}"


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """A merchant's key for the public API. Only its hash is stored; the key is shown once."""

    PREFIX = "ptr_"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.CharField(max_length=200, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[ApiKey]" = merchant_scoped_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """A new raw key with its display prefix and hash."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        return raw, raw[:12], hash_api_key(raw)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
