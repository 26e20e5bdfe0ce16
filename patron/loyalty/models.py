"""Members, their points ledger and lots, point categories, tiers and the program settings.

Points are integers and money-like: every change is an append-only `LedgerEntry`, and
the member's cached balances (`points_available`, `points_pending`, `points_lifetime`)
change in the same transaction as the row that explains them, under a lock on the
member row (see `patron.loyalty.services`). Positive rows create a `PointLot`; negative
rows consume lots, soonest-expiring first. So at any committed moment:

    points_available + points_pending == sum(ledger amounts)
    points_available == sum(remaining of activated lots)
    points_pending   == sum(remaining of lots not activated yet)
"""

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patron.contacts.models import Contact
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant


class ExpiryPolicy(models.TextChoices):
    NEVER = "never", "Points never expire"
    AFTER_DAYS = "after_days", "N days after earning"
    END_OF_PERIOD = "end_of_period", "At the end of the period"


class ExpiryPeriod(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class TierBasis(models.TextChoices):
    LIFETIME_POINTS = "lifetime_points", "Lifetime points"
    WINDOW_POINTS = "window_points", "Points earned in a rolling window"
    WINDOW_SPEND = "window_spend", "Spend in a rolling window"


class DowngradePolicy(models.TextChoices):
    # Tiers only go up; staff may still lower one by hand.
    NEVER = "never", "Never downgrade"
    # Every evaluation may lower the tier, including the one after a redemption.
    IMMEDIATE = "immediate", "Downgrade at any evaluation"
    # Changes raise tiers at once, only the scheduled evaluation lowers them.
    SCHEDULED = "scheduled", "Downgrade at the scheduled evaluation"


class CancelledOrderRewardPoints(models.TextChoices):
    RETURN = "return", "Return the points, delete the coupon"
    KEEP = "keep", "Keep the points, the coupon can be used again"


class LoyaltyProgram(models.Model):
    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    points_name = models.CharField(max_length=50, default="points")
    # Points per currency unit spent: 0.001 in VND gives 1 point per 1,000 ₫.
    earn_per_currency_unit = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("1")
    )
    signup_bonus = models.PositiveIntegerField(default=0)
    birthday_bonus = models.PositiveIntegerField(default=0)
    # Earned points stay pending this many days (e.g. until the return window ends).
    pending_days = models.PositiveIntegerField(default=0)
    expiry_policy = models.CharField(
        max_length=16, choices=ExpiryPolicy.choices, default=ExpiryPolicy.NEVER
    )
    expiry_days = models.PositiveIntegerField(default=365)
    expiry_period = models.CharField(
        max_length=8, choices=ExpiryPeriod.choices, default=ExpiryPeriod.YEAR
    )
    tier_basis = models.CharField(
        max_length=16, choices=TierBasis.choices, default=TierBasis.LIFETIME_POINTS
    )
    tier_window_days = models.PositiveIntegerField(default=365)
    downgrade_policy = models.CharField(
        max_length=16, choices=DowngradePolicy.choices, default=DowngradePolicy.SCHEDULED
    )
    # A tier set by hand holds this many days before evaluations may change it again.
    manual_tier_days = models.PositiveIntegerField(default=365)
    # Seed 004: members made from POS or store contacts start not activated unless
    # the merchant chooses otherwise here.
    activate_on_create = models.BooleanField(default=False)
    # Points spent on a reward whose coupon was used on an order that is then cancelled
    # or fully refunded: back to the member (the coupon is deleted), or kept (the
    # coupon's use is rolled back, so the customer can use it again).
    cancelled_order_reward_points = models.CharField(
        max_length=8,
        choices=CancelledOrderRewardPoints.choices,
        default=CancelledOrderRewardPoints.RETURN,
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[LoyaltyProgram]" = merchant_scoped_manager()

    def __str__(self) -> str:
        return f"Loyalty program of {self.merchant_id}"


class PointCategory(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    color = models.CharField(max_length=7, default="#2563eb")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # Archived categories keep the history that uses them but are no longer offered
    # when staff give points.
    archived_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[PointCategory]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="point_category_unique")
        ]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    # In points, or in currency units when the program's basis is spend.
    threshold = models.PositiveIntegerField(default=0)
    color = models.CharField(max_length=7, default="#64748b")
    benefits = models.TextField(blank=True, default="")
    earn_multiplier = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"))
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Tier]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="tier_name_unique"),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gt=0), name="tier_multiplier_positive"
            ),
        ]
        ordering = ["threshold", "id"]

    def __str__(self) -> str:
        return self.name


class MemberStatus(models.TextChoices):
    NOT_ACTIVATED = "not_activated", "Not activated"
    ACTIVE = "active", "Active"
    EXCLUDED = "excluded", "Excluded"


class Member(models.Model):
    """A loyalty membership, keyed by phone (seed 004: the phone is the identity)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    # Null once detached: the contact changed its phone, so this membership stays with
    # the old number, its points and its tier.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    phone = models.CharField(max_length=20)
    status = models.CharField(
        max_length=16, choices=MemberStatus.choices, default=MemberStatus.NOT_ACTIVATED
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    status_changed_by = models.CharField(max_length=200, blank=True, default="")
    status_reason = models.CharField(max_length=500, blank=True, default="")
    # The sign-up bonus is given once, at the first activation.
    first_activated_at = models.DateTimeField(null=True, blank=True)
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    tier_manual = models.BooleanField(default=False)
    tier_manual_reason = models.CharField(max_length=500, blank=True, default="")
    tier_locked_until = models.DateTimeField(null=True, blank=True)
    tier_changed_at = models.DateTimeField(null=True, blank=True)
    points_available = models.IntegerField(default=0)
    points_pending = models.IntegerField(default=0)
    points_lifetime = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=200, blank=True, default="")

    objects: "models.Manager[Member]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "phone"],
                condition=Q(deleted_at__isnull=True),
                name="member_phone_unique_per_merchant",
            ),
            # The services never let a balance go negative; this is the database
            # refusing it too, whatever code path tries.
            models.CheckConstraint(
                condition=Q(points_available__gte=0), name="member_available_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(points_pending__gte=0), name="member_pending_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(points_lifetime__gte=0), name="member_lifetime_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MemberStatus.values), name="member_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status"], name="member_by_status"),
            models.Index(fields=["merchant", "-points_lifetime"], name="member_leaderboard"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def linked_contact(self) -> Contact | None:
        """The contact this membership belongs to now: live and still on this phone."""
        contact = self.contact
        if contact is None or contact.deleted_at is not None:
            return None
        if str(contact.phone or "") != self.phone:
            return None
        return contact


class LedgerKind(models.TextChoices):
    EARN = "earn", "Earn"
    REDEEM = "redeem", "Redeem"
    ADJUST = "adjust", "Adjust"
    EXPIRE = "expire", "Expire"
    REVERSE = "reverse", "Reverse"
    TRANSFER = "transfer", "Transfer"


class LedgerSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    ORDER = "order", "Order"
    AUTOMATION = "automation", "Automation"
    REWARD = "reward", "Reward"
    API = "api", "API"
    IMPORT = "import", "Import"


class AppendOnly(Exception):
    pass


class LedgerEntry(ActorFields):
    """One change of a member's points. Rows are written once and never changed."""

    # Every index below starts with the merchant, so it has no index of its own: one
    # index fewer to write per row, and none that SQLite's planner, which keeps no
    # statistics, could take for an idempotency key's or a member's lookup.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    # Signed: positive adds points, negative takes them away.
    amount = models.IntegerField()
    category = models.ForeignKey(
        PointCategory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(
        max_length=16, choices=LedgerSource.choices, default=LedgerSource.MANUAL
    )
    reference = models.CharField(max_length=200, blank=True, default="")
    # For points earned on an order: what the customer spent (tiers by spend).
    spend = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The other side of a transfer.
    counterpart = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    # Available + pending after this row, as the member saw it.
    balance_after = models.IntegerField()
    # Details that do not fit the columns, e.g. for a `reverse` of an order's points:
    # how many were asked for, taken from pending and available lots, and the
    # shortfall the member had already spent.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[LedgerEntry]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="ledger_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_ok"),
            models.CheckConstraint(condition=Q(kind__in=LedgerKind.values), name="ledger_kind"),
        ]
        indexes = [
            models.Index(fields=["merchant", "member", "-id"], name="ledger_by_member"),
            models.Index(fields=["merchant", "kind", "created_at"], name="ledger_by_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnly("Ledger entries are never changed; write a new entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnly("Ledger entries are never deleted; write a reversing entry.")


class PointLot(models.Model):
    """Points added by one ledger row, spent down oldest-expiry first."""

    # A lot is always looked up by its member (lot_spend_order starts with it) or by what
    # falls due. Indexes of the merchant or the member alone are left out: without
    # statistics SQLite's planner took the merchant's and read all its lots on every
    # point given (2.6 ms a call with 19,000 lots, growing with them).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="lots", db_index=False
    )
    # Usually one lot per row; a transfer in gets one lot per lot it drew from, so the
    # points keep the expiry they had.
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lots")
    amount = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    # Pending until activates_at; `activated` flips when the points become available.
    activates_at = models.DateTimeField(null=True, blank=True)
    activated = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[PointLot]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__lte=F("amount")), name="lot_not_over_consumed"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "activated", "expires_at"], name="lot_spend_order"),
            models.Index(fields=["activated", "activates_at"], name="lot_activation_due"),
            models.Index(fields=["expires_at"], name="lot_expiry_due"),
        ]

    def __str__(self) -> str:
        return f"lot {self.remaining}/{self.amount}"
