"""Periodic upkeep of the audit app's tables."""

from django.tasks import task

from patron.audit import ratelimit


@task()
def ratelimit_windows_prune() -> int:
    # Not tenant data (counters are keyed by API key), so no merchant scope to open.
    return ratelimit.windows_prune()
