"""Periodic jobs of the loyalty program: they open each merchant's scope and call services.

Each member is settled under its own row lock, so two workers running the same job at
once find nothing left to do for the members the other already handled.
"""

from django.tasks import task
from django_scopes import scope, scopes_disabled

from patron.loyalty import services
from patron.tenants.models import Merchant


@task()
def lots_activate_due() -> int:
    """Periodic: pending points whose return window ended become available."""
    touched = 0
    for merchant in services.merchants_with_due_lots():
        with scope(merchant=merchant):
            touched += services.lots_activate_due(merchant=merchant)
    return touched


@task()
def lots_expire_due() -> int:
    """Periodic: write off expired points with an `expire` ledger row."""
    touched = 0
    for merchant in services.merchants_with_due_lots():
        with scope(merchant=merchant):
            touched += services.lots_expire_due(merchant=merchant)
    return touched


@task()
def tiers_evaluate() -> int:
    """Periodic: the scheduled tier evaluation (the one that may lower tiers)."""
    with scopes_disabled():
        merchants = list(Merchant.objects.order_by("pk"))
    evaluated = 0
    for merchant in merchants:
        with scope(merchant=merchant):
            evaluated += services.tiers_evaluate_all(merchant=merchant)
    return evaluated


@task()
def birthday_bonuses_give() -> int:
    """Periodic: the program's birthday bonus, once a year per member."""
    with scopes_disabled():
        merchants = list(Merchant.objects.order_by("pk"))
    given = 0
    for merchant in merchants:
        with scope(merchant=merchant):
            given += services.birthday_bonuses_give(merchant=merchant)
    return given
