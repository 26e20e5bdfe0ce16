"""Health and readiness for load balancers and orchestrators.

`/healthz` answers as long as the process serves requests. `/readyz` also checks what a
request needs: the database answers and has no unapplied migration, and (in RQ mode)
Redis answers. A node that is not ready gets 503 and is taken out of rotation.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ready() -> str | None:
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return "migrations pending"
    except Exception as error:  # any failure means "not ready", with the reason
        return f"database: {type(error).__name__}"
    return None


def _queue_ready() -> str | None:
    if settings.TASKS_BACKEND != "rq":
        return None
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except Exception as error:
        return f"redis: {type(error).__name__}"
    return None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    problems = [p for p in (_database_ready(), _queue_ready()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})
