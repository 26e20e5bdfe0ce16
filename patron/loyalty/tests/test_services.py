"""Rules of members, points and tiers, through the services."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone
from django_scopes import scope

from patron.contacts import services as contact_services
from patron.contacts.models import ActivityEvent, ContactSource
from patron.factories import ContactFactory
from patron.lib.actors import Actor
from patron.loyalty import selectors, services, tasks
from patron.loyalty.models import (
    DowngradePolicy,
    ExpiryPolicy,
    LedgerEntry,
    LedgerKind,
    LoyaltyProgram,
    Member,
    MemberStatus,
    PointLot,
)
from patron.loyalty.tests.factories import MemberFactory, PointCategoryFactory, TierFactory

ACTOR = Actor.system("test")


def balance_is_ledger(member: Member) -> None:
    member.refresh_from_db()
    total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"] or 0
    assert member.points_available + member.points_pending == total
    live = PointLot.objects.filter(member=member)
    assert member.points_available == sum(lot.remaining for lot in live if lot.activated)
    assert member.points_pending == sum(lot.remaining for lot in live if not lot.activated)


def program(merchant, **fields):
    found, _ = LoyaltyProgram.objects.get_or_create(merchant=merchant)
    for name, value in fields.items():
        setattr(found, name, value)
    found.save()
    return found


def test_merchant_create_installs_program_and_colour_coded_categories(db):
    from patron.tenants.services import merchant_create

    merchant = merchant_create(slug="new", name="New", country="VN")
    with scope(merchant=merchant):
        assert LoyaltyProgram.objects.filter(merchant=merchant).exists()
        names = [c.name for c in selectors.point_categories(merchant)]
        assert names == ["Purchase", "Referral", "Review", "Birthday", "Bonus"]
        assert all(c.color.startswith("#") for c in selectors.point_categories(merchant))


def test_pos_contact_with_phone_becomes_not_activated_member(trio, in_merchant):
    contact = contact_services.contact_create(
        merchant=in_merchant, actor=ACTOR, first_name="A", phone="0980.000.000", source="pos"
    )
    member = selectors.member_for_contact(in_merchant, contact)
    assert member is not None
    assert member.phone == "+84980000000"
    assert member.status == MemberStatus.NOT_ACTIVATED


def test_manual_contact_does_not_become_member(trio, in_merchant):
    contact = contact_services.contact_create(
        merchant=in_merchant, actor=ACTOR, first_name="A", phone="0980.000.000"
    )
    assert selectors.member_for_contact(in_merchant, contact) is None


def test_program_may_activate_members_on_creation(trio, in_merchant):
    program(in_merchant, activate_on_create=True, signup_bonus=50)
    contact = contact_services.contact_create(
        merchant=in_merchant, actor=ACTOR, first_name="A", phone="0980000001", source="shopify"
    )
    member = selectors.member_for_contact(in_merchant, contact)
    assert member.status == MemberStatus.ACTIVE
    assert member.points_available == 50
    balance_is_ledger(member)


def test_member_ensure_refuses_contact_without_phone(trio, in_merchant):
    contact = ContactFactory(merchant=in_merchant, phone=None)
    with pytest.raises(services.ContactHasNoPhone) as caught:
        services.member_ensure(merchant=in_merchant, contact=contact, actor=ACTOR)
    assert caught.value.code == "contact_has_no_phone"


def test_member_ensure_is_one_member_per_phone(trio, in_merchant):
    contact = ContactFactory(merchant=in_merchant)
    first = services.member_ensure(merchant=in_merchant, contact=contact, actor=ACTOR)
    again = services.member_ensure(merchant=in_merchant, contact=contact, actor=ACTOR)
    assert first.pk == again.pk
    assert first.status == MemberStatus.NOT_ACTIVATED


def test_state_changes_record_who_when_and_why(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant, status=MemberStatus.NOT_ACTIVATED)
    alice = Actor.staff(trio.alice)
    services.member_activate(merchant=in_merchant, member=member, actor=alice, reason="Asked")
    member.refresh_from_db()
    assert (member.status, member.status_changed_by, member.status_reason) == (
        "active",
        alice.label,
        "Asked",
    )
    services.member_exclude(merchant=in_merchant, member=member, actor=alice, reason="Fraud")
    member.refresh_from_db()
    assert (member.status, member.status_reason) == ("excluded", "Fraud")
    types = list(
        ActivityEvent.objects.filter(contact=member.contact).values_list("type", "actor_label")
    )
    assert ("member_activated", alice.label) in types
    assert ("member_excluded", alice.label) in types
    # Activation works from excluded too.
    services.member_activate(merchant=in_merchant, member=member, actor=alice)
    member.refresh_from_db()
    assert member.status == "active"


def test_exclude_needs_a_reason(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    with pytest.raises(services.InvalidInput):
        services.member_exclude(merchant=in_merchant, member=member, actor=ACTOR, reason=" ")


@pytest.mark.parametrize("status", [MemberStatus.NOT_ACTIVATED, MemberStatus.EXCLUDED])
def test_inactive_member_cannot_earn_or_spend(trio, in_merchant, status):
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=100, actor=ACTOR)
    Member.objects.filter(pk=member.pk).update(status=status)
    with pytest.raises(services.MemberNotActive) as caught:
        services.points_give(merchant=in_merchant, member=member, amount=10, actor=ACTOR)
    assert caught.value.code == "member_not_active"
    with pytest.raises(services.MemberNotActive):
        services.points_redeem_manual(
            merchant=in_merchant, member=member, amount=10, note="x", actor=ACTOR
        )
    with pytest.raises(services.MemberNotActive):
        services.points_adjust(
            merchant=in_merchant, member=member, amount=10, reason="x", actor=ACTOR
        )


def test_overspending_is_refused_with_insufficient_points(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=30, actor=ACTOR)
    with pytest.raises(services.InsufficientPoints) as caught:
        services.points_redeem_manual(
            merchant=in_merchant, member=member, amount=31, note="too much", actor=ACTOR
        )
    assert caught.value.code == "insufficient_points"
    balance_is_ledger(member)
    assert member.points_available == 30


def test_give_points_uses_category_and_tier_multiplier(trio, in_merchant):
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=0, earn_multiplier="1.5")
    category = PointCategoryFactory(merchant=in_merchant, name="Review", color="#f59e0b")
    member = MemberFactory(merchant=in_merchant, tier=gold)
    entry = services.points_give(
        merchant=in_merchant, member=member, amount=101, actor=ACTOR, category=category
    )
    assert entry.amount == 151  # floor(101 * 1.5)
    assert entry.category == category
    assert entry.kind == LedgerKind.EARN
    assert entry.balance_after == 151
    balance_is_ledger(member)
    assert member.points_lifetime == 151


def test_outsider_category_is_refused(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    foreign = PointCategoryFactory(merchant=trio.other_merchant)
    with pytest.raises(services.NotFound):
        services.points_give(
            merchant=in_merchant, member=member, amount=1, actor=ACTOR, category=foreign
        )


def test_outsider_member_is_not_found(trio):
    with scope(merchant=trio.other_merchant):
        foreign = MemberFactory(merchant=trio.other_merchant)
    with scope(merchant=trio.merchant), pytest.raises(services.MemberNotFound):
        services.points_give(merchant=trio.merchant, member=foreign, amount=1, actor=ACTOR)


def test_give_points_to_a_contact_finds_and_locks_its_membership(trio, in_merchant):
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=0, earn_multiplier="2")
    member = MemberFactory(merchant=in_merchant, tier=silver)
    entry = services.points_give_to_contact(
        merchant=in_merchant,
        contact=member.contact,
        amount=7,
        actor=ACTOR,
        idempotency_key="c1",
    )
    again = services.points_give_to_contact(
        merchant=in_merchant, contact=member.contact, amount=7, actor=ACTOR, idempotency_key="c1"
    )
    assert (entry.member_id, entry.amount, again.pk) == (member.pk, 14, entry.pk)
    balance_is_ledger(member)
    stranger = ContactFactory(merchant=in_merchant, phone="")
    with pytest.raises(services.MemberNotFound):
        services.points_give_to_contact(
            merchant=in_merchant, contact=stranger, amount=7, actor=ACTOR
        )


def test_a_batch_of_gifts_writes_what_one_gift_at_a_time_writes(trio, in_merchant):
    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=30)
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=0, earn_multiplier="1.5")
    TierFactory(merchant=in_merchant, name="Gold", threshold=100)
    alone = [MemberFactory(merchant=in_merchant, tier=silver) for _ in range(3)]
    together = [MemberFactory(merchant=in_merchant, tier=silver) for _ in range(3)]
    for member, amount in zip(alone, (5, 80, 200), strict=True):
        services.points_give_to_contact(
            merchant=in_merchant, contact=member.contact, amount=amount, actor=ACTOR
        )
    entries = services.points_give_to_contacts(
        merchant=in_merchant,
        gifts=[
            services.Gift(contact=member.contact, amount=amount, actor=ACTOR, reason=" Hi ")
            for member, amount in zip(together, (5, 80, 200), strict=True)
        ],
    )
    assert [entry.amount for entry in entries] == [7, 120, 300]
    assert [entry.member_id for entry in entries] == [member.pk for member in together]

    def state(member):
        member.refresh_from_db()
        balance_is_ledger(member)
        lot = PointLot.objects.get(member=member)
        entry = LedgerEntry.objects.get(member=member)
        return (
            member.points_available,
            member.points_lifetime,
            member.tier.name,
            entry.balance_after,
            lot.expires_at.date(),
            ActivityEvent.objects.filter(contact=member.contact).count(),
        )

    assert [state(member) for member in together] == [state(member) for member in alone]
    assert {entry.reason for entry in entries} == {"Hi"}


def test_a_batch_of_gifts_is_all_or_nothing_and_replays_by_key(trio, in_merchant):
    members = [MemberFactory(merchant=in_merchant) for _ in range(2)]
    stranger = ContactFactory(merchant=in_merchant)
    gifts = [
        services.Gift(contact=member.contact, amount=10, actor=ACTOR, idempotency_key=f"b{n}")
        for n, member in enumerate(members)
    ]
    with pytest.raises(services.MemberNotFound):
        services.points_give_to_contacts(
            merchant=in_merchant,
            gifts=[*gifts, services.Gift(contact=stranger, amount=10, actor=ACTOR)],
        )
    assert not LedgerEntry.objects.filter(member__in=members).exists()
    first = services.points_give_to_contacts(merchant=in_merchant, gifts=gifts)
    # Again, and with a key named twice in one batch: the rows already written answer.
    again = services.points_give_to_contacts(merchant=in_merchant, gifts=[*gifts, gifts[0]])
    assert [entry.pk for entry in again] == [first[0].pk, first[1].pk, first[0].pk]
    for member in members:
        balance_is_ledger(member)
        assert member.points_available == 10
    # The same gift twice without a key is two gifts.
    twice = services.Gift(contact=members[0].contact, amount=3, actor=ACTOR)
    entries = services.points_give_to_contacts(merchant=in_merchant, gifts=[twice, twice])
    assert len({entry.pk for entry in entries}) == 2
    assert [entry.balance_after for entry in entries] == [13, 16]
    balance_is_ledger(members[0])
    assert members[0].points_available == 16
    members[1].status = MemberStatus.EXCLUDED
    members[1].save()
    with pytest.raises(services.MemberNotActive):
        services.points_give_to_contacts(
            merchant=in_merchant,
            gifts=[
                services.Gift(contact=member.contact, amount=1, actor=ACTOR) for member in members
            ],
        )
    members[0].refresh_from_db()
    assert members[0].points_available == 16


def test_tiers_read_once_for_a_batch_give_the_same_tier(trio, in_merchant):
    from patron.lib.memo import shared_reads

    TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    members = [MemberFactory(merchant=in_merchant) for _ in range(3)]
    with shared_reads():
        for member in members:
            services.points_give(merchant=in_merchant, member=member, amount=600, actor=ACTOR)
        assert selectors.tier_for_value(in_merchant, 99) is None
        assert selectors.tier_for_value(in_merchant, 100).name == "Silver"
    for member in members:
        member.refresh_from_db()
        assert member.tier == gold


def test_give_points_with_same_idempotency_key_writes_once(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    first = services.points_give(
        merchant=in_merchant, member=member, amount=10, actor=ACTOR, idempotency_key="k1"
    )
    again = services.points_give(
        merchant=in_merchant, member=member, amount=10, actor=ACTOR, idempotency_key="k1"
    )
    assert first.pk == again.pk
    member.refresh_from_db()
    assert member.points_available == 10


def test_order_points_are_pending_until_the_return_window_ends(trio, in_merchant):
    program(in_merchant, pending_days=14, earn_per_currency_unit=Decimal("0.001"))
    member = MemberFactory(merchant=in_merchant)
    entry = services.points_earn_for_order(
        merchant=in_merchant,
        member=member,
        order_total=Decimal("250000"),
        reference="order-1",
        actor=ACTOR,
    )
    assert entry.amount == 250
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (0, 250)
    with pytest.raises(services.InsufficientPoints):
        services.points_redeem_manual(
            merchant=in_merchant, member=member, amount=1, note="x", actor=ACTOR
        )
    assert services.lots_activate_due(merchant=in_merchant) == 0
    with time_machine.travel(timezone.now() + datetime.timedelta(days=15)):
        assert tasks.lots_activate_due.call() == 1
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (250, 0)
    balance_is_ledger(member)


def test_spending_consumes_soonest_expiring_lots_first(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=100)
    late = services.points_give(merchant=in_merchant, member=member, amount=50, actor=ACTOR)
    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=10)
    soon = services.points_give(merchant=in_merchant, member=member, amount=30, actor=ACTOR)
    program(in_merchant, expiry_policy=ExpiryPolicy.NEVER)
    never = services.points_give(merchant=in_merchant, member=member, amount=20, actor=ACTOR)
    services.points_redeem_manual(
        merchant=in_merchant, member=member, amount=40, note="coffee", actor=ACTOR
    )
    remaining = {lot.entry_id: lot.remaining for lot in PointLot.objects.filter(member=member)}
    assert remaining == {soon.pk: 0, late.pk: 40, never.pk: 20}
    balance_is_ledger(member)


def test_a_spend_settles_the_lots_the_periodic_tasks_have_not_reached_yet(trio, in_merchant):
    # An expired lot not yet written off and a pending lot now due: the spend writes the
    # first off and takes from the second, never from the expired points.
    program(
        in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=10, pending_days=5,
        earn_per_currency_unit=Decimal("0.001"),
    )  # fmt: skip
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=70, actor=ACTOR)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        services.points_earn_for_order(
            merchant=in_merchant,
            member=member,
            order_total=Decimal("40000"),
            reference="order-1",
            actor=ACTOR,
        )
    with time_machine.travel(timezone.now() + datetime.timedelta(days=14)):
        with pytest.raises(services.InsufficientPoints):
            services.points_redeem_manual(
                merchant=in_merchant, member=member, amount=41, note="x", actor=ACTOR
            )
        services.points_redeem_manual(
            merchant=in_merchant, member=member, amount=25, note="coffee", actor=ACTOR
        )
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (15, 0)
    kinds = LedgerEntry.objects.filter(member=member).order_by("pk").values_list("kind", "amount")
    assert list(kinds)[-2:] == [(LedgerKind.EXPIRE, -70), (LedgerKind.REDEEM, -25)]
    balance_is_ledger(member)


def test_expired_lots_are_written_off_by_the_periodic_task(trio, in_merchant):
    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=30)
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=80, actor=ACTOR)
    services.points_redeem_manual(
        merchant=in_merchant, member=member, amount=30, note="x", actor=ACTOR
    )
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        assert tasks.lots_expire_due.call() == 1
        assert tasks.lots_expire_due.call() == 0
    member.refresh_from_db()
    assert member.points_available == 0
    expire = LedgerEntry.objects.get(member=member, kind=LedgerKind.EXPIRE)
    assert expire.amount == -50
    balance_is_ledger(member)


def test_end_of_period_expiry_is_the_end_of_the_local_year(trio, in_merchant):
    program(in_merchant, expiry_policy=ExpiryPolicy.END_OF_PERIOD, expiry_period="year")
    member = MemberFactory(merchant=in_merchant)
    with time_machine.travel(datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)):
        entry = services.points_give(merchant=in_merchant, member=member, amount=5, actor=ACTOR)
    lot = PointLot.objects.get(entry=entry)
    assert lot.expires_at.isoformat().startswith("2026-12-31T17:00")  # midnight in Hanoi


def test_adjust_adds_and_takes_with_a_reason(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    services.points_adjust(
        merchant=in_merchant, member=member, amount=100, reason="Goodwill", actor=ACTOR
    )
    entry = services.points_adjust(
        merchant=in_merchant, member=member, amount=-40, reason="Mistake", actor=ACTOR
    )
    assert (entry.kind, entry.amount, entry.reason) == ("adjust", -40, "Mistake")
    with pytest.raises(services.InsufficientPoints):
        services.points_adjust(
            merchant=in_merchant, member=member, amount=-61, reason="x", actor=ACTOR
        )
    with pytest.raises(services.InvalidInput):
        services.points_adjust(
            merchant=in_merchant, member=member, amount=5, reason="", actor=ACTOR
        )
    balance_is_ledger(member)
    assert member.points_available == 60


def test_transfer_writes_both_sides_with_one_reason_and_keeps_expiry(trio, in_merchant):
    program(in_merchant, expiry_policy=ExpiryPolicy.AFTER_DAYS, expiry_days=10)
    old = MemberFactory(merchant=in_merchant)
    new = MemberFactory(merchant=in_merchant, status=MemberStatus.NOT_ACTIVATED)
    services.points_give(merchant=in_merchant, member=old, amount=100, actor=ACTOR)
    out, into = services.points_transfer(
        merchant=in_merchant, source=old, target=new, amount=70, actor=ACTOR, reason="New phone"
    )
    assert (out.kind, out.amount, out.counterpart_id) == ("transfer", -70, new.pk)
    assert (into.kind, into.amount, into.counterpart_id) == ("transfer", 70, old.pk)
    assert out.reason == into.reason == "New phone"
    source_lot = PointLot.objects.get(member=old)
    assert PointLot.objects.get(member=new).expires_at == source_lot.expires_at
    balance_is_ledger(old)
    balance_is_ledger(new)
    assert (old.points_available, new.points_available) == (30, 70)


def test_a_transfer_retried_with_the_longest_key_writes_once(trio, in_merchant):
    old = MemberFactory(merchant=in_merchant)
    new = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=old, amount=100, actor=ACTOR)
    key = "t" * 255  # the incoming row's `<key>:in` would not fit: a digest stands in

    def transfer():  # type: ignore[no-untyped-def]
        return services.points_transfer(
            merchant=in_merchant,
            source=old,
            target=new,
            amount=70,
            actor=ACTOR,
            reason="New phone",
            idempotency_key=key,
        )

    first, again = transfer(), transfer()
    assert [entry.pk for entry in first] == [entry.pk for entry in again]
    assert first[0].idempotency_key == key
    assert first[1].idempotency_key.startswith("#") and first[1].idempotency_key.endswith(":in")
    assert LedgerEntry.objects.filter(kind="transfer").count() == 2


def test_tiers_rise_with_lifetime_points_and_manual_tier_holds(trio, in_merchant):
    program(in_merchant, downgrade_policy=DowngradePolicy.SCHEDULED)
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    diamond = TierFactory(merchant=in_merchant, name="Diamond", threshold=1000)
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=150, actor=ACTOR)
    member.refresh_from_db()
    assert member.tier == silver
    services.points_give(merchant=in_merchant, member=member, amount=400, actor=ACTOR)
    member.refresh_from_db()
    assert member.tier == gold
    services.tier_set_manual(
        merchant=in_merchant, member=member, tier=diamond, actor=ACTOR, reason="Moved phone"
    )
    services.tiers_evaluate_all(merchant=in_merchant)
    member.refresh_from_db()
    assert (member.tier, member.tier_manual, member.tier_manual_reason) == (
        diamond,
        True,
        "Moved phone",
    )
    assert ActivityEvent.objects.filter(type="tier_changed", contact=member.contact).count() == 3
    # After the manual hold ends, the scheduled evaluation brings the tier back down.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=400)):
        tasks.tiers_evaluate.call()
    member.refresh_from_db()
    assert (member.tier, member.tier_manual) == (gold, False)


def test_scheduled_downgrade_only_at_the_scheduled_evaluation(trio, in_merchant):
    program(in_merchant, tier_basis="window_points", tier_window_days=30)
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=100, actor=ACTOR)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=40)):
        services.points_give(merchant=in_merchant, member=member, amount=1, actor=ACTOR)
        member.refresh_from_db()
        assert member.tier == silver
        services.tiers_evaluate_all(merchant=in_merchant)
    member.refresh_from_db()
    assert member.tier is None


def test_the_scheduled_evaluation_skips_a_merchant_without_tiers(
    trio, in_merchant, django_assert_max_num_queries
):
    MemberFactory(merchant=in_merchant)
    with django_assert_max_num_queries(1):
        assert services.tiers_evaluate_all(merchant=in_merchant) == 0
    # Once the merchant has a tier, every member is evaluated again.
    TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    assert services.tiers_evaluate_all(merchant=in_merchant) == 1


def test_phone_change_keeps_old_member_and_creates_a_new_one(trio, in_merchant):
    contact = contact_services.contact_create(
        merchant=in_merchant, actor=ACTOR, first_name="A", phone="0980.000.000", source="pos"
    )
    old = selectors.member_for_contact(in_merchant, contact)
    services.member_activate(merchant=in_merchant, member=old, actor=ACTOR)
    services.points_give(merchant=in_merchant, member=old, amount=1000, actor=ACTOR)
    contact = contact_services.contact_update(
        merchant=in_merchant, contact=contact, actor=ACTOR, phone="0980.000.001"
    )
    old.refresh_from_db()
    assert (old.contact_id, old.phone, old.points_available) == (None, "+84980000000", 1000)
    new = selectors.member_for_contact(in_merchant, contact)
    assert new.pk != old.pk
    assert (new.phone, new.status, new.points_available) == ("+84980000001", "not_activated", 0)


def test_member_delete_refused_while_contact_holds_the_phone(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    with pytest.raises(services.MemberStillLinked) as caught:
        services.member_delete(merchant=in_merchant, member=member, actor=ACTOR)
    assert caught.value.code == "member_still_linked"
    assert "Remove from program" in caught.value.message
    contact_services.contact_delete(
        merchant=in_merchant, contact=member.contact, actor=ACTOR, reason="Left"
    )
    services.member_delete(merchant=in_merchant, member=member, actor=ACTOR)
    assert selectors.member_get(in_merchant, member.pk) is None


def test_returned_points_come_back_in_any_state(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    services.points_give(merchant=in_merchant, member=member, amount=100, actor=ACTOR)
    services.points_redeem(
        merchant=in_merchant, member=member, amount=100, actor=ACTOR, reason="Reward"
    )
    services.member_exclude(merchant=in_merchant, member=member, actor=ACTOR, reason="x")
    entry = services.points_return(
        merchant=in_merchant, member=member, amount=100, actor=ACTOR, reason="Coupon deleted"
    )
    assert (entry.kind, entry.amount) == ("reverse", 100)
    balance_is_ledger(member)
    assert member.points_lifetime == 100  # a refund is not new earning


def test_ledger_rows_are_append_only(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    entry = services.points_give(merchant=in_merchant, member=member, amount=5, actor=ACTOR)
    from patron.loyalty.models import AppendOnly

    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()


def test_database_refuses_negative_balance(trio, in_merchant):
    from django.db import IntegrityError, transaction

    member = MemberFactory(merchant=in_merchant)
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(points_available=-1)


def test_contact_source_import_with_phone_becomes_member(trio, in_merchant):
    contact = contact_services.contact_create(
        merchant=in_merchant,
        actor=ACTOR,
        first_name="I",
        phone="0912000111",
        source=ContactSource.IMPORT,
    )
    assert selectors.member_for_contact(in_merchant, contact) is not None


def test_birthday_bonus_is_given_once_a_year_to_active_members(trio, in_merchant):
    program(in_merchant, birthday_bonus=100)
    today = datetime.date(2026, 11, 28)
    born = ContactFactory(merchant=in_merchant, birthday=datetime.date(1990, 11, 28))
    member = MemberFactory(merchant=in_merchant, contact=born, phone=str(born.phone))
    excluded = MemberFactory(
        merchant=in_merchant,
        status=MemberStatus.EXCLUDED,
        contact=ContactFactory(merchant=in_merchant, birthday=datetime.date(1991, 11, 28)),
    )
    MemberFactory(merchant=in_merchant)  # no birthday
    assert services.birthday_bonuses_give(merchant=in_merchant, today=today) == 1
    assert services.birthday_bonuses_give(merchant=in_merchant, today=today) == 0
    member.refresh_from_db()
    excluded.refresh_from_db()
    assert (member.points_available, excluded.points_available) == (100, 0)
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.reason, entry.source) == ("Birthday bonus", "automation")
