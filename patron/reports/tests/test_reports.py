"""Rewards Leaderboard and Points Dashboard figures, with outsiders."""

import datetime

from django.utils import timezone
from django_scopes import scope

from patron.contacts.models import Contact
from patron.lib.actors import Actor
from patron.loyalty import services
from patron.loyalty.models import ExpiryPolicy, LedgerEntry, LoyaltyProgram, Member
from patron.loyalty.tests.factories import MemberFactory, TierFactory
from patron.rewards import services as reward_services
from patron.rewards.tests.factories import RewardFactory

ACTOR = Actor.system("test")


def world(trio):
    merchant = trio.merchant
    with scope(merchant=merchant):
        gold = TierFactory(merchant=merchant, name="Gold", threshold=300)
        top = MemberFactory(merchant=merchant)
        second = MemberFactory(merchant=merchant)
        excluded = MemberFactory(merchant=merchant)
        MemberFactory(merchant=merchant, status="not_activated")
        services.points_give(merchant=merchant, member=top, amount=500, actor=ACTOR)
        services.points_give(merchant=merchant, member=second, amount=200, actor=ACTOR)
        services.points_give(merchant=merchant, member=excluded, amount=900, actor=ACTOR)
        services.member_exclude(merchant=merchant, member=excluded, actor=ACTOR, reason="x")
        reward = RewardFactory(merchant=merchant, points_cost=100, value=20000)
        reward_services.reward_claim(merchant=merchant, member=top, reward=reward, actor=ACTOR)
        reward_services.redemption_manual(
            merchant=merchant, member=second, points=50, note="cake", actor=ACTOR
        )
    return top, second, gold


def test_leaderboard_ranks_members_and_leaves_out_excluded(trio):
    top, second, _ = world(trio)
    body = trio.api.get("/leaderboard", period="all").json()
    assert [(r["rank"], r["member_id"], r["points"]) for r in body["items"]] == [
        (1, str(top.pk), 500),
        (2, str(second.pk), 200),
    ]
    assert body["items"][0]["tier"] == "Gold"


def test_leaderboard_names_the_contact_only_while_it_holds_the_members_phone(trio):
    top, second, _ = world(trio)
    with scope(merchant=trio.merchant):
        Contact.objects.filter(pk=top.contact_id).update(first_name="Lan", last_name="Tran")
        # The second member's contact moved to another number: the membership stays.
        Contact.objects.filter(pk=second.contact_id).update(phone="+84909999999")
    items = trio.api.get("/leaderboard").json()["items"]
    assert (items[0]["name"], items[0]["contact_id"]) == ("Lan Tran", str(top.contact_id))
    assert (items[1]["name"], items[1]["contact_id"]) == ("", None)
    assert items[1]["phone"] == second.phone


def test_leaderboard_this_month_counts_only_this_months_earning(trio):
    top, second, _ = world(trio)
    with scope(merchant=trio.merchant):
        LedgerEntry.objects.filter(member=top).update(
            created_at=timezone.now() - datetime.timedelta(days=70)
        )
    body = trio.api.get("/leaderboard", period="month").json()
    assert [r["member_id"] for r in body["items"]] == [str(second.pk)]


def test_summary_figures(trio):
    world(trio)
    body = trio.api.get("/reports/summary").json()
    assert body["points_issued"] == 1600
    assert body["points_redeemed"] == 150
    assert body["points_expired"] == 0
    assert body["redemptions"] == 2
    assert body["redeemed_amount"] == "20000.00" or float(body["redeemed_amount"]) == 20000
    assert body["redeemed_by_kind"]["manual"]["points"] == 50
    assert body["members_by_status"] == {"not_activated": 1, "active": 2, "excluded": 1}
    assert body["members_by_tier"]["Gold"] == 2  # top, and the excluded member keeps it
    assert body["outstanding_points"] == 400 + 150 + 900


def test_summary_counts_expired_points_and_takes_a_date_range(trio):
    with scope(merchant=trio.merchant):
        LoyaltyProgram.objects.create(
            merchant=trio.merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=1
        )
        member = MemberFactory(merchant=trio.merchant)
        services.points_give(merchant=trio.merchant, member=member, amount=70, actor=ACTOR)
        services.lots_expire_due(
            merchant=trio.merchant, now=timezone.now() + datetime.timedelta(days=2)
        )
    assert trio.api.get("/reports/summary").json()["points_expired"] == 70
    old = trio.api.get("/reports/summary", start="2020-01-01", end="2020-12-31").json()
    assert (old["points_issued"], old["points_expired"]) == (0, 0)
    assert trio.api.get("/reports/summary", start="2021-01-01", end="2020-01-01").status_code == 422


def test_outsider_sees_none_of_the_figures(trio):
    world(trio)
    assert trio.outsider_api.get("/leaderboard").json()["items"] == []
    body = trio.outsider_api.get("/reports/summary").json()
    assert body["points_issued"] == 0
    assert body["outstanding_points"] == 0
    assert sum(body["members_by_status"].values()) == 0


def test_member_rank_matches_the_leaderboard_order_with_ties_to_the_older_member(trio):
    from patron.reports import selectors

    top, second, _ = world(trio)
    merchant = trio.merchant
    with scope(merchant=merchant):
        tied = MemberFactory(merchant=merchant)
        services.points_give(merchant=merchant, member=tied, amount=200, actor=ACTOR)
        board = selectors.leaderboard(merchant, limit=50)
        for row in board:
            member = Member.objects.get(pk=row.member_id)
            assert selectors.member_rank(merchant, member) == row.rank
        assert [row.member_id for row in board] == [top.pk, second.pk, tied.pk]
        others = Member.objects.exclude(pk__in=[top.pk, second.pk, tied.pk])
        # Excluded members and members who never earned are not on the board.
        assert [selectors.member_rank(merchant, m) for m in others] == [None, None]


def test_a_members_rank_is_read_through_the_api_and_never_across_merchants(trio):
    top, second, _ = world(trio)
    assert trio.api.get(f"/leaderboard/members/{second.pk}").json() == {
        "member_id": str(second.pk),
        "rank": 2,
        "points": 200,
    }
    with scope(merchant=trio.merchant):
        newcomer = MemberFactory(merchant=trio.merchant)
    assert trio.api.get(f"/leaderboard/members/{newcomer.pk}").json()["rank"] is None
    answer = trio.outsider_api.get(f"/leaderboard/members/{top.pk}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "member_not_found"
    assert trio.api.get("/leaderboard/members/nope").status_code == 404


def test_the_points_tab_shows_the_members_place_on_the_leaderboard(trio):
    from django.urls import reverse

    _top, second, _ = world(trio)
    client = trio.login(trio.alice)
    page = client.get(reverse("contacts:points", args=[second.contact_id])).content.decode()
    assert "Leaderboard rank" in page
    assert '<dd data-testid="rank">#2</dd>' in page
