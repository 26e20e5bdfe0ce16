"""Real threads against one database: the balance holds whatever runs at the same time.

On SQLite the IMMEDIATE transactions serialize writers, so these pass trivially there;
on PostgreSQL they exercise the member row lock (`select_for_update`) of the services.
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django_scopes import scope, scopes_disabled

from patron.coupons.models import Coupon
from patron.lib.actors import Actor
from patron.lib.errors import PatronError
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerEntry, Member, PointLot
from patron.loyalty.tests.factories import MemberFactory
from patron.rewards import services
from patron.rewards.models import Redemption
from patron.rewards.tests.factories import RewardFactory

ACTOR = Actor.system("test")


def run_at_once(count: int, merchant: Any, work: Callable[[int], Any]) -> Counter[str]:
    """Start `count` threads together; count their outcomes ("ok" or an error code)."""
    barrier = threading.Barrier(count)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def body(index: int) -> None:
        try:
            barrier.wait()
            with scope(merchant=merchant):
                work(index)
            outcome = "ok"
        except PatronError as exc:
            outcome = exc.code
        except Exception as exc:
            outcome = f"crash: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def assert_consistent(member: Member) -> None:
    with scopes_disabled():
        member.refresh_from_db()
        total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"] or 0
        lots = PointLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
    assert member.points_available >= 0
    assert member.points_available + member.points_pending == total == lots


def five_claims_worth(trio: Any) -> tuple[Member, Any]:
    """A member with 500 points and a reward of 100."""
    with scope(merchant=trio.merchant):
        member = MemberFactory(merchant=trio.merchant)
        loyalty_services.points_give(merchant=trio.merchant, member=member, amount=500, actor=ACTOR)
    return member, RewardFactory(merchant=trio.merchant, points_cost=100)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_claims_on_a_balance_for_five_give_exactly_five(trio):
    member, reward = five_claims_worth(trio)

    outcomes = run_at_once(
        50,
        trio.merchant,
        lambda i: services.reward_claim(
            merchant=trio.merchant, member=member, reward=reward, actor=ACTOR
        ),
    )

    assert outcomes == Counter({"ok": 5, "insufficient_points": 45})
    assert_consistent(member)
    assert member.points_available == 0
    with scopes_disabled():
        assert Redemption.objects.filter(member=member).count() == 5
        assert Coupon.objects.filter(member_id=member.pk).count() == 5


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["fixed_amount", "custom"])
def test_one_claim_sent_ten_times_at_once_writes_once(trio, kind):
    # A reward with a coupon: the coupon is issued before the member's lock is taken, and
    # the copies of the claim meet first on the coupon's key, then find the first copy's
    # redemption. A custom reward has no coupon: the copies meet on the member's lock.
    member, reward = five_claims_worth(trio)
    reward.kind = kind
    reward.save(update_fields=["kind"])
    answers: list[int] = []

    def claim(index: int) -> None:
        redemption = services.reward_claim(
            merchant=trio.merchant, member=member, reward=reward, actor=ACTOR, idempotency_key="k1"
        )
        answers.append(redemption.pk)

    outcomes = run_at_once(10, trio.merchant, claim)

    assert outcomes == Counter({"ok": 10})
    assert len(set(answers)) == 1
    assert_consistent(member)
    assert member.points_available == 400
    with scopes_disabled():
        assert Redemption.objects.filter(member=member).count() == 1
        assert Coupon.objects.filter(member_id=member.pk).count() == (kind != "custom")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_claims_of_the_last_unit_of_stock_give_one(trio):
    with scope(merchant=trio.merchant):
        members = [MemberFactory(merchant=trio.merchant) for _ in range(10)]
        for member in members:
            loyalty_services.points_give(
                merchant=trio.merchant, member=member, amount=100, actor=ACTOR
            )
    reward = RewardFactory(merchant=trio.merchant, points_cost=100, stock=1)

    outcomes = run_at_once(
        10,
        trio.merchant,
        lambda i: services.reward_claim(
            merchant=trio.merchant, member=members[i], reward=reward, actor=ACTOR
        ),
    )

    assert outcomes == Counter({"ok": 1, "reward_out_of_stock": 9})
    for member in members:
        assert_consistent(member)
    reward.refresh_from_db()
    assert reward.stock == 0


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_opposite_transfers_at_once_neither_deadlock_nor_lose_points(trio):
    with scope(merchant=trio.merchant):
        first = MemberFactory(merchant=trio.merchant)
        second = MemberFactory(merchant=trio.merchant)
        for member in (first, second):
            loyalty_services.points_give(
                merchant=trio.merchant, member=member, amount=100, actor=ACTOR
            )

    def move(index: int) -> None:
        source, target = (first, second) if index % 2 else (second, first)
        loyalty_services.points_transfer(
            merchant=trio.merchant,
            source=source,
            target=target,
            amount=10,
            actor=ACTOR,
            reason="back and forth",
        )

    outcomes = run_at_once(20, trio.merchant, move)

    assert outcomes["ok"] + outcomes["insufficient_points"] == 20
    assert_consistent(first)
    assert_consistent(second)
    assert first.points_available + second.points_available == 200


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_give_retried_at_once_writes_once(trio):
    with scope(merchant=trio.merchant):
        member = MemberFactory(merchant=trio.merchant)

    outcomes = run_at_once(
        10,
        trio.merchant,
        lambda i: loyalty_services.points_give(
            merchant=trio.merchant, member=member, amount=7, actor=ACTOR, idempotency_key="same"
        ),
    )

    assert outcomes == Counter({"ok": 10})
    assert_consistent(member)
    assert member.points_available == 7
