from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone
from django_scopes import scope

from patron.automations.models import TriggerType, Workflow, WorkflowStatus
from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor
from patron.lib.sql import (
    any_row,
    first_row,
    insert_row,
    inserts_plainly,
    row_id,
    rows,
    update_rows,
)
from patron.loyalty import services
from patron.loyalty.models import LedgerEntry, Member, Tier
from patron.loyalty.tests.factories import MemberFactory, TierFactory

ACTOR = Actor.system("test")


def test_any_row_matches_fields_values_and_lists(trio):
    with scope(merchant=trio.merchant):
        Workflow.objects.create(
            merchant=trio.merchant,
            name="Welcome",
            status=WorkflowStatus.PUBLISHED,
            trigger_type=TriggerType.POINTS_EARNED,
        )
    published = {"merchant": trio.merchant, "status": WorkflowStatus.PUBLISHED}
    assert any_row(Workflow, published)
    assert any_row(Workflow, {**published, "trigger_type": ["contact_created", "points_earned"]})
    assert not any_row(Workflow, {**published, "trigger_type": ["contact_created"]})
    assert not any_row(Workflow, {**published, "trigger_type": []})
    # Another merchant's workflow is not this one's; a choice is compared by its value.
    assert not any_row(Workflow, {**published, "merchant": trio.other_merchant.pk})
    assert not any_row(Workflow, {"merchant": trio.merchant, "status": WorkflowStatus.DRAFT})


def test_any_row_refuses_a_merchants_table_without_the_merchant(trio):
    with pytest.raises(ValueError, match="needs the merchant"):
        any_row(Workflow, {"status": WorkflowStatus.PUBLISHED})


def _fields(row):
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}


def test_first_row_reads_a_row_as_the_orm_does(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    entry = services.points_give(
        merchant=in_merchant,
        member=member,
        amount=40,
        actor=ACTOR,
        reason="Welcome",
        idempotency_key="key-1",
        spend=Decimal("12.50"),
    )
    LedgerEntry.objects.filter(pk=entry.pk).update(data={"note": "ok", "n": [1, 2]})
    # JSON, decimals, dates and choices come back as the ORM gives them.
    found = first_row(LedgerEntry, {"merchant": in_merchant, "idempotency_key": "key-1"})
    assert found is not None
    assert _fields(found) == _fields(LedgerEntry.objects.get(pk=entry.pk))
    assert found.data == {"note": "ok", "n": [1, 2]}
    assert not found._state.adding
    assert first_row(LedgerEntry, {"merchant": in_merchant, "idempotency_key": "key-2"}) is None
    # Another merchant's rows are not found with this merchant.
    outside = {"merchant": trio.other_merchant, "idempotency_key": "key-1"}
    assert first_row(LedgerEntry, outside) is None


def test_first_row_orders_compares_and_loads_foreign_keys(
    trio, in_merchant, django_assert_num_queries
):
    silver = TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    TierFactory(merchant=trio.other_merchant, name="Elsewhere", threshold=200)
    highest = {"order_by": ("-threshold",)}
    assert first_row(Tier, {"merchant": in_merchant, "threshold__lte": 499}, **highest) == silver
    assert first_row(Tier, {"merchant": in_merchant, "threshold__lte": 500}, **highest) == gold
    assert first_row(Tier, {"merchant": in_merchant, "threshold__lt": 100}) is None
    assert first_row(Tier, {"merchant": in_merchant, "threshold__gte": 100}) == silver
    assert first_row(Tier, {"merchant": in_merchant, "name": ["Gold", "Bronze"]}) == gold
    assert first_row(Tier, {"merchant": in_merchant, "name": []}) is None

    with_tier = MemberFactory(merchant=in_merchant, tier=gold)
    without = MemberFactory(merchant=in_merchant)
    where = {"merchant": in_merchant, "deleted_at__isnull": True}
    with django_assert_num_queries(1):
        found = first_row(Member, {**where, "pk": with_tier.pk}, related=("contact", "tier"))
        assert found is not None
        assert found.tier == gold and found.tier.name == "Gold"
        assert found.contact == with_tier.contact
        assert str(found.contact.phone) == str(with_tier.contact.phone)
    plain = first_row(Member, {**where, "pk": without.pk}, related=("contact", "tier"))
    assert plain is not None and plain.tier is None and plain.tier_id is None
    assert first_row(Member, {**where, "deleted_at__isnull": False}) is None


@pytest.mark.django_db(transaction=True)
def test_first_row_with_lock_holds_the_row_until_the_transaction_ends(trio):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks: its IMMEDIATE transactions serialize writers")
    with scope(merchant=trio.merchant):
        member = MemberFactory(merchant=trio.merchant)
    where = {"merchant": trio.merchant, "pk": member.pk}
    with transaction.atomic():
        assert first_row(Member, where, related=("tier",), lock=True) == member
        # Another connection cannot take the row while this transaction holds it.
        with ThreadPoolExecutor(1) as pool:
            taken = pool.submit(_try_lock, member.pk).result()
    assert taken == "locked"
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(_try_lock, member.pk).result() == "free"


def _try_lock(member_id: int) -> str:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM loyalty_member WHERE id = %s FOR UPDATE NOWAIT", [member_id]
            )
        return "free"
    except OperationalError:
        return "locked"
    finally:
        connection.close()


def test_first_row_refuses_a_merchants_table_without_the_merchant(trio):
    with pytest.raises(ValueError, match="needs the merchant"):
        first_row(Tier, {"threshold__lte": 100})


def test_insert_row_saves_a_new_row_as_save_does(trio, in_merchant, django_assert_num_queries):
    member = MemberFactory(merchant=in_merchant)
    entry = LedgerEntry(
        merchant=in_merchant,
        member=member,
        kind="earn",
        amount=25,
        balance_after=25,
        spend=Decimal("9.90"),
        data={"order": "A-1"},
    )
    entry.set_actor(ACTOR)
    with django_assert_num_queries(1):
        assert insert_row(entry) is entry
    assert entry.pk is not None and not entry._state.adding
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert _fields(stored) == _fields(entry)
    # A second row gets a key of its own.
    again = LedgerEntry(
        merchant=in_merchant, member=member, kind="earn", amount=1, balance_after=26
    )
    again.set_actor(ACTOR)
    assert insert_row(again).pk not in (None, entry.pk)


def test_update_rows_writes_the_named_columns_only(trio, in_merchant):
    first = MemberFactory(merchant=in_merchant)
    second = MemberFactory(merchant=in_merchant)
    for member, points in ((first, 7), (second, 9)):
        member.points_available = points
        member.points_lifetime = 100  # not among the names: left as stored
    update_rows(Member, [first, second], ["points_available"])
    stored = {m.pk: m for m in Member.objects.filter(pk__in=[first.pk, second.pk])}
    assert stored[first.pk].points_available == 7 and stored[second.pk].points_available == 9
    assert stored[first.pk].points_lifetime == 0 and stored[second.pk].points_lifetime == 0


def test_update_rows_refuses_a_row_of_another_merchant(trio, in_merchant):
    member = MemberFactory(merchant=in_merchant)
    member.points_available = 5
    member.merchant_id = trio.other_merchant.pk  # as if read through the wrong merchant
    with pytest.raises(DatabaseError, match="changed 0 of 1 rows"):
        update_rows(Member, [member], ["points_available"])
    assert Member.objects.get(pk=member.pk).points_available == 0


def test_update_rows_of_many_rows_keep_each_type(trio, in_merchant):
    # Many rows go in one statement on PostgreSQL: JSON, NULLs, keys and times must
    # arrive as their columns' types.
    gold = TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    members = [MemberFactory(merchant=in_merchant, tier=gold) for _ in range(3)]
    moment = timezone.now()
    members[0].tier, members[0].first_activated_at = None, moment
    members[1].tier, members[1].first_activated_at = gold, None
    members[2].tier, members[2].first_activated_at = None, None
    update_rows(Member, members, ["tier", "first_activated_at"])
    stored = {m.pk: m for m in Member.objects.filter(pk__in=[m.pk for m in members])}
    assert [(stored[m.pk].tier_id, stored[m.pk].first_activated_at) for m in members] == [
        (None, moment),
        (gold.pk, None),
        (None, None),
    ]
    events = [
        ActivityEvent.objects.create(merchant=in_merchant, type="note", data={"n": n})
        for n in range(2)
    ]
    events[0].data, events[1].data = {"text": "caf\u00e9", "list": [1, None]}, {}
    update_rows(ActivityEvent, events, ["data"])
    assert [ActivityEvent.objects.get(pk=e.pk).data for e in events] == [
        {"text": "caf\u00e9", "list": [1, None]},
        {},
    ]


def test_update_rows_of_many_refuses_them_all_if_one_is_another_merchants(trio, in_merchant):
    mine, theirs = MemberFactory(merchant=in_merchant), MemberFactory(merchant=in_merchant)
    mine.points_available = theirs.points_available = 5
    theirs.merchant_id = trio.other_merchant.pk
    with pytest.raises(DatabaseError, match="changed 1 of 2 rows"), transaction.atomic():
        update_rows(Member, [mine, theirs], ["points_available"])
    assert Member.objects.get(pk=mine.pk).points_available == 0  # rolled back with it


def test_rows_match_any_of_the_alternatives_in_key_order(trio, in_merchant):
    TierFactory(merchant=in_merchant, name="Silver", threshold=100)
    TierFactory(merchant=in_merchant, name="Gold", threshold=500)
    TierFactory(merchant=in_merchant, name="Bronze", threshold=10)
    where = {"merchant": in_merchant}
    either = [{"threshold__gte": 400}, {"name": "Bronze", "threshold__lt": 50}]
    assert [t.name for t in rows(Tier, where, any_of=either)] == ["Gold", "Bronze"]
    assert [t.name for t in rows(Tier, where, order_by=("-threshold",))] == [
        "Gold",
        "Silver",
        "Bronze",
    ]
    # An alternative with an empty list matches nothing; with none left, no row does.
    assert [t.name for t in rows(Tier, where, any_of=[{"name": []}, {"threshold": 10}])] == [
        "Bronze"
    ]
    assert rows(Tier, where, any_of=[{"name": []}]) == []
    assert rows(Tier, {**where, "name": []}) == []
    assert len(rows(Tier, where, limit=2)) == 2


def test_insert_row_keeps_a_key_the_instance_already_has(trio, in_merchant):
    taken = Tier.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    tier = Tier(pk=taken + 1000, merchant=in_merchant, name="Gold", threshold=500)
    insert_row(tier)
    assert Tier.objects.get(pk=taken + 1000).name == "Gold"
    assert inserts_plainly(Tier)


def test_row_id_takes_only_what_can_be_a_key():
    assert row_id("42") == row_id(42) == 42
    for text in ("", "abc", "4.2", None, "0", "-3", str(2**63), "9" * 30):
        assert row_id(text) is None


def test_an_id_beyond_64_bits_in_a_path_is_not_found(trio):
    response = trio.api.get(f"/members/{2**64}")
    assert response.status_code == 404, response.content
