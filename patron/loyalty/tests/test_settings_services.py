"""Editing, archiving and deleting point categories and tiers."""

import pytest

from patron.audit.models import AuditEntry
from patron.contacts.models import ActivityEvent
from patron.lib.errors import InvalidInput
from patron.loyalty import services
from patron.loyalty.models import PointCategory, Tier
from patron.loyalty.services import NameTaken, PointCategoryInUse, TierSetByHand
from patron.loyalty.tests.factories import MemberFactory, PointCategoryFactory, TierFactory

pytestmark = pytest.mark.django_db


def test_a_category_is_renamed_and_recoloured_with_an_audit_entry(trio, in_merchant):
    category = PointCategoryFactory(merchant=in_merchant, name="Review")
    services.point_category_update(
        merchant=in_merchant,
        category=category,
        name=" Google  review ",
        color="#AABBCC",
        actor=trio.actor,
    )
    category.refresh_from_db()
    assert (category.name, category.color) == ("Google review", "#aabbcc")
    entry = AuditEntry.objects.get(action="loyalty.point_category_update")
    assert entry.before["name"] == "Review" and entry.after["name"] == "Google review"


def test_a_category_cannot_take_the_name_of_another(trio, in_merchant):
    PointCategoryFactory(merchant=in_merchant, name="Referral")
    category = PointCategoryFactory(merchant=in_merchant, name="Review")
    with pytest.raises(NameTaken):
        services.point_category_update(
            merchant=in_merchant,
            category=category,
            name="Referral",
            color="#000000",
            actor=trio.actor,
        )


def test_an_unused_category_is_deleted_with_the_reason_recorded(trio, in_merchant):
    category = PointCategoryFactory(merchant=in_merchant, name="Typo")
    services.point_category_delete(
        merchant=in_merchant, category=category, actor=trio.actor, reason="Added by mistake"
    )
    assert not PointCategory.objects.filter(pk=category.pk).exists()
    entry = AuditEntry.objects.get(action="loyalty.point_category_delete")
    assert entry.after == {"reason": "Added by mistake"}
    assert entry.actor_label == trio.actor.label


def test_a_used_category_is_refused_deletion_and_can_be_archived_instead(trio, in_merchant):
    category = PointCategoryFactory(merchant=in_merchant, name="Purchase")
    member = MemberFactory(merchant=in_merchant)
    services.points_give(
        merchant=in_merchant, member=member, amount=10, actor=trio.actor, category=category
    )
    with pytest.raises(PointCategoryInUse) as refused:
        services.point_category_delete(
            merchant=in_merchant, category=category, actor=trio.actor, reason="Unused"
        )
    assert refused.value.code == "point_category_in_use"
    assert PointCategory.objects.filter(pk=category.pk).exists()
    services.point_category_archive(
        merchant=in_merchant, category=category, actor=trio.actor, reason="Old scheme"
    )
    category.refresh_from_db()
    assert category.archived_at is not None
    assert member.ledger.get().category_id == category.pk
    with pytest.raises(InvalidInput) as archived:
        services.points_give(
            merchant=in_merchant, member=member, amount=5, actor=trio.actor, category=category
        )
    assert archived.value.code == "point_category_archived"
    services.point_category_archive(
        merchant=in_merchant, category=category, actor=trio.actor, reason="Back", archived=False
    )
    category.refresh_from_db()
    assert category.archived_at is None
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"loyalty.point_category_archive", "loyalty.point_category_restore"} <= actions


def test_destructive_category_actions_need_a_reason(trio, in_merchant):
    category = PointCategoryFactory(merchant=in_merchant)
    with pytest.raises(InvalidInput) as refused:
        services.point_category_delete(
            merchant=in_merchant, category=category, actor=trio.actor, reason="  "
        )
    assert refused.value.field == "reason"


def test_a_lower_threshold_lifts_the_members_who_now_qualify(trio, in_merchant):
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=1000)
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=600, actor=trio.actor)
    member.refresh_from_db()
    assert member.tier is None
    services.tier_update(
        merchant=in_merchant,
        tier=gold,
        actor=trio.actor,
        name="Gold",
        threshold=500,
        color="#d4af37",
        benefits="5% off",
    )
    member.refresh_from_db()
    assert member.tier_id == gold.pk
    gold.refresh_from_db()
    assert (gold.threshold, gold.benefits) == (500, "5% off")
    assert AuditEntry.objects.filter(action="loyalty.tier_update").count() == 1


def test_a_tier_threshold_is_never_negative(trio, in_merchant):
    tier = TierFactory(merchant=in_merchant)
    with pytest.raises(InvalidInput):
        services.tier_update(
            merchant=in_merchant,
            tier=tier,
            actor=trio.actor,
            name="X",
            threshold=-1,
            color="#000000",
        )


def test_deleting_a_tier_moves_its_members_to_the_tier_they_still_qualify_for(trio, in_merchant):
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=700, actor=trio.actor)
    member.refresh_from_db()
    assert member.tier_id == gold.pk
    moved = services.tier_delete(
        merchant=in_merchant, tier=gold, actor=trio.actor, reason="Two tiers are enough"
    )
    assert moved == 1
    member.refresh_from_db()
    assert member.tier_id == silver.pk
    assert not Tier.objects.filter(pk=gold.pk).exists()
    change = ActivityEvent.objects.filter(type="tier_changed").order_by("-id").first()
    assert change is not None and "Two tiers are enough" in str(change.data)
    entry = AuditEntry.objects.get(action="loyalty.tier_delete")
    assert entry.after == {"reason": "Two tiers are enough", "members_moved": 1}


def test_a_tier_members_were_given_by_hand_cannot_be_deleted(trio, in_merchant):
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    member = MemberFactory(merchant=in_merchant)
    services.tier_set_manual(
        merchant=in_merchant, member=member, tier=gold, actor=trio.actor, reason="VIP guest"
    )
    with pytest.raises(TierSetByHand) as refused:
        services.tier_delete(merchant=in_merchant, tier=gold, actor=trio.actor, reason="Gone")
    assert refused.value.code == "tier_set_by_hand"
    assert refused.value.extra == {"members": 1}
    member.refresh_from_db()
    assert member.tier_id == gold.pk
