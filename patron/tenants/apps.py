from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "patron.tenants"
    label = "tenants"
    verbose_name = "Agencies, merchants and staff"

    def ready(self) -> None:
        # Once per `migrate`, after every app's migrations (sent for each app; this one's).
        post_migrate.connect(_planner_hints, sender=self, dispatch_uid="sqlite-planner-hints")


def _planner_hints(using: str, **kwargs: Any) -> None:
    from patron.lib.sqlite.hints import write_planner_hints

    write_planner_hints(connections[using])
