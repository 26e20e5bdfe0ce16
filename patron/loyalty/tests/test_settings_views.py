"""Settings → Program: editing and removing categories, tiers and rewards from the page."""

import pytest
from django_scopes import scope

from patron.factories import StaffAccessFactory, UserFactory
from patron.loyalty import services
from patron.loyalty.models import PointCategory, Tier
from patron.loyalty.tests.factories import MemberFactory, PointCategoryFactory, TierFactory
from patron.rewards.models import Reward
from patron.rewards.tests.factories import RewardFactory
from patron.tenants.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(trio):
    return {
        "category": PointCategoryFactory(merchant=trio.merchant, name="Review"),
        "tier": TierFactory(merchant=trio.merchant, name="Gold", threshold=500),
        "reward": RewardFactory(merchant=trio.merchant, name="Free coffee", points_cost=100),
    }


def _actions(rows) -> list[tuple[str, dict[str, str]]]:
    category, tier, reward = rows["category"].pk, rows["tier"].pk, rows["reward"].pk
    return [
        (f"/loyalty/settings/categories/{category}/edit/", {"name": "X", "color": "#000000"}),
        (f"/loyalty/settings/categories/{category}/archive/", {"reason": "old"}),
        (f"/loyalty/settings/categories/{category}/delete/", {"reason": "old"}),
        (
            f"/loyalty/settings/tiers/{tier}/edit/",
            {"name": "X", "threshold": "1", "color": "#000000"},
        ),
        (f"/loyalty/settings/tiers/{tier}/delete/", {"reason": "old"}),
        (
            f"/loyalty/settings/rewards/{reward}/edit/",
            {"name": "X", "kind": "fixed_amount", "value": "1", "points_cost": "1"},
        ),
        (f"/loyalty/settings/rewards/{reward}/end/", {"reason": "old"}),
    ]


def _unchanged(trio, rows) -> None:
    with scope(merchant=trio.merchant):
        category = PointCategory.objects.get(pk=rows["category"].pk)
        tier = Tier.objects.get(pk=rows["tier"].pk)
        reward = Reward.objects.get(pk=rows["reward"].pk)
    assert (category.name, category.archived_at) == ("Review", None)
    assert (tier.name, tier.threshold) == ("Gold", 500)
    assert (reward.name, reward.is_active) == ("Free coffee", True)


def test_the_staff_role_is_refused_every_settings_change(trio, rows):
    client = trio.login(trio.bob)
    for url, data in _actions(rows):
        assert client.post(url, data).status_code == 403, url
    _unchanged(trio, rows)


def test_another_merchants_owner_gets_not_found(trio, rows):
    client = trio.login(trio.charlie)
    for url, data in _actions(rows):
        assert client.post(url, data).status_code == 404, url
    _unchanged(trio, rows)


def test_a_manager_edits_a_tier_and_a_reward(trio, rows):
    manager = UserFactory(email="mia@example.com")
    StaffAccessFactory(user=manager, merchant=trio.merchant, role=Role.MANAGER)
    client = trio.login(manager)
    tier, reward = rows["tier"], rows["reward"]
    client.post(
        f"/loyalty/settings/tiers/{tier.pk}/edit/",
        {"name": "Platinum", "threshold": "800", "color": "#e5e4e2", "benefits": "Free drink"},
    )
    answer = client.post(
        f"/loyalty/settings/rewards/{reward.pk}/edit/",
        {
            "name": "Large coffee",
            "kind": "fixed_amount",
            "value": "45000",
            "points_cost": "150",
            "coupon_valid_days": "30",
            "stock": "",
        },
        follow=True,
    )
    assert "Reward saved." in answer.content.decode()
    with scope(merchant=trio.merchant):
        tier.refresh_from_db()
        reward.refresh_from_db()
    assert (tier.name, tier.threshold, tier.benefits) == ("Platinum", 800, "Free drink")
    assert (reward.name, reward.points_cost, reward.coupon_valid_days) == ("Large coffee", 150, 30)


def test_an_invalid_edit_shows_why_and_changes_nothing(trio, rows):
    client = trio.login(trio.alice)
    answer = client.post(
        f"/loyalty/settings/rewards/{rows['reward'].pk}/edit/",
        {"name": "Free coffee", "kind": "percentage", "value": "150", "points_cost": "100"},
        follow=True,
    )
    assert answer.status_code == 200
    assert "a percentage is above 0 and at most 100" in answer.content.decode()
    _unchanged(trio, rows)


def test_a_used_category_is_refused_deletion_with_the_archive_advice(trio, rows):
    category = rows["category"]
    with scope(merchant=trio.merchant):
        member = MemberFactory(merchant=trio.merchant)
        services.points_give(
            merchant=trio.merchant, member=member, amount=5, actor=trio.actor, category=category
        )
    client = trio.login(trio.alice)
    page = client.post(
        f"/loyalty/settings/categories/{category.pk}/delete/", {"reason": "old"}, follow=True
    ).content.decode()
    assert "cannot be deleted" in page and "Archive it instead" in page
    client.post(f"/loyalty/settings/categories/{category.pk}/archive/", {"reason": "old"})
    with scope(merchant=trio.merchant):
        category.refresh_from_db()
    assert category.archived_at is not None
    # Give Points no longer offers it.
    points = client.get(f"/contacts/{member.contact_id}/points/").content.decode()
    assert f'name="category" value="{category.pk}"' not in points
    assert "Review</span>" in points  # the history still shows it


def test_ending_a_reward_takes_it_out_of_the_catalog(trio, rows):
    client = trio.login(trio.alice)
    reward = rows["reward"]
    page = client.post(
        f"/loyalty/settings/rewards/{reward.pk}/end/", {"reason": "Out of season"}, follow=True
    ).content.decode()
    assert "Reward ended" in page and "(ended)" in page
    with scope(merchant=trio.merchant):
        reward.refresh_from_db()
    assert reward.is_active is False
    assert f"Offer {reward.name} again" in page
    page = client.post(
        f"/loyalty/settings/rewards/{reward.pk}/reopen/", {"reason": "Back by demand"}, follow=True
    ).content.decode()
    assert "Reward offered again" in page and "(ended)" not in page
    with scope(merchant=trio.merchant):
        reward.refresh_from_db()
    assert reward.is_active is True and reward.ends_at is None


def test_the_settings_page_lists_edit_and_delete_for_each_row(trio, rows):
    page = trio.login(trio.alice).get("/loyalty/settings/").content.decode()
    for label in ("Edit Review", "Archive Review", "Delete Review", "Edit Gold", "Delete Gold"):
        assert label in page
    assert "End Free coffee" in page
    assert page.count("<dialog") >= 7


def test_the_role_matrix_covers_every_new_settings_and_privacy_action():
    from patron.tenants.tests.test_role_matrix import guarded_routes

    minimum = {f"{r.namespace}:{r.name}": r.callback.staff_min_role for r in guarded_routes()}
    for name in (
        "loyalty:category_edit",
        "loyalty:category_archive",
        "loyalty:category_delete",
        "loyalty:tier_edit",
        "loyalty:tier_delete",
        "loyalty:reward_edit",
        "loyalty:reward_end",
        "loyalty:reward_reopen",
        "contacts:export",
        "contacts:erase",
    ):
        assert minimum[name] == Role.MANAGER, name
    # Editing a contact is counter work: every role may.
    assert minimum["contacts:edit"] == Role.STAFF
