"""The rewards catalog, bought with points, and the redemptions that bought them.

A claim takes the points out of the member's ledger and issues the reward's coupon in
one transaction (`patron.rewards.services.reward_claim`). A manual redemption ("Redeem
Points Manually") is a redemption without a reward: a typed amount and a note.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.coupons.models import Coupon
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.loyalty.models import LedgerEntry, Member
from patron.tenants.models import Merchant


class RewardKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage off"
    FIXED_AMOUNT = "fixed_amount", "Fixed amount off"
    FREE_SHIPPING = "free_shipping", "Free shipping"
    FREE_PRODUCT = "free_product", "Free product"
    # Fulfilled by staff (a tote bag, a tasting): no coupon is issued.
    CUSTOM = "custom", "Custom"


def no_product_ids() -> list[str]:
    return []


class Reward(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=RewardKind.choices)
    # Percent for percentage, currency units for fixed amount, unused otherwise.
    value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    points_cost = models.PositiveIntegerField()
    # Terms of the coupon a claim issues.
    coupon_label = models.CharField(max_length=100, blank=True, default="")
    coupon_prefix = models.CharField(max_length=12, blank=True, default="")
    coupon_valid_days = models.PositiveIntegerField(null=True, blank=True)
    minimum_order = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    product_ids = models.JSONField(default=no_product_ids, blank=True)
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    # None: unlimited. Decremented with a conditional UPDATE, never read-then-written.
    stock = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Reward]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="reward_cost_positive"),
            models.CheckConstraint(condition=Q(kind__in=RewardKind.values), name="reward_kind"),
        ]
        ordering = ["points_cost", "id"]

    def __str__(self) -> str:
        return self.name


class Redemption(ActorFields):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(
        Reward, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions"
    )
    points = models.PositiveIntegerField()
    note = models.CharField(max_length=500, blank=True, default="")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="redemption")
    coupon = models.ForeignKey(
        Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the reward was worth when claimed (the dashboard's redeemed amounts).
    reward_kind = models.CharField(max_length=16, blank=True, default="")
    reward_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Redemption]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="redemption_idempotency_key_unique",
            )
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="redemption_by_time")]

    def __str__(self) -> str:
        return f"redemption of {self.points} points"
