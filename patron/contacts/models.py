"""A merchant's customers, their tags, and the activity timeline of each.

`ActivityEvent` is the store of typed, past-tense domain events (`contact_created`,
`note_added`, later `points_earned`, `coupon_deleted`, ...). The contact's Activity tab
reads it; automations and webhooks are fed from it.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant


class ContactSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    IMPORT = "import", "Import"
    POS = "pos", "Point of sale"
    SHOPIFY = "shopify", "Shopify"
    PORTAL = "portal", "Customer page"


class Tag(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#64748b")

    objects: "models.Manager[Tag]" = merchant_scoped_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "name"], name="tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    # Indexed by contact_in_merchant below, which starts with the merchant.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    phone = PhoneNumberField(null=True, blank=True)
    email = models.EmailField(null=True, blank=True)
    birthday = models.DateField(null=True, blank=True)
    source = models.CharField(
        max_length=16, choices=ContactSource.choices, default=ContactSource.MANUAL
    )
    external_ids = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts")
    # Accent-free, lower-case name and email, so "nguyen" finds "Nguyễn" on any database.
    search_text = models.CharField(max_length=400, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=200, blank=True, default="")
    delete_reason = models.CharField(max_length=500, blank=True, default="")

    objects: "models.Manager[Contact]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            # One live contact per phone and merchant; deleted contacts keep theirs.
            models.UniqueConstraint(
                fields=["merchant", "phone"],
                condition=Q(deleted_at__isnull=True, phone__isnull=False),
                name="contact_phone_unique_per_merchant",
            ),
            # Unique because the id is: it exists so that rows of other tables can name
            # a contact together with their merchant in one foreign key (see
            # coupons/migrations/0002), which the database then keeps in one tenant.
            models.UniqueConstraint(fields=["merchant", "id"], name="contact_in_merchant"),
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="contact_recent")]

    def __str__(self) -> str:
        return self.full_name or str(self.phone or self.email or f"#{self.pk}")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ContactTag(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="contact_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "tag"], name="contact_tag_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.tag_id}"


class ActivityEvent(ActorFields):
    """One thing that happened, to a contact or to the merchant at large."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activity"
    )
    type = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    objects: "models.Manager[ActivityEvent]" = merchant_scoped_manager()

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "contact", "-at"], name="activity_timeline"),
            models.Index(fields=["merchant", "type", "-at"], name="activity_by_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.at:%Y-%m-%d %H:%M}"
