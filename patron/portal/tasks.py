"""Periodic jobs of the customer page: they open each merchant's scope and call services."""

from datetime import datetime

from django.tasks import task
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.portal import services
from patron.portal.models import OneTimeCode
from patron.tenants.models import Merchant


@task()
def codes_purge() -> int:
    """Periodic: forget one-time codes (and the numbers and addresses on them) after a day."""
    cutoff: datetime = timezone.now() - services.CODE_RETENTION
    with scopes_disabled():
        ids = OneTimeCode.objects.filter(created_at__lt=cutoff).values("merchant_id").distinct()
        merchants = list(Merchant.objects.filter(pk__in=ids).order_by("pk"))
    purged = 0
    for merchant in merchants:
        with scope(merchant=merchant):
            purged += services.codes_purge(merchant=merchant)
    return purged
