"""Periodic upkeep of the reports app's tables."""

from django.tasks import task

from patron.reports import services


@task()
def rank_bands_compact() -> int:
    # Derived counts of every merchant, folded in one statement: no merchant scope.
    return services.rank_bands_compact()
