from django.db import models
from django.utils import timezone

from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed on retries."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects: "models.Manager[IdempotencyRecord]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key
