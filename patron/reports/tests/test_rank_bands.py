"""The leaderboard's band counts follow every change to the members, whatever wrote it,
and one member's rank read from them is the rank of the full ordering."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.factories import MerchantFactory
from patron.lib.actors import Actor
from patron.lib.errors import PatronError
from patron.loyalty import services
from patron.loyalty.models import Member, MemberStatus
from patron.loyalty.tests.factories import MemberFactory
from patron.reports import selectors
from patron.reports.models import RankBand, band_of, band_sql, band_width
from patron.reports.services import rank_bands_compact
from patron.tenants.models import Merchant

ACTOR = Actor.system("test")


def on_board(merchant: Merchant) -> list[Member]:
    """The all-time leaderboard in full, computed the plain way."""
    with scopes_disabled():
        members = Member.objects.filter(
            merchant=merchant, deleted_at__isnull=True, points_lifetime__gt=0
        ).exclude(status=MemberStatus.EXCLUDED)
        return sorted(members, key=lambda m: (-m.points_lifetime, m.pk))


def recounted(merchant: Merchant) -> Counter[int]:
    return Counter(band_of(member.points_lifetime) for member in on_board(merchant))


def kept(merchant: Merchant) -> Counter[int]:
    counts: Counter[int] = Counter()
    with scopes_disabled():
        for band, delta in RankBand.objects.filter(merchant=merchant).values_list("band", "delta"):
            counts[band] += delta
    return +counts  # drops the bands that add up to zero


def assert_ranks_right(merchant: Merchant) -> None:
    assert kept(merchant) == recounted(merchant)
    with scope(merchant=merchant):
        for place, member in enumerate(on_board(merchant), start=1):
            assert selectors.member_rank(merchant, member) == place


def test_bands_in_sql_are_the_bands_in_python(db):
    values = [1, 2, 9, 99, 100, 101, 109, 110, 999, 1000, 1099, 1100, 99_999, 100_000]
    values += [*random.Random(3).sample(range(1, 2**31), 200), 2**31 - 1]
    with connection.cursor() as cursor:
        for value in values:
            cursor.execute(f"SELECT {band_sql('x')} FROM (SELECT %s AS x) t", [value])  # noqa: S608
            assert cursor.fetchone()[0] == band_of(value), value
            assert band_of(value) <= value < band_of(value) + band_width(value)
    assert [band_of(v) for v in (99, 100, 109, 110, 1234, 98_765)] == [
        99,
        100,
        100,
        110,
        1200,
        98_000,
    ]


def test_rank_band_triggers_are_installed(db):
    # A later migration that rebuilds loyalty_member on SQLite drops its triggers; this
    # is the test that says so (reports migration 0002).
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = 'loyalty_member'::regclass AND NOT tgisinternal"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                ["loyalty_member"],
            )
        names = {row[0] for row in cursor.fetchall()}
    assert {"rank_band_insert", "rank_band_update"} <= names


def change(merchant: Merchant, member: Member, action: str, amount: int) -> None:
    """One change to a member, through the services or straight through the ORM."""
    with scope(merchant=merchant):
        try:
            if action == "give":
                services.points_give(merchant=merchant, member=member, amount=amount, actor=ACTOR)
            elif action == "exclude":
                services.member_exclude(merchant=merchant, member=member, actor=ACTOR, reason="x")
        except PatronError:  # a deleted or excluded member earns nothing
            pass
        if action == "restore":
            Member.objects.filter(pk=member.pk).update(status=MemberStatus.ACTIVE, deleted_at=None)
        elif action == "delete":  # a soft delete, as member_delete writes it
            Member.objects.filter(pk=member.pk).update(deleted_at=timezone.now())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_and_ranks_follow_every_kind_of_change(trio, seed):
    merchant = trio.merchant
    rng = random.Random(seed)
    members = [MemberFactory(merchant=merchant) for _ in range(10)]
    MemberFactory(merchant=trio.other_merchant)  # an outsider's member never counts here
    for step in range(60):
        action = rng.choice(["give", "give", "give", "exclude", "restore", "delete"])
        change(merchant, rng.choice(members), action, rng.choice([1, 7, 90, 100, 950, 12_345]))
        if step % 15 == 14:
            rank_bands_compact()
        assert kept(merchant) == recounted(merchant), (seed, step, action)
    assert_ranks_right(merchant)
    rank_bands_compact()
    assert_ranks_right(merchant)


def test_bulk_writes_are_counted_too(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        Member.objects.bulk_create(
            Member(merchant=merchant, phone=f"+8490{i:07d}", points_lifetime=p, status="active")
            for i, p in enumerate([5, 5, 150, 155, 4_000, 0])
        )
        assert_ranks_right(merchant)
        Member.objects.filter(points_lifetime=5).update(points_lifetime=160)
        assert_ranks_right(merchant)
        Member.objects.filter(points_lifetime=155).update(deleted_at=timezone.now())
        assert_ranks_right(merchant)
    assert kept(merchant) == Counter({160: 2, 150: 1, 4_000: 1})


def test_compaction_leaves_one_row_a_band_and_forgets_deleted_merchants(trio):
    merchant = trio.merchant
    members = [MemberFactory(merchant=merchant) for _ in range(4)]
    with scope(merchant=merchant):
        for member in members:
            for amount in (3, 3, 200):
                services.points_give(merchant=merchant, member=member, amount=amount, actor=ACTOR)
        RankBand.objects.create(merchant=merchant, band=77, delta=1)
        RankBand.objects.create(merchant=merchant, band=77, delta=-1)
    gone = MerchantFactory(slug="gone")
    with scope(merchant=gone):
        RankBand.objects.create(merchant=gone, band=10, delta=3)
    gone.delete()
    before = kept(merchant)

    rank_bands_compact()

    with scopes_disabled():
        rows = list(RankBand.objects.values_list("merchant_id", "band", "delta"))
    assert sorted(rows) == sorted((merchant.pk, band, n) for band, n in before.items())
    assert before == recounted(merchant) == Counter({200: 4})
    assert_ranks_right(merchant)


@pytest.mark.django_db(transaction=True)  # migrations run outside the test's transaction
def test_the_migration_counts_the_members_already_on_the_board(trio):
    from django.core.management import call_command

    members = [MemberFactory(merchant=trio.merchant) for _ in range(3)]
    with scope(merchant=trio.merchant):
        for member, amount in zip(members, (5, 150, 150), strict=True):
            services.points_give(merchant=trio.merchant, member=member, amount=amount, actor=ACTOR)
    call_command("migrate", "reports", "0001", verbosity=0)
    call_command("migrate", "reports", verbosity=0)

    assert kept(trio.merchant) == recounted(trio.merchant) == Counter({5: 1, 150: 2})
    # And the triggers are back: the next change is counted.
    with scope(merchant=trio.merchant):
        services.points_give(merchant=trio.merchant, member=members[0], amount=1, actor=ACTOR)
    assert_ranks_right(trio.merchant)


@pytest.mark.django_db(transaction=True)  # PostgreSQL empties tables outside a transaction
def test_an_emptied_database_leaves_no_counts_behind(trio):
    from django.core.management import call_command

    member = MemberFactory(merchant=trio.merchant)
    with scope(merchant=trio.merchant):
        services.points_give(merchant=trio.merchant, member=member, amount=40, actor=ACTOR)
    assert kept(trio.merchant) == Counter({40: 1})
    call_command("flush", interactive=False, verbosity=0)
    with scopes_disabled():
        assert not RankBand.objects.exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_counts_hold_while_members_earn_and_two_workers_fold_at_once(trio):
    merchant = trio.merchant
    members = [MemberFactory(merchant=merchant) for _ in range(8)]
    earning = threading.Barrier(len(members) + 2)
    done = threading.Event()
    failures: list[BaseException] = []

    def earn(member: Member) -> None:
        try:
            earning.wait()
            with scope(merchant=merchant):
                for amount in [1, 9, 90, 900] * 10:
                    services.points_give(
                        merchant=merchant, member=member, amount=amount, actor=ACTOR
                    )
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)
        finally:
            connection.close()

    def fold() -> None:
        try:
            earning.wait()
            while not done.is_set():
                rank_bands_compact()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    earners = [threading.Thread(target=earn, args=(m,)) for m in members]
    folders = [threading.Thread(target=fold) for _ in range(2)]
    for thread in earners + folders:
        thread.start()
    for thread in earners:
        thread.join(timeout=120)
    done.set()
    for thread in folders:
        thread.join(timeout=60)

    assert failures == []
    assert sum(recounted(merchant).values()) == len(members)
    assert_ranks_right(merchant)
