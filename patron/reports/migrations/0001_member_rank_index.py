"""An index for one member's place on the leaderboard (reports.selectors.member_rank).

Counting the members ahead of one reads this index alone (an index-only scan), where
the plain leaderboard index also visits every one of their rows. It lives here, with the
reports that need it, and is built without blocking writes on PostgreSQL.
"""

from django.db import migrations

CONDITION = "deleted_at IS NULL AND status <> 'excluded' AND points_lifetime > 0"
COLUMNS = "(merchant_id, points_lifetime DESC, id)"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS member_rank "
        f"ON loyalty_member {COLUMNS} WHERE {CONDITION}"
    )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.execute("DROP INDEX IF EXISTS member_rank")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("loyalty", "0002_point_category_archived")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
