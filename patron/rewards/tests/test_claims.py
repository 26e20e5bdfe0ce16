"""Claiming rewards: points out and coupon in, together or not at all."""

import datetime

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope

from patron.coupons.models import Coupon
from patron.lib.actors import Actor
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerEntry, Member
from patron.loyalty.tests.factories import MemberFactory
from patron.rewards import selectors, services
from patron.rewards.models import Redemption, Reward
from patron.rewards.tests.factories import RewardFactory

ACTOR = Actor.system("test")


def funded(merchant, points):
    member = MemberFactory(merchant=merchant)
    if points:
        loyalty_services.points_give(merchant=merchant, member=member, amount=points, actor=ACTOR)
    member.refresh_from_db()
    return member


def test_claim_takes_points_and_issues_a_loyalty_coupon(trio, in_merchant):
    member = funded(in_merchant, 250)
    reward = RewardFactory(
        merchant=in_merchant, name="50k off", points_cost=100, coupon_label="Rewards Coupon"
    )
    redemption = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR
    )
    coupon = redemption.coupon
    assert coupon is not None
    assert (coupon.label, coupon.type, coupon.earning_method, coupon.points_paid) == (
        "Rewards Coupon",
        "fixed_amount",
        "loyalty",
        100,
    )
    assert coupon.member_id == member.pk
    assert coupon.contact_id == member.contact_id
    member.refresh_from_db()
    assert member.points_available == 150
    assert redemption.entry.kind == "redeem"
    assert redemption.entry.source == "reward"


def test_free_product_reward_issues_a_full_discount_on_that_product(trio, in_merchant):
    member = funded(in_merchant, 100)
    reward = RewardFactory(
        merchant=in_merchant, kind="free_product", value=0, product_ids=["sku-1"]
    )
    coupon = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR
    ).coupon
    assert (coupon.type, coupon.value) == ("percentage", 100)
    assert coupon.applies_to == {"kind": "products", "ids": ["sku-1"]}


def test_custom_reward_issues_no_coupon(trio, in_merchant):
    member = funded(in_merchant, 100)
    reward = RewardFactory(merchant=in_merchant, kind="custom", value=0)
    redemption = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR
    )
    assert redemption.coupon is None
    assert redemption.points == 100


def test_claim_refused_without_enough_points_writes_nothing(trio, in_merchant):
    member = funded(in_merchant, 99)
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    with pytest.raises(loyalty_services.InsufficientPoints):
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    assert Coupon.objects.filter(merchant=in_merchant).count() == 0
    assert Redemption.objects.count() == 0


def test_claim_that_cannot_issue_the_coupon_keeps_the_points(trio, in_merchant):
    """Neither half without the other: a detached member has no contact for a coupon.

    The caller's copy of the member still names its old contact, as a claim's would if
    the phone moved on while it ran: the coupon is issued to that contact before the
    member's lock, and the locked row, which has none, refuses and rolls it back."""
    from django.db import transaction

    member = funded(in_merchant, 300)
    Member.objects.filter(pk=member.pk).update(contact=None)
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    with pytest.raises(services.MemberHasNoContact), transaction.atomic():
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    member.refresh_from_db()
    assert member.points_available == 300
    assert LedgerEntry.objects.filter(member=member, kind="redeem").count() == 0
    assert not Coupon.objects.filter(member_id=member.pk).exists()
    assert not Redemption.objects.filter(member=member).exists()


def test_not_activated_member_cannot_claim(trio, in_merchant):
    member = funded(in_merchant, 300)
    Member.objects.filter(pk=member.pk).update(status="not_activated")
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    with pytest.raises(loyalty_services.MemberNotActive):
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)


def test_stock_is_decremented_and_runs_out(trio, in_merchant):
    member = funded(in_merchant, 500)
    reward = RewardFactory(merchant=in_merchant, points_cost=100, stock=1)
    services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    reward.refresh_from_db()
    assert reward.stock == 0
    with pytest.raises(services.RewardOutOfStock) as caught:
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    assert caught.value.code == "reward_out_of_stock"
    member.refresh_from_db()
    assert member.points_available == 400


def test_reward_outside_its_window_is_not_available(trio, in_merchant):
    member = funded(in_merchant, 500)
    reward = RewardFactory(
        merchant=in_merchant, ends_at=timezone.now() - datetime.timedelta(days=1)
    )
    with pytest.raises(services.RewardNotAvailable):
        services.reward_claim(merchant=in_merchant, member=member, reward=reward, actor=ACTOR)
    assert selectors.redeemable_rewards(in_merchant, member) == []


def test_redeemable_rewards_are_the_ones_the_balance_affords(trio, in_merchant):
    member = funded(in_merchant, 150)
    cheap = RewardFactory(merchant=in_merchant, points_cost=100)
    RewardFactory(merchant=in_merchant, points_cost=200)
    RewardFactory(merchant=in_merchant, points_cost=50, is_active=False)
    RewardFactory(merchant=in_merchant, points_cost=50, stock=0)
    assert selectors.redeemable_rewards(in_merchant, member) == [cheap]
    Member.objects.filter(pk=member.pk).update(status="excluded")
    member.refresh_from_db()
    assert selectors.redeemable_rewards(in_merchant, member) == []


def test_claim_with_same_idempotency_key_writes_once(trio, in_merchant):
    member = funded(in_merchant, 500)
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    first = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR, idempotency_key="c1"
    )
    again = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR, idempotency_key="c1"
    )
    assert first.pk == again.pk
    assert first.coupon_id == again.coupon_id
    member.refresh_from_db()
    assert member.points_available == 400


def test_a_keyed_claim_that_issues_its_coupon_now_looks_for_an_earlier_claim_once(
    trio, in_merchant
):
    """A coupon inserted under the claim's key means no claim with that key committed."""
    member = funded(in_merchant, 500)
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    with CaptureQueriesContext(connection) as statements:
        services.reward_claim(
            merchant=in_merchant, member=member, reward=reward, actor=ACTOR, idempotency_key="c2"
        )
    table = Redemption._meta.db_table
    looks = [s["sql"] for s in statements if s["sql"].startswith("SELECT") and table in s["sql"]]
    assert len(looks) == 1


def test_a_claim_charges_the_reward_as_it_is_now_not_the_callers_copy(trio, in_merchant):
    member = funded(in_merchant, 500)
    reward = RewardFactory(merchant=in_merchant, points_cost=100)
    Reward.objects.filter(pk=reward.pk).update(points_cost=150)  # edited meanwhile
    redemption = services.reward_claim(
        merchant=in_merchant, member=member, reward=reward, actor=ACTOR
    )
    assert redemption.points == 150
    assert Member.objects.get(pk=member.pk).points_available == 350


def test_api_claim_and_idempotent_retry(trio):
    with scope(merchant=trio.merchant):
        member = funded(trio.merchant, 300)
    reward = RewardFactory(merchant=trio.merchant, points_cost=100, name="Free coffee")
    headers = {"Idempotency-Key": "claim-1"}
    path = f"/members/{member.pk}/redemptions"
    first = trio.api.post(path, {"reward_id": str(reward.pk)}, headers=headers)
    again = trio.api.post(path, {"reward_id": str(reward.pk)}, headers=headers)
    assert first.status_code == again.status_code == 201, first.content
    assert first.json() == again.json()
    body = first.json()
    assert body["reward_id"] == str(reward.pk)
    assert body["points"] == 100
    assert body["coupon"]["code"]
    assert body["member_points"]["available"] == 200
    with scope(merchant=trio.merchant):
        assert Redemption.objects.count() == 1
        assert Coupon.objects.count() == 1
        total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"]
        assert total == 200


@pytest.mark.parametrize("which", ["other merchant's", "unknown", "not a number"])
def test_api_claim_of_a_reward_that_is_not_the_merchants_is_404_and_writes_nothing(trio, which):
    """The API hands the claim the reward's id unread; the claim's own read decides."""
    with scope(merchant=trio.merchant):
        member = funded(trio.merchant, 300)
    theirs = RewardFactory(merchant=trio.other_merchant, points_cost=100)
    reward_id = {"other merchant's": str(theirs.pk), "unknown": "999999", "not a number": "x"}
    response = trio.api.post(
        f"/members/{member.pk}/redemptions",
        {"reward_id": reward_id[which]},
        headers={"Idempotency-Key": f"claim-{which}"},
    )
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "reward_not_found"
    with scope(merchant=trio.merchant):
        assert not Redemption.objects.exists()
        assert not Coupon.objects.exists()
        assert Member.objects.get(pk=member.pk).points_available == 300


def test_a_claim_takes_the_longest_key_the_api_accepts(trio):
    """Its coupon and ledger row add `claim:` to the key; a key that would not fit then
    gives them a digest of itself (lib.keys), and a retry finds the same rows."""
    with scope(merchant=trio.merchant):
        member = funded(trio.merchant, 300)
    reward = RewardFactory(merchant=trio.merchant, points_cost=100)
    key = "k" * 255
    path = f"/members/{member.pk}/redemptions"
    response = trio.api.post(path, {"reward_id": str(reward.pk)}, headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.content
    with scope(merchant=trio.merchant):
        again = services.reward_claim(
            merchant=trio.merchant, member=member, reward=reward, actor=ACTOR, idempotency_key=key
        )
        assert str(again.pk) == response.json()["id"]
        assert Redemption.objects.get().idempotency_key == key
        (coupon,) = Coupon.objects.all()
        assert coupon.idempotency_key.startswith("claim:#") and len(coupon.idempotency_key) < 80
        assert Member.objects.get(pk=member.pk).points_available == 200


def test_a_manual_redemption_retried_with_the_longest_key_writes_once(trio, in_merchant):
    member = funded(in_merchant, 300)
    key = "m" * 255  # its ledger row's `manual:<key>` would not fit: a digest stands in

    def redeem():  # type: ignore[no-untyped-def]
        return services.redemption_manual(
            merchant=in_merchant,
            member=member,
            points=40,
            note="Cake",
            actor=ACTOR,
            idempotency_key=key,
        )

    first, again = redeem(), redeem()
    assert first.pk == again.pk
    assert first.entry.idempotency_key.startswith("manual:#")
    assert Member.objects.get(pk=member.pk).points_available == 260


def test_api_redeemable_rewards_and_catalog(trio):
    with scope(merchant=trio.merchant):
        member = funded(trio.merchant, 120)
    created = trio.api.post(
        "/rewards",
        {"name": "10% off", "kind": "percentage", "value": "10", "points_cost": 100},
    )
    assert created.status_code == 201, created.content
    trio.api.post("/rewards", {"name": "Big", "kind": "custom", "points_cost": 1000})
    assert len(trio.api.get("/rewards").json()["items"]) == 2
    body = trio.api.get(f"/members/{member.pk}/redeemable-rewards").json()
    assert [r["name"] for r in body["items"]] == ["10% off"]
    assert (
        trio.api.post(
            "/rewards", {"name": "Bad", "kind": "percentage", "value": "150", "points_cost": 5}
        ).status_code
        == 422
    )


def test_outsider_cannot_claim_another_merchants_reward(trio):
    with scope(merchant=trio.other_merchant):
        own = funded(trio.other_merchant, 500)
    reward = RewardFactory(merchant=trio.merchant, points_cost=100)
    response = trio.outsider_api.post(
        f"/members/{own.pk}/redemptions", {"reward_id": str(reward.pk)}
    )
    assert response.status_code == 404
    assert trio.outsider_api.get("/rewards").json()["items"] == []
    with scope(merchant=trio.other_merchant):
        own.refresh_from_db()
        assert own.points_available == 500
