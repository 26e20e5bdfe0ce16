"""A hypothesis state machine drives random points operations through the services and
checks the ledger's invariants after every step:

- each member's cached balance equals the sum of its ledger rows and of its lots;
- no balance is ever negative, no lot is over-consumed;
- refusals happen exactly when the balance does not afford the spend;
- no coupon is used beyond its limit.
"""

import contextlib
import datetime
from decimal import Decimal

import time_machine
from django.db.models import F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from patron.coupons import services as coupon_services
from patron.coupons.models import Coupon
from patron.lib.actors import Actor
from patron.loyalty import services
from patron.loyalty.models import ExpiryPolicy, LedgerEntry, LoyaltyProgram, Member, PointLot
from patron.loyalty.tests.factories import MemberFactory, TierFactory
from patron.rewards import services as reward_services
from patron.rewards.tests.factories import RewardFactory

ACTOR = Actor.system("machine")
MEMBERS = 3


def run_ledger_machine(merchant) -> None:
    LoyaltyProgram.objects.update_or_create(
        merchant=merchant,
        defaults={
            "expiry_policy": ExpiryPolicy.AFTER_DAYS,
            "expiry_days": 30,
            "pending_days": 7,
        },
    )
    TierFactory(merchant=merchant, name="Gold", threshold=500, earn_multiplier=Decimal("1.5"))
    reward = RewardFactory(merchant=merchant, points_cost=60, kind="fixed_amount")

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = timezone.now()
            self.members = [MemberFactory(merchant=merchant) for _ in range(MEMBERS)]
            self.coupons: list[Coupon] = []

        def _now(self) -> time_machine.travel:
            return time_machine.travel(self.clock, tick=False)

        def _member(self, index: int) -> Member:
            return Member.objects.get(pk=self.members[index].pk)

        @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 300), order=st.booleans())
        def earn(self, who: int, amount: int, order: bool) -> None:
            with self._now():
                services.points_give(
                    merchant=merchant,
                    member=self._member(who),
                    amount=amount,
                    actor=ACTOR,
                    source="order" if order else "manual",
                )

        @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 400))
        def spend(self, who: int, amount: int) -> None:
            with self._now():
                member = self._member(who)
                services.lots_activate_due(merchant=merchant)
                services.lots_expire_due(merchant=merchant)
                member.refresh_from_db()
                affordable = amount <= member.points_available
                try:
                    services.points_redeem_manual(
                        merchant=merchant, member=member, amount=amount, note="spend", actor=ACTOR
                    )
                    assert affordable
                except services.InsufficientPoints:
                    assert not affordable

        @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(-300, 300).filter(bool))
        def adjust(self, who: int, amount: int) -> None:
            with self._now():
                try:
                    services.points_adjust(
                        merchant=merchant,
                        member=self._member(who),
                        amount=amount,
                        reason="adjust",
                        actor=ACTOR,
                    )
                except services.InsufficientPoints:
                    assert amount < 0

        @rule(
            giver=st.integers(0, MEMBERS - 1),
            receiver=st.integers(0, MEMBERS - 1),
            amount=st.integers(1, 300),
        )
        def transfer(self, giver: int, receiver: int, amount: int) -> None:
            if giver == receiver:
                return
            with self._now(), contextlib.suppress(services.InsufficientPoints):
                services.points_transfer(
                    merchant=merchant,
                    source=self._member(giver),
                    target=self._member(receiver),
                    amount=amount,
                    reason="move",
                    actor=ACTOR,
                )

        @rule(days=st.integers(1, 40))
        def time_passes(self, days: int) -> None:
            self.clock += datetime.timedelta(days=days)
            with self._now():
                services.lots_activate_due(merchant=merchant)
                services.lots_expire_due(merchant=merchant)

        @rule(who=st.integers(0, MEMBERS - 1))
        def claim(self, who: int) -> None:
            with self._now():
                try:
                    redemption = reward_services.reward_claim(
                        merchant=merchant, member=self._member(who), reward=reward, actor=ACTOR
                    )
                except services.InsufficientPoints:
                    return
                assert redemption.coupon is not None
                self.coupons.append(redemption.coupon)

        @rule(data=st.data(), refund=st.booleans())
        def delete_coupon(self, data: st.DataObject, refund: bool) -> None:
            live = [c for c in self.coupons if c.status == "available"]
            if not live:
                return
            coupon = data.draw(st.sampled_from(live))
            with self._now():
                coupon_services.coupon_delete(
                    merchant=merchant,
                    coupon=coupon,
                    actor=ACTOR,
                    reason="changed mind",
                    refund_points=refund,
                )
            coupon.status = "deleted"

        @rule(data=st.data())
        def use_coupon(self, data: st.DataObject) -> None:
            live = [c for c in self.coupons if c.status == "available"]
            if not live:
                return
            coupon = data.draw(st.sampled_from(live))
            with self._now():
                coupon_services.coupon_redeem(
                    merchant=merchant, coupon=coupon, actor=ACTOR, order_reference="order-9"
                )
            coupon.status = "used"

        @invariant()
        def balances_equal_the_ledger(self) -> None:
            for stale in self.members:
                member = Member.objects.get(pk=stale.pk)
                assert member.points_available >= 0
                assert member.points_pending >= 0
                total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"]
                assert member.points_available + member.points_pending == (total or 0)
                lots = PointLot.objects.filter(member=member)
                active = lots.filter(activated=True).aggregate(s=Sum("remaining"))["s"] or 0
                pending = lots.filter(activated=False).aggregate(s=Sum("remaining"))["s"] or 0
                assert (member.points_available, member.points_pending) == (active, pending)

        @invariant()
        def lots_never_over_consumed(self) -> None:
            assert not PointLot.objects.filter(
                merchant=merchant, remaining__gt=F("amount")
            ).exists()
            assert not PointLot.objects.filter(merchant=merchant, remaining__lt=0).exists()

        @invariant()
        def coupons_within_their_limit(self) -> None:
            assert not Coupon.objects.filter(
                merchant=merchant, usage_count__gt=F("usage_limit")
            ).exists()

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_random_points_operations_keep_the_ledger_invariants(trio, in_merchant):
    run_ledger_machine(in_merchant)
