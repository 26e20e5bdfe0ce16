"""The demo merchant's loyalty data: what the seed articles walk through."""

from django.db.models import Sum
from django_scopes import scope

from patron.loyalty import selectors
from patron.loyalty.models import LedgerEntry, Member
from patron.reports import selectors as report_selectors
from patron.rewards import selectors as reward_selectors


def test_demo_has_tiers_catalog_and_members_in_every_state(demo):
    merchant = demo.merchant
    with scope(merchant=merchant):
        assert [t.name for t in selectors.tiers(merchant)] == ["Silver", "Gold", "Diamond"]
        assert reward_selectors.rewards(merchant).count() >= 5
        statuses = set(selectors.members(merchant).values_list("status", flat=True))
        assert statuses == {"not_activated", "active", "excluded"}
        anh = selectors.member_for_phone(merchant, "+84980000000")
        assert (anh.status, anh.points_available, anh.tier.name) == ("active", 1000, "Diamond")
        mark = selectors.member_for_phone(merchant, "+84912345678")
        assert mark.status == "active"
        assert mark.points_available > 0
        # Mark's Rewards Coupon was bought with his points through "Claim Reward".
        from patron.coupons.models import Coupon

        paid = Coupon.objects.filter(contact=mark.contact, label="Rewards Coupon").first()
        assert paid is not None
        assert paid.points_paid > 0
        assert paid.earning_method == "loyalty"
        assert reward_selectors.redeemable_rewards(merchant, mark)
        for member in Member.objects.filter(merchant=merchant):
            total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"]
            assert member.points_available + member.points_pending == (total or 0)
        summary = report_selectors.summary(merchant)
        assert summary.points_issued > 0
        assert summary.redemptions > 0
        assert report_selectors.leaderboard(merchant)[0].points >= 1000
