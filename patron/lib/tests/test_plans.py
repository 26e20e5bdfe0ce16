"""The indexes the busiest lookups use, on PostgreSQL and on SQLite.

Each database can miss an index the other finds. PostgreSQL plans a prepared statement
once for any values, and such a plan cannot use a partial index unless the query states
its condition. SQLite keeps no statistics unless told to and uses a partial index only
when the query repeats its condition term for term; among indexes of one column each it
may take the merchant's, which on a one-merchant install holds every row. Either way the
lookup reads a whole table and gets slower as the table grows, with no error to see.
"""

import re
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django_scopes import scope

from patron.automations.models import Enrollment, StepRun
from patron.coupons.models import CouponEvent
from patron.lib.actors import Actor
from patron.lib.sql import any_row, first_row, rows
from patron.lib.sqlite.hints import planner_hints, write_planner_hints
from patron.loyalty import services
from patron.loyalty.models import LedgerEntry, Member, PointLot
from patron.loyalty.tests.factories import MemberFactory
from patron.rewards.models import Redemption

ACTOR = Actor.system("test")


def _statements(work: Callable[[], object]) -> list[tuple[str, list[object]]]:
    """The statements `work()` sends, as SQL with `%s` placeholders and their values."""
    sent: list[tuple[str, list[object]]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        work()
    return sent


def _plan(sql: str, params: list[object]) -> str:
    """The plan of `sql`: on PostgreSQL the one made once for any values, as for a
    statement prepared and run often enough (settings: prepare_threshold)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        numbered = iter(range(1, len(params) + 1))
        prepared = re.sub(r"%s", lambda _: f"${next(numbered)}", sql)
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE lookup AS {prepared}")
        values = ", ".join(["%s"] * len(params))
        cursor.execute(connection.ops.compose_sql(f"EXPLAIN EXECUTE lookup({values})", params))
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE lookup")
        return plan


@pytest.mark.parametrize(
    ("name", "lookup", "index"),
    [
        (
            "ledger row by key (lib.sql)",
            lambda m: first_row(LedgerEntry, {"merchant": m, "idempotency_key": "k"}),
            "ledger_idempotency_key_unique",
        ),
        (
            "ledger rows by keys (lib.sql)",
            lambda m: rows(LedgerEntry, {"merchant": m, "idempotency_key": ["k", "j"]}),
            "ledger_idempotency_key_unique",
        ),
        (
            "ledger key taken (lib.sql)",
            lambda m: any_row(LedgerEntry, {"merchant": m, "idempotency_key": "k"}),
            "ledger_idempotency_key_unique",
        ),
        (
            "redemption by key (lib.sql)",
            lambda m: first_row(Redemption, {"merchant": m, "idempotency_key": "k"}),
            "redemption_idempotency_key_unique",
        ),
        (
            "coupon event by key (lib.sql)",
            lambda m: first_row(CouponEvent, {"merchant": m, "idempotency_key": "k"}),
            "coupon_event_idempotency_key_unique",
        ),
        (
            "enrollment for an occasion (lib.sql)",
            lambda m: any_row(
                Enrollment,
                {"merchant": m, "workflow": 1, "contact": 1, "trigger_key": "k"},
            ),
            "enrollment_once_per_occasion",
        ),
    ],
)
def test_key_lookups_use_their_partial_unique_index(trio, name, lookup, index):
    """A unique index that holds only the rows with a key serves a lookup by key only if
    the query says the key is not empty, in the index's own words
    (lib.sql.unique_when_not_empty, lib.sql.not_empty)."""
    with scope(merchant=trio.merchant), transaction.atomic():
        ((sql, params),) = _statements(lambda: lookup(trio.merchant))
        assert index in _plan(sql, params), name


def test_giving_and_spending_points_read_the_members_lots_by_their_index(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant, status="active")
    with transaction.atomic():
        sent = _statements(
            lambda: (
                services.points_give(merchant=in_merchant, member=member, amount=50, actor=ACTOR),
                services.points_redeem_manual(
                    merchant=in_merchant, member=member, amount=20, note="test", actor=ACTOR
                ),
            )
        )
        table = f'FROM "{PointLot._meta.db_table}"'
        reads = [(sql, params) for sql, params in sent if sql.startswith("SELECT") and table in sql]
        assert len(reads) >= 2  # the give's and the spend's
        for sql, params in reads:
            assert "lot_spend_order" in _plan(sql, params), sql


sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL keeps statistics of its own"
)


@sqlite_only
@pytest.mark.parametrize(
    ("name", "lookup", "index"),
    [
        (
            "a contact's member",
            lambda m: list(Member.objects.filter(merchant=m, contact_id=1)),
            "loyalty_member_contact_id",
        ),
        (
            "an enrollment's step runs",
            lambda m: list(StepRun.objects.filter(merchant=m, enrollment_id=1)),
            "automations_steprun_enrollment_id",
        ),
        (
            "a member's ledger",
            lambda m: list(LedgerEntry.objects.filter(merchant=m, member_id=1)[:20]),
            "ledger_by_member",
        ),
    ],
)
def test_sqlite_does_not_read_a_whole_merchant_for_one_contacts_rows(trio, name, lookup, index):
    """With the hints `migrate` writes, an index that starts with the merchant is not
    taken where another column picks out a few rows (patron.lib.sqlite.hints)."""
    with scope(merchant=trio.merchant):
        ((sql, params),) = _statements(lambda: lookup(trio.merchant))
        assert index in _plan(sql, params), name


@sqlite_only
def test_the_hints_cover_each_merchant_index_once_and_leave_measured_ones_alone(trio):
    hints = planner_hints(connection)
    indexes = {index: stat for _table, index, stat in hints}
    assert indexes["member_by_status"] == "1000000 100000 10"
    assert indexes["member_phone_unique_per_merchant"] == "1000000 100000 1"  # unique
    assert not any(index.startswith("loyalty_member_contact_id") for index in indexes)
    measured = "SELECT stat FROM sqlite_stat1 WHERE idx = 'member_by_status'"
    change = "UPDATE sqlite_stat1 SET stat = %s WHERE idx = 'member_by_status'"
    with connection.cursor() as cursor:
        cursor.execute(change, ["500 5"])
        try:
            assert write_planner_hints(connection) == 0  # migrate wrote them all already
            cursor.execute(measured)
            assert cursor.fetchone() == ("500 5",)  # as if measured: kept
        finally:
            # The connection plans with what it last read (write_planner_hints reads
            # them again): later tests must not plan with these numbers.
            cursor.execute(change, [indexes["member_by_status"]])
            cursor.execute("ANALYZE sqlite_schema")
