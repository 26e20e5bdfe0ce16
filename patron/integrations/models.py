"""How Patron talks to the systems beside it.

- Outgoing webhooks: a merchant's endpoints, and one delivery row per event and endpoint,
  signed with the Standard Webhooks scheme and retried with backoff.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from patron.contacts.models import ActivityEvent
from patron.integrations.reasons import row_reason
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.lib.sealed import SealedTextField
from patron.tenants.models import Merchant


class WebhookEndpoint(ActorFields):
    """A URL of the merchant's that receives the domain events it chose."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True, default="")
    # Event types this endpoint receives; an empty list means every event.
    event_types = models.JSONField(default=list, blank=True)
    # The signing secret ("whsec_..."). Kept because every payload is signed with it;
    # the app shows it once, when the endpoint is created or the secret is rotated.
    # Sealed at rest: whoever reads a dump could otherwise forge our signatures.
    secret = SealedTextField()
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[WebhookEndpoint]" = merchant_scoped_manager()

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("delivery status", "Pending")
    SENDING = "sending", pgettext_lazy("delivery status", "Sending")
    RETRYING = "retrying", pgettext_lazy("delivery status", "Retrying")
    SUCCEEDED = "succeeded", pgettext_lazy("delivery status", "Succeeded")
    FAILED = "failed", pgettext_lazy("delivery status", "Failed")


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with its latest answer."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        ActivityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_type = models.CharField(max_length=64)
    # The `webhook-id` header: the same for every attempt and replay of this message,
    # so a receiver can drop the duplicates it already handled.
    message_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=2000, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    # One entry per attempt: {"at", "code", "error", "ms"}.
    log = models.JSONField(default=list, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[WebhookDelivery]" = merchant_scoped_manager()

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_recent"),
            models.Index(fields=["status", "next_retry_at"], name="delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id}: {self.status}"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", pgettext_lazy("import status", "Uploaded")
    CHECKING = "checking", pgettext_lazy("import status", "Dry run in progress")
    CHECKED = "checked", pgettext_lazy("import status", "Dry run finished")
    IMPORTING = "importing", pgettext_lazy("import status", "Importing")
    FINISHED = "finished", pgettext_lazy("import status", "Finished")
    FAILED = "failed", pgettext_lazy("import status", "Failed")
    UNDONE = "undone", pgettext_lazy("import status", "Undone")


class ImportBatch(ActorFields):
    """One CSV file imported as customers: the batch id ties every row to it for audit
    and undo. Progress is counted in rows; a run that stops resumes after the last
    committed row."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    file_path = models.CharField(max_length=500)
    file_name = models.CharField(max_length=255)
    # {csv column: field}; fields are listed in patron.integrations.imports.FIELDS.
    mapping = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    total_rows = models.PositiveIntegerField(default=0)
    # Rows done by the dry run and by the import; each run resumes after its own count.
    checked_rows = models.PositiveIntegerField(default=0)
    imported_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)  # {"dry_run": {...}, "import": {...}}
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[ImportBatch]" = merchant_scoped_manager()

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.file_name})"

    @property
    def running(self) -> bool:
        return self.status in {ImportStatus.CHECKING, ImportStatus.IMPORTING}

    def progress(self) -> int:
        """Percent of rows done by the current (or last) run."""
        if not self.total_rows:
            return 100 if self.status in {ImportStatus.CHECKED, ImportStatus.FINISHED} else 0
        done = (
            self.checked_rows
            if self.status in {ImportStatus.CHECKING, ImportStatus.CHECKED}
            else self.imported_rows
        )
        return min(100, done * 100 // self.total_rows)


class RowOutcome(models.TextChoices):
    CREATED = "created", pgettext_lazy("import row outcome", "Created")
    UPDATED = "updated", pgettext_lazy("import row outcome", "Updated")
    UNCHANGED = "unchanged", pgettext_lazy("import row outcome", "Unchanged")
    ERROR = "error", pgettext_lazy("import row outcome", "Error")


class ImportRow(models.Model):
    """The outcome of one row of a batch, in the dry run or in the import."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rows")
    dry_run = models.BooleanField(default=False)
    row_number = models.PositiveIntegerField()  # 1 is the first row after the header
    outcome = models.CharField(max_length=16, choices=RowOutcome.choices)
    message = models.CharField(max_length=500, blank=True, default="")
    # What `message` says, as a code and the values it quotes, so the staff app can say
    # it in the reader's language; `message` stays the English sentence.
    reason_code = models.CharField(max_length=40, blank=True, default="")
    reason_params = models.JSONField(default=dict, blank=True)
    # "ext:<id>" or "phone:<e164>": the contact this row is about, to spot duplicates.
    natural_key = models.CharField(max_length=200, blank=True, default="")
    # The row's phone in E.164: two rows with one phone are one contact, whatever ids.
    phone = models.CharField(max_length=20, blank=True, default="")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    points = models.IntegerField(default=0)

    objects: "models.Manager[ImportRow]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            # The idempotency key of a row: a resumed run never writes a row twice.
            models.UniqueConstraint(
                fields=["batch", "dry_run", "row_number"], name="import_row_once"
            )
        ]
        indexes = [
            models.Index(fields=["batch", "dry_run", "natural_key"], name="import_row_key"),
            models.Index(fields=["batch", "dry_run", "outcome"], name="import_row_outcome"),
            models.Index(fields=["merchant", "natural_key"], name="import_row_contact"),
            models.Index(fields=["batch", "dry_run", "phone"], name="import_row_phone"),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.outcome}"

    @property
    def reason(self) -> str:
        """`message` in the active language."""
        return row_reason(self.reason_code, self.reason_params, self.message)


class OrderSource(models.TextChoices):
    POS = "pos", pgettext_lazy("order source", "Point of sale")
    SHOPIFY = "shopify", pgettext_lazy("order source", "Shopify")


class OrderStatus(models.TextChoices):
    PAID = "paid", pgettext_lazy("order status", "Paid")
    PARTIALLY_REFUNDED = "partially_refunded", pgettext_lazy("order status", "Partially refunded")
    REFUNDED = "refunded", pgettext_lazy("order status", "Refunded")


class Order(models.Model):
    """An order from a POS or a store, once: what it earned and what refunds took back.

    Unique per source and external id, so a webhook or a POS call that arrives twice
    finds the order and gives no second set of points.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=OrderSource.choices)
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=100, blank=True, default="")  # e.g. "#1001"
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The member that earned, as a plain id: members outlive contacts (seed 004).
    member_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    # The amount points were earned on (paid, without shipping and tax as configured).
    eligible_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    points_earned = models.IntegerField(default=0)
    earn_entry_id = models.BigIntegerField(null=True, blank=True)
    refunded_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    points_reversed = models.IntegerField(default=0)
    refund_ids = models.JSONField(default=list, blank=True)
    discount_codes = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.PAID)
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Order]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source", "external_id"], name="order_once_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} order {self.name or self.external_id}"


class ShopifyStore(ActorFields):
    """A merchant's connected Shopify store.

    The Admin API access token and the webhook secret are write-only in the app: they
    are shown nowhere after they are saved (the page says only that one is set). They are
    sealed at rest (patron.lib.sealed), so a database dump or backup does not give
    anyone the store's admin access.
    """

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    shop_domain = models.CharField(max_length=255)  # e.g. "alpha.myshopify.com"
    access_token = SealedTextField()
    webhook_secret = SealedTextField()
    api_version = models.CharField(max_length=10, default="2025-01")
    # Points are earned on what was paid for goods: without shipping and tax by default.
    exclude_shipping = models.BooleanField(default=True)
    exclude_tax = models.BooleanField(default=True)
    sync_coupons = models.BooleanField(default=True)
    connected_at = models.DateTimeField(default=timezone.now)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_ok = models.BooleanField(null=True, blank=True)
    health_message = models.CharField(max_length=500, blank=True, default="")

    objects: "models.Manager[ShopifyStore]" = merchant_scoped_manager()

    def __str__(self) -> str:
        return self.shop_domain


class ShopifyWebhookReceipt(models.Model):
    """One incoming Shopify webhook, by its X-Shopify-Webhook-Id: a redelivery of the
    same id finds this row and is not processed again."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    webhook_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=64)
    status = models.CharField(max_length=16, default="processed")  # processed / ignored
    message = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[ShopifyWebhookReceipt]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "webhook_id"], name="shopify_webhook_once")
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id}"


class SyncAction(models.TextChoices):
    CREATE = "create", pgettext_lazy("store sync action", "Create")
    DELETE = "delete", pgettext_lazy("store sync action", "Delete")


class SyncStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("store sync status", "Pending")
    SENDING = "sending", pgettext_lazy("store sync status", "Sending")
    RETRYING = "retrying", pgettext_lazy("store sync status", "Retrying")
    SUCCEEDED = "succeeded", pgettext_lazy("store sync status", "Succeeded")
    FAILED = "failed", pgettext_lazy("store sync status", "Failed")
    CANCELLED = "cancelled", pgettext_lazy("store sync status", "Cancelled")


class CouponSync(models.Model):
    """One change of a coupon to make in the store: create its code or delete it.

    Kept until it succeeds: an outage of the store delays the sync, never loses it.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    coupon = models.ForeignKey(
        "coupons.Coupon", on_delete=models.CASCADE, related_name="shopify_syncs"
    )
    action = models.CharField(max_length=8, choices=SyncAction.choices)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # The store's id of the discount ("gid://shopify/DiscountCodeNode/..."), once created.
    shopify_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[CouponSync]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            # One create and one delete per coupon, whatever replays the event.
            models.UniqueConstraint(fields=["coupon", "action"], name="coupon_sync_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="coupon_sync_due")]

    def __str__(self) -> str:
        return f"{self.action} coupon {self.coupon_id}: {self.status}"
