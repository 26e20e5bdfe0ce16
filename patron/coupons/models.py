"""Discount codes issued to one contact, and the full history of each.

A coupon's `status` and `usage_count` are changed only by services in
`patron.coupons.services`, with conditional UPDATEs, so that two checkouts using the
same code at once cannot both succeed. Every change also writes a `CouponEvent` (the
"Event Data" of the Discount Codes tab) and an activity event on the contact.
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patron.contacts.models import Contact
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant


class CouponType(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage off"
    FIXED_AMOUNT = "fixed_amount", "Fixed amount off"
    FREE_SHIPPING = "free_shipping", "Free shipping"


class CouponStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    USED = "used", "Used"
    DELETED = "deleted", "Deleted"
    EXPIRED = "expired", "Expired"


class EarningMethod(models.TextChoices):
    MANUAL = "manual", "Manual"
    LOYALTY = "loyalty", "Loyalty program"
    AUTOMATION = "automation", "Automation"


class AppliesTo(models.TextChoices):
    ALL = "all", "All products"
    COLLECTIONS = "collections", "Specific collections"
    PRODUCTS = "products", "Specific products"


def applies_to_all() -> dict[str, object]:
    return {"kind": AppliesTo.ALL.value, "ids": []}


class Coupon(models.Model):
    # A bulk issue writes a million rows, so each index and key check here is paid a
    # million times. The merchant is indexed by coupon_code_unique and the contact by
    # coupon_by_contact; on PostgreSQL the two are checked as one key, (merchant,
    # contact), which also keeps a coupon's contact in the coupon's merchant
    # (migrations/0002).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="coupons", db_index=False
    )
    # The loyalty member the coupon was bought for, as a plain id: members outlive
    # contacts (seed 004) and the refund goes back to that member, not to whoever
    # holds the contact's phone today.
    member_id = models.BigIntegerField(null=True, blank=True)
    code = models.CharField(max_length=64)
    # Kept so "Delete and generate new" makes a code that looks like the old one.
    prefix = models.CharField(max_length=20, blank=True, default="")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=CouponType.choices)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    status = models.CharField(
        max_length=16, choices=CouponStatus.choices, default=CouponStatus.AVAILABLE
    )
    usage_limit = models.PositiveIntegerField(default=1)
    usage_count = models.PositiveIntegerField(default=0)
    minimum_order = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    applies_to = models.JSONField(default=applies_to_all)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    earning_method = models.CharField(
        max_length=16, choices=EarningMethod.choices, default=EarningMethod.MANUAL
    )
    points_paid = models.PositiveIntegerField(default=0)
    points_refunded = models.PositiveIntegerField(default=0)
    # What the coupon came from, e.g. "reward:12" (a claim of that reward) or "workflow:3".
    reference = models.CharField(max_length=200, blank=True, default="")
    used_at = models.DateTimeField(null=True, blank=True)
    last_order_reference = models.CharField(max_length=200, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=200, blank=True, default="")
    delete_reason = models.CharField(max_length=500, blank=True, default="")
    # At most one new coupon per old one (coupon_regenerated_once); most coupons have
    # none, and those are left out of that index.
    regenerated_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="regenerated_as",
        db_index=False,
    )
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Coupon]" = merchant_scoped_manager()

    # Not a column: True on the instance `coupon_issue` has just inserted, False on one
    # it found already issued under the same idempotency key (an earlier try's).
    issued_now = False

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="coupon_code_unique"),
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="coupon_idempotency_key_unique",
            ),
            models.UniqueConstraint(
                fields=["regenerated_from"],
                condition=Q(regenerated_from__isnull=False),
                name="coupon_regenerated_once",
            ),
            # The last line of defence behind the conditional UPDATE in coupon_redeem.
            models.CheckConstraint(
                condition=Q(usage_count__lte=F("usage_limit")),
                name="coupon_usage_within_limit",
            ),
            models.CheckConstraint(condition=Q(usage_limit__gte=1), name="coupon_usage_limit_1"),
            models.CheckConstraint(
                condition=Q(status__in=CouponStatus.values), name="coupon_status_known"
            ),
        ]
        indexes = [
            # A contact belongs to one merchant, so the contact leads.
            models.Index(fields=["contact", "status"], name="coupon_by_contact"),
            # Only what the expiry sweep and the "coupon expiring" trigger look for.
            models.Index(
                fields=["merchant", "expires_at"],
                condition=Q(status=CouponStatus.AVAILABLE, expires_at__isnull=False),
                name="coupon_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.label})"

    @property
    def is_available(self) -> bool:
        return self.status == CouponStatus.AVAILABLE


class CouponEventType(models.TextChoices):
    ISSUED = "issued", "Issued"
    SENT = "sent", "Sent"
    SYNCED = "synced", "Synced"
    USED = "used", "Used"
    ROLLED_BACK = "rolled_back", "Rolled back"
    DELETED = "deleted", "Deleted"
    EXPIRED = "expired", "Expired"
    REGENERATED = "regenerated", "Regenerated"


class CouponEvent(ActorFields):
    """One entry of a coupon's history, shown as JSON in "Event Data"."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=16, choices=CouponEventType.choices)
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)
    # Set on uses and roll-backs that came with a key, so a retried request finds the
    # first one instead of counting twice.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")

    objects: "models.Manager[CouponEvent]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="coupon_event_idempotency_key_unique",
            )
        ]
        indexes = [models.Index(fields=["coupon", "at"], name="coupon_event_history")]

    def __str__(self) -> str:
        return f"{self.type} at {self.at:%Y-%m-%d %H:%M}"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": str(self.pk),
            "type": self.type,
            "at": self.at.isoformat(),
            "actor": self.actor.as_dict(),
            "data": self.data,
        }
