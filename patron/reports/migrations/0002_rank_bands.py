"""Per-band member counts for the leaderboard rank, kept by triggers on the member table.

A member counts where the member_rank index (0001) holds it: not deleted, not excluded,
with lifetime points. Each trigger writes a row (band, +1) or (band, -1) when a member
enters or leaves a band (reports.models explains why rows are only inserted).

Inserts and updates are counted; removing a row is not. A member leaves the board by a
soft delete (member_delete) or an exclusion, both updates; a member with points is never
removed (its ledger rows protect it, and its merchant). Counting deletes as well would
leave rows behind when a database is emptied (`patron flush` may empty the count table
before the member table).

Triggers live outside Django's model state: on SQLite, a later migration that rebuilds
loyalty_member (an ALTER SQLite cannot do in place) drops them with the old table. Such a
migration must create them again (`create_triggers` below); the test
`test_rank_band_triggers_are_installed` fails until it does. The bands are those of
reports.models.band_sql; changing them needs a migration that recreates the triggers and
counts again.
"""

import django.db.models.deletion
from django.db import migrations, models

from patron.reports.models import band_sql

COUNTED = "{row}.deleted_at IS NULL AND {row}.status <> 'excluded' AND {row}.points_lifetime > 0"
TRIGGERS = ("rank_band_insert", "rank_band_update")
# Django writes every column on save(); only these decide a member's band.
WATCHED = "points_lifetime, status, deleted_at"


def counted(row: str) -> str:
    return COUNTED.format(row=row)


def band(row: str) -> str:
    return band_sql(f"{row}.points_lifetime")


def key(row: str) -> str:
    """The member's band, NULL when it is not on the board."""
    return f"(CASE WHEN {counted(row)} THEN {band(row)} END)"


def add(row: str, delta: int) -> str:
    return (
        "INSERT INTO reports_rankband (merchant_id, band, delta) "
        f"VALUES ({row}.merchant_id, {band(row)}, {delta})"
    )


def postgresql_sql() -> list[str]:
    # One function for both events; OLD is NULL on insert.
    function = f"""
        CREATE OR REPLACE FUNCTION rank_band_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {counted("OLD")} THEN {add("OLD", -1)}; END IF;
            IF {counted("NEW")} THEN {add("NEW", 1)}; END IF;
            RETURN NULL;
        END $$
    """
    run = "FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION rank_band_change()"
    return [
        function,
        "CREATE TRIGGER rank_band_insert AFTER INSERT ON loyalty_member "
        + run.format(condition=counted("NEW")),
        f"CREATE TRIGGER rank_band_update AFTER UPDATE OF {WATCHED} ON loyalty_member "
        + run.format(condition=f"{key('OLD')} IS DISTINCT FROM {key('NEW')}"),
    ]


def sqlite_sql() -> list[str]:
    def insert_if(row: str, delta: int) -> str:
        select = f"SELECT {row}.merchant_id, {band(row)}, {delta} WHERE {counted(row)}"
        return f"INSERT INTO reports_rankband (merchant_id, band, delta) {select};"

    return [
        "CREATE TRIGGER rank_band_insert AFTER INSERT ON loyalty_member "
        f"FOR EACH ROW WHEN {counted('NEW')} BEGIN {add('NEW', 1)}; END",
        f"CREATE TRIGGER rank_band_update AFTER UPDATE OF {WATCHED} ON loyalty_member "
        f"FOR EACH ROW WHEN {key('OLD')} IS NOT {key('NEW')} "
        f"BEGIN {insert_if('OLD', -1)} {insert_if('NEW', 1)} END",
    ]


def create_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    statements = postgresql_sql() if vendor == "postgresql" else sqlite_sql()
    for statement in statements:
        schema_editor.execute(statement)
    # The members already on the board, counted once. On PostgreSQL the trigger's lock
    # on loyalty_member, held to the end of this migration's transaction, keeps writers
    # out until then, so no change falls between the count and the triggers.
    schema_editor.execute(
        "INSERT INTO reports_rankband (merchant_id, band, delta) "
        f"SELECT merchant_id, {band('m')}, COUNT(*) FROM loyalty_member m "
        f"WHERE {counted('m')} GROUP BY merchant_id, {band('m')}"
    )


def drop_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    for name in TRIGGERS:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON loyalty_member")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS rank_band_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_member_rank_index"),
        ("tenants", "0001_initial"),
        ("loyalty", "0003_cancelled_order_reward_points_ledger_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="RankBand",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("band", models.IntegerField()),
                ("delta", models.IntegerField()),
                (
                    "merchant",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.merchant",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["merchant", "band"], name="rank_band_lookup")],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
