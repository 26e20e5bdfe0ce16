"""How many SQL statements the busiest API writes make, so that the count cannot
quietly grow back: each one is a round trip, and a claim makes them while it holds the
member's lock, so every statement there slows all other claims of that member."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from patron.lib.actors import Actor
from patron.loyalty import services
from patron.loyalty.models import LedgerEntry, Member
from patron.loyalty.tests.factories import MemberFactory
from patron.rewards.models import Redemption, Reward

# Counted on PostgreSQL and SQLite alike (test transactions make the request's own
# transaction a savepoint), for a request after a first one, so the API key's
# rate-limit window exists.
GIVE_POINTS_QUERIES = 21
CLAIM_QUERIES = 43


def _count(trio, path, body, key, django_capture_on_commit_callbacks):
    trio.api.post(path, body, headers={"Idempotency-Key": f"{key}-warm-up"})
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = trio.api.post(path, body, headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.content
    return len(queries.captured_queries), queries


def test_give_points_stays_within_its_query_count(trio, django_capture_on_commit_callbacks):
    member = MemberFactory(merchant=trio.merchant)
    count, queries = _count(
        trio,
        f"/members/{member.pk}/points",
        {"amount": 5, "reason": "visit"},
        "give",
        django_capture_on_commit_callbacks,
    )
    sql = "\n".join(q["sql"][:120] for q in queries.captured_queries)
    assert count <= GIVE_POINTS_QUERIES, sql
    with scope(merchant=trio.merchant):
        assert Member.objects.get(pk=member.pk).points_available == 10
        assert LedgerEntry.objects.filter(member=member).count() == 2


def _member_with_a_reward(trio):
    """A member with 100 points, and a 10-point reward that becomes a coupon."""
    member = MemberFactory(merchant=trio.merchant)
    with scope(merchant=trio.merchant):
        services.points_give(
            merchant=trio.merchant, member=member, amount=100, actor=Actor.system("test")
        )
        reward = Reward.objects.create(
            merchant=trio.merchant, name="Coffee", points_cost=10, kind="fixed_amount", value=5
        )
    return member, reward


def test_reward_claim_stays_within_its_query_count(trio, django_capture_on_commit_callbacks):
    member, reward = _member_with_a_reward(trio)
    count, queries = _count(
        trio,
        f"/members/{member.pk}/redemptions",
        {"reward_id": str(reward.pk)},
        "claim",
        django_capture_on_commit_callbacks,
    )
    sql = "\n".join(q["sql"][:120] for q in queries.captured_queries)
    assert count <= CLAIM_QUERIES, sql
    with scope(merchant=trio.merchant):
        assert Member.objects.get(pk=member.pk).points_available == 80
        assert Redemption.objects.filter(member=member).count() == 2


def test_a_claim_writes_little_while_it_holds_the_member_lock(trio):
    # Every other claim of the member waits for this lock, so what runs under it bounds
    # how many claims of one member go through a second: the coupon comes before it.
    member, reward = _member_with_a_reward(trio)
    path = f"/members/{member.pk}/redemptions"
    trio.api.post(path, {"reward_id": str(reward.pk)}, headers={"Idempotency-Key": "warm-up"})
    with CaptureQueriesContext(connection) as queries:
        response = trio.api.post(
            path, {"reward_id": str(reward.pk)}, headers={"Idempotency-Key": "k"}
        )
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    # The lock: the last read of the member (the fixed SQL of loyalty.services._lock;
    # the API read it before, unlocked).
    lock = max(i for i, sql in enumerate(statements) if 'FROM "loyalty_member" t' in sql)
    under_lock = statements[lock:]
    text = "\n".join(sql[:120] for sql in under_lock)
    assert len(under_lock) <= 14, text
    assert not any(sql.startswith('INSERT INTO "coupons_') for sql in under_lock), text
