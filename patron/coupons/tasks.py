"""Background jobs of coupons: they open the merchant's scope and call services."""

from django.tasks import task
from django_scopes import scope

from patron.coupons import selectors, services
from patron.tenants.models import Merchant


@task()
def coupons_expire_due() -> int:
    """Periodic: mark available coupons past their expiry date as expired."""
    expired = 0
    for merchant in Merchant.objects.filter(pk__in=selectors.merchants_with_coupons_due()):
        with scope(merchant=merchant):
            expired += services.coupons_expire(merchant=merchant)
    return expired
