"""The loyalty API: members, points, categories and tiers, with outsiders."""

import pytest
from django_scopes import scope

from patron.lib.actors import Actor
from patron.loyalty import services
from patron.loyalty.models import LedgerEntry, Member
from patron.loyalty.tests.factories import MemberFactory, PointCategoryFactory, TierFactory

ACTOR = Actor.system("test")


@pytest.fixture
def member(trio):
    return MemberFactory(merchant=trio.merchant)


def give(trio, member, amount, **extra):
    return trio.api.post(f"/members/{member.pk}/points", {"amount": amount, **extra})


def test_give_points_answers_the_transaction(trio, member):
    category = PointCategoryFactory(merchant=trio.merchant, name="Review")
    response = give(trio, member, 25, category_id=str(category.pk), reason="Left a review")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "earn"
    assert body["amount"] == 25
    assert body["category"] == "Review"
    assert body["source"] == "api"
    assert isinstance(body["id"], str)
    member_body = trio.api.get(f"/members/{member.pk}").json()
    assert member_body["points"] == {"available": 25, "pending": 0, "lifetime": 25}


def test_give_points_retry_with_idempotency_key_writes_once(trio, member):
    headers = {"Idempotency-Key": "give-1"}
    first = trio.api.post(f"/members/{member.pk}/points", {"amount": 10}, headers=headers)
    again = trio.api.post(f"/members/{member.pk}/points", {"amount": 10}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    with scope(merchant=trio.merchant):
        assert LedgerEntry.objects.filter(member=member).count() == 1
        assert Member.objects.get(pk=member.pk).points_available == 10


def test_not_activated_member_is_refused_points(trio):
    member = MemberFactory(merchant=trio.merchant, status="not_activated")
    response = give(trio, member, 10)
    assert response.status_code == 409
    assert response.json()["code"] == "member_not_active"


def test_overspending_answers_insufficient_points(trio, member):
    give(trio, member, 10)
    response = trio.api.post(
        f"/members/{member.pk}/redemptions", {"points": 11, "note": "Too much"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"


def test_manual_redemption_with_note(trio, member):
    give(trio, member, 100)
    response = trio.api.post(
        f"/members/{member.pk}/redemptions", {"points": 40, "note": "Free cake"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points"], body["note"], body["reward_id"], body["coupon"]) == (
        40,
        "Free cake",
        None,
        None,
    )
    assert body["member_points"]["available"] == 60


def test_redemption_needs_reward_or_points(trio, member):
    response = trio.api.post(f"/members/{member.pk}/redemptions", {"note": "x"})
    assert response.status_code == 422


def test_members_listed_by_status(trio):
    active = MemberFactory(merchant=trio.merchant)
    excluded = MemberFactory(merchant=trio.merchant, status="excluded")
    MemberFactory(merchant=trio.other_merchant)
    body = trio.api.get("/members", status="excluded").json()
    assert [m["id"] for m in body["items"]] == [str(excluded.pk)]
    everyone = trio.api.get("/members").json()
    assert {m["id"] for m in everyone["items"]} == {str(active.pk), str(excluded.pk)}
    assert "next_cursor" in everyone


def test_activate_and_exclude_through_the_api(trio):
    member = MemberFactory(merchant=trio.merchant, status="not_activated")
    response = trio.api.post(f"/members/{member.pk}/activate", {"reason": "Asked at till"})
    assert response.json()["status"] == "active"
    response = trio.api.post(f"/members/{member.pk}/exclude", {"reason": "Abuse"})
    assert response.json()["status"] == "excluded"
    assert response.json()["status_reason"] == "Abuse"
    assert trio.api.post(f"/members/{member.pk}/exclude", {}).status_code == 422


def test_adjustment_and_manual_tier(trio, member):
    gold = TierFactory(merchant=trio.merchant, name="Gold", threshold=5000)
    response = trio.api.post(
        f"/members/{member.pk}/adjustments",
        {"amount": 300, "reason": "Moved from old card", "set_tier": True, "tier_id": str(gold.pk)},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["transaction"]["kind"] == "adjust"
    assert body["member"]["tier"] == "Gold"
    assert body["member"]["tier_manual"] is True
    assert body["member"]["points"]["available"] == 300


def test_transfer_writes_rows_on_both_sides(trio, member):
    other = MemberFactory(merchant=trio.merchant, status="not_activated")
    give(trio, member, 100)
    response = trio.api.post(
        f"/members/{member.pk}/transfers",
        {"to_member_id": str(other.pk), "amount": 100, "reason": "New phone"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outgoing"]["amount"] == -100
    assert body["incoming"]["amount"] == 100
    rows = trio.api.get(f"/members/{other.pk}/transactions").json()["items"]
    assert [(r["kind"], r["amount"], r["reason"]) for r in rows] == [("transfer", 100, "New phone")]


def test_categories_and_tiers_create_and_list(trio):
    response = trio.api.post("/point-categories", {"name": "Visit", "color": "#10b981"})
    assert response.status_code == 201
    assert trio.api.post("/point-categories", {"name": "Visit"}).json()["code"] == "name_taken"
    names = [c["name"] for c in trio.api.get("/point-categories").json()["items"]]
    assert "Visit" in names
    response = trio.api.post(
        "/tiers", {"name": "Silver", "threshold": 100, "earn_multiplier": "1.25"}
    )
    assert response.status_code == 201, response.content
    assert trio.api.get("/tiers").json()["items"][0]["name"] == "Silver"
    assert trio.outsider_api.get("/tiers").json()["items"] == []
    assert "Visit" not in [
        c["name"] for c in trio.outsider_api.get("/point-categories").json()["items"]
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/members/{id}", None),
        ("get", "/members/{id}/transactions", None),
        ("post", "/members/{id}/points", {"amount": 5}),
        ("post", "/members/{id}/adjustments", {"amount": 5, "reason": "x"}),
        ("post", "/members/{id}/activate", {}),
        ("post", "/members/{id}/exclude", {"reason": "x"}),
        ("post", "/members/{id}/redemptions", {"points": 1, "note": "x"}),
        ("get", "/members/{id}/redeemable-rewards", None),
        ("delete", "/members/{id}", None),
    ],
)
def test_outsider_gets_404_for_another_merchants_member(trio, member, method, path, body):
    url = path.format(id=member.pk)
    client = trio.outsider_api
    response = client.get(url) if method == "get" else getattr(client, method)(url, body)
    assert response.status_code == 404
    with scope(merchant=trio.merchant):
        assert LedgerEntry.objects.filter(member=member).count() == 0
        assert Member.objects.get(pk=member.pk).status == "active"


def test_outsider_cannot_transfer_into_another_merchants_member(trio, member):
    with scope(merchant=trio.other_merchant):
        own = MemberFactory(merchant=trio.other_merchant)
        services.points_give(merchant=trio.other_merchant, member=own, amount=10, actor=ACTOR)
    response = trio.outsider_api.post(
        f"/members/{own.pk}/transfers",
        {"to_member_id": str(member.pk), "amount": 10, "reason": "steal"},
    )
    assert response.status_code == 404


def test_outsider_cannot_read_contact_member(trio, member):
    assert trio.outsider_api.get(f"/contacts/{member.contact_id}/member").status_code == 404
    assert trio.api.get(f"/contacts/{member.contact_id}/member").status_code == 200


def test_seed_004_phone_change_and_delete_member_end_to_end(trio):
    """Customer A, 0980.000.000, 1000 points and Diamond, changes to 0980.000.001."""
    diamond = TierFactory(merchant=trio.merchant, name="Diamond", threshold=1000)
    # A POS customer with a phone becomes a not-activated member.
    created = trio.api.post("/contacts", {"first_name": "A", "phone": "0980.000.000"}).json()
    with scope(merchant=trio.merchant):
        from patron.contacts.models import Contact

        Contact.objects.filter(pk=created["id"]).update(source="pos")
        contact = Contact.objects.get(pk=created["id"])
        services.member_ensure(merchant=trio.merchant, contact=contact, actor=ACTOR)
    member = trio.api.get(f"/contacts/{created['id']}/member").json()
    assert (member["phone"], member["status"]) == ("+84980000000", "not_activated")
    trio.api.post(f"/members/{member['id']}/activate", {"reason": "Joined"})
    assert trio.api.post(f"/members/{member['id']}/points", {"amount": 1000}).status_code == 201
    old = trio.api.get(f"/members/{member['id']}").json()
    assert (old["tier"], old["points"]["available"]) == ("Diamond", 1000)

    # Deleting the member while the contact holds the phone is refused.
    refused = trio.api.delete(f"/members/{member['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "member_still_linked"
    assert "Remove from program" in refused.json()["detail"]

    # The phone changes: the old member stays, detached, with its points and tier.
    trio.api.patch(f"/contacts/{created['id']}", {"phone": "0980.000.001"})
    old = trio.api.get(f"/members/{member['id']}").json()
    assert (old["contact_id"], old["phone"], old["tier"], old["points"]["available"]) == (
        None,
        "+84980000000",
        "Diamond",
        1000,
    )
    new = trio.api.get(f"/contacts/{created['id']}/member").json()
    assert new["id"] != old["id"]
    assert (new["phone"], new["status"], new["tier"]) == ("+84980000001", "not_activated", None)
    assert new["points"] == {"available": 0, "pending": 0, "lifetime": 0}

    # Staff move points and tier on purpose ("Adjust points and tier").
    moved = trio.api.post(
        f"/members/{old['id']}/transfers",
        {
            "to_member_id": new["id"],
            "amount": 1000,
            "reason": "Customer changed phone",
            "move_tier": True,
        },
    )
    assert moved.status_code == 201, moved.content
    new = trio.api.get(f"/members/{new['id']}").json()
    assert (new["tier"], new["points"]["available"]) == ("Diamond", 1000)
    assert diamond.name == "Diamond"

    # Now the old member can be deleted: its contact no longer has that phone.
    assert trio.api.delete(f"/members/{old['id']}").status_code == 204
    assert trio.api.get(f"/members/{old['id']}").status_code == 404
    listed = [m["id"] for m in trio.api.get("/members").json()["items"]]
    assert old["id"] not in listed


def test_member_of_deleted_contact_can_be_deleted(trio, member):
    trio.api.delete(f"/contacts/{member.contact_id}", {"reason": "Asked to be forgotten"})
    assert trio.api.get(f"/members/{member.pk}").json()["contact_id"] is None
    assert trio.api.delete(f"/members/{member.pk}").status_code == 204
