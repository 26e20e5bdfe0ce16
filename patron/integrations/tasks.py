"""Background jobs of integrations: they open the merchant's scope and call services."""

from django.tasks import task
from django_scopes import scope

from patron.integrations import services
from patron.tenants.models import Merchant


@task()
def webhook_deliver(merchant_id: int, delivery_id: int) -> None:
    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        services.delivery_send(merchant=merchant, delivery_id=delivery_id)


@task()
def webhooks_retry_due() -> int:
    """Periodic: send deliveries whose deferred job was lost or never scheduled."""
    return services.deliveries_send_due()


@task()
def import_run_task(merchant_id: int, batch_id: int) -> None:
    from patron.integrations import imports

    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        imports.import_run(merchant=merchant, batch_id=batch_id)


@task()
def imports_resume() -> int:
    """Periodic: resume the import runs whose job was lost."""
    from patron.integrations import imports

    return imports.imports_resume()


@task()
def coupon_sync_run(merchant_id: int, sync_id: int) -> None:
    from patron.integrations.shopify import services as shopify

    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        shopify.coupon_sync_send(merchant=merchant, sync_id=sync_id)


@task()
def coupon_syncs_due() -> int:
    """Periodic: send the coupon syncs whose deferred job was lost or is due."""
    from patron.integrations.shopify import services as shopify

    return shopify.coupon_syncs_send_due()
