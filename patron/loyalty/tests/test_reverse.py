"""`points_reverse`: an order's points taken back after a refund or a cancellation."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor
from patron.lib.errors import InvalidInput
from patron.loyalty import selectors, services
from patron.loyalty.models import (
    LedgerEntry,
    LedgerKind,
    Member,
    MemberStatus,
    PointLot,
    TierBasis,
)
from patron.loyalty.tests.factories import MemberFactory, TierFactory
from patron.loyalty.tests.test_services import balance_is_ledger, program

ACTOR = Actor.system("test")


def earn(merchant, member, total, reference):
    return services.points_earn_for_order(
        merchant=merchant,
        member=member,
        order_total=Decimal(total),
        reference=reference,
        actor=ACTOR,
        idempotency_key=f"earn:{reference}",
    )


def reverse(merchant, member, amount, reference="pos:1001", key="refund:1"):
    return services.points_reverse(
        merchant=merchant,
        member=member,
        amount=amount,
        reference=reference,
        reason=f"Refund of order {reference}",
        actor=ACTOR,
        idempotency_key=key,
    )


def test_a_full_reversal_writes_a_reverse_row_and_takes_the_orders_points(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "300", "pos:1001")

    entry = reverse(in_merchant, member, 300)

    assert entry.kind == LedgerKind.REVERSE
    assert entry.amount == -300
    assert entry.source == "order"
    assert entry.reference == "pos:1001"
    assert entry.data == {
        "requested": 300,
        "taken": 300,
        "from_pending": 0,
        "from_available": 300,
        "shortfall": 0,
    }
    member.refresh_from_db()
    assert (member.points_available, member.points_pending, member.points_lifetime) == (0, 0, 0)
    balance_is_ledger(member)
    event = ActivityEvent.objects.get(type="points_reversed")
    assert event.data["amount"] == -300
    assert event.data["shortfall"] == 0


def test_the_same_refund_twice_takes_points_once(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "500", "pos:1001")
    first = reverse(in_merchant, member, 200)
    again = reverse(in_merchant, member, 200)
    assert again.pk == first.pk
    member.refresh_from_db()
    assert member.points_available == 300
    assert LedgerEntry.objects.filter(kind=LedgerKind.REVERSE).count() == 1


@pytest.mark.parametrize("status", [MemberStatus.NOT_ACTIVATED, MemberStatus.EXCLUDED])
def test_a_member_who_is_not_active_still_gives_back_an_orders_points(trio, in_merchant, status):
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "400", "pos:1001")
    Member.objects.filter(pk=member.pk).update(status=status)

    entry = reverse(in_merchant, member, 400)

    assert entry.amount == -400
    member.refresh_from_db()
    assert member.status == status
    assert member.points_available == 0
    balance_is_ledger(member)


def test_pending_lots_go_first_the_orders_own_before_others(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    services.points_give(
        merchant=in_merchant, member=member, amount=100, actor=ACTOR, reason="Welcome"
    )
    program(in_merchant, pending_days=14)
    earn(in_merchant, member, "50", "pos:1000")
    earn(in_merchant, member, "80", "pos:1001")
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (100, 130)

    entry = reverse(in_merchant, member, 200)

    assert entry.data["from_pending"] == 130
    assert entry.data["from_available"] == 70
    own = PointLot.objects.get(entry__reference="pos:1001")
    assert own.remaining == 0
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (30, 0)
    balance_is_ledger(member)


def test_spent_points_are_not_taken_below_zero_and_the_shortfall_is_recorded(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "300", "pos:1001")
    services.points_redeem_manual(
        merchant=in_merchant, member=member, amount=250, note="Gift", actor=ACTOR
    )

    entry = reverse(in_merchant, member, 300)

    assert entry.amount == -50
    assert entry.data["shortfall"] == 250
    assert entry.data["requested"] == 300
    member.refresh_from_db()
    assert member.points_available == 0
    assert member.points_lifetime == 250
    balance_is_ledger(member)


def test_nothing_left_to_take_writes_no_row(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "100", "pos:1001")
    services.points_redeem_manual(
        merchant=in_merchant, member=member, amount=100, note="Gift", actor=ACTOR
    )
    assert reverse(in_merchant, member, 100) is None
    assert not LedgerEntry.objects.filter(kind=LedgerKind.REVERSE).exists()
    balance_is_ledger(member)


def test_a_reversal_lowers_the_tier_the_order_reached(trio, in_merchant):
    from patron.loyalty.models import DowngradePolicy

    program(in_merchant, downgrade_policy=DowngradePolicy.IMMEDIATE)
    TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "600", "pos:1001")
    member.refresh_from_db()
    assert member.tier.name == "Gold"

    reverse(in_merchant, member, 600)

    member.refresh_from_db()
    assert member.tier is None
    assert ActivityEvent.objects.filter(type="tier_changed", data__new_tier=None).exists()


def test_window_tiers_count_reversed_points_and_spend_against_the_window(trio, in_merchant):
    program(in_merchant, tier_basis=TierBasis.WINDOW_POINTS)
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "600", "pos:1001")
    reverse(in_merchant, member, 200)
    member.refresh_from_db()
    assert selectors.tier_qualifying_value(in_merchant, member) == 400

    program(in_merchant, tier_basis=TierBasis.WINDOW_SPEND)
    services.points_reverse(
        merchant=in_merchant,
        member=member,
        amount=100,
        reference="pos:1001",
        reason="Second refund",
        actor=ACTOR,
        idempotency_key="refund:2",
        spend=Decimal("100"),
    )
    member.refresh_from_db()
    assert selectors.tier_qualifying_value(in_merchant, member) == 500


def test_a_reversal_needs_an_idempotency_key_and_a_positive_amount(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    with pytest.raises(InvalidInput):
        reverse(in_merchant, member, 10, key="")
    with pytest.raises(InvalidInput):
        reverse(in_merchant, member, 0)


def test_an_outsiders_member_cannot_be_reversed(trio, in_merchant):
    outsider = MemberFactory(merchant=trio.other_merchant)
    with pytest.raises(services.MemberNotFound):
        reverse(in_merchant, outsider, 10)


def test_expired_points_are_written_off_before_the_reversal(trio, in_merchant):
    from patron.loyalty.models import ExpiryPolicy

    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=30)
    member = MemberFactory(merchant=in_merchant)
    earn(in_merchant, member, "100", "pos:1001")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        entry = reverse(in_merchant, member, 100)
    assert entry is None
    member.refresh_from_db()
    assert member.points_available == 0
    balance_is_ledger(member)
