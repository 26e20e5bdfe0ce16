"""Background delivery. Tasks open the merchant's scope and call services, nothing more."""

from django.tasks import task
from django_scopes import scope, scopes_disabled

from patron.messaging import services
from patron.tenants.models import Merchant


@task()
def message_deliver_task(merchant_id: int, message_id: int) -> None:
    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        services.message_deliver(merchant=merchant, message_id=message_id)


@task()
def messages_deliver_task(merchant_id: int, message_ids: list[int]) -> None:
    """Deliver several of a merchant's messages, queued together (`deliveries_batched`)."""
    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        services.messages_deliver(merchant=merchant, message_ids=message_ids)


@task()
def messages_deliver_due() -> None:
    """Periodic: messages whose quiet hours or retry delay ended, or whose enqueue was lost,
    and messages whose worker died mid-send."""
    due = services.due_messages()
    stale = services.merchants_with_stale_claims()
    wanted = {merchant_id for merchant_id, _message_id in due} | set(stale)
    with scopes_disabled():
        merchants = Merchant.objects.in_bulk(wanted)
    for merchant_id, message_id in due:
        merchant = merchants[merchant_id]
        with scope(merchant=merchant):
            services.message_deliver(merchant=merchant, message_id=message_id)
    for merchant_id in stale:
        merchant = merchants[merchant_id]
        with scope(merchant=merchant):
            services.messages_fail_stale_claims(merchant=merchant)
