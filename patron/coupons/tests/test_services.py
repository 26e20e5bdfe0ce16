import datetime
import time
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.contacts import selectors as contact_selectors
from patron.contacts.models import ActivityEvent
from patron.contacts.services import ContactNotFound
from patron.coupons import selectors, services, tasks
from patron.coupons.codes import ALPHABET, coupon_codes_generate
from patron.coupons.models import Coupon, CouponStatus
from patron.coupons.tests.factories import ACTOR, issue_coupon, make_contact
from patron.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


def tags(merchant, contact):
    with scope(merchant=merchant):
        fresh = contact_selectors.contact_get(merchant, contact.pk)
        return contact_selectors.contact_tag_names(fresh)


def history(merchant, coupon):
    with scope(merchant=merchant):
        return [e.type for e in selectors.coupon_events(merchant, coupon)]


def activity_types(merchant, contact):
    with scope(merchant=merchant):
        return list(
            ActivityEvent.objects.filter(merchant=merchant, contact=contact)
            .order_by("pk")
            .values_list("type", flat=True)
        )


def test_issued_coupon_is_available_with_an_unambiguous_code_and_the_terms(trio):
    coupon = issue_coupon(trio.merchant, prefix="bday-", value="15", usage_limit=2)
    assert coupon.status == CouponStatus.AVAILABLE
    assert coupon.code.startswith("BDAY-")
    assert set(coupon.code.removeprefix("BDAY-")) <= set(ALPHABET)
    assert not set("0O1IL") & set(coupon.code.removeprefix("BDAY-"))
    assert (coupon.value, coupon.usage_limit, coupon.usage_count) == (Decimal("15.00"), 2, 0)
    assert coupon.applies_to == {"kind": "all", "ids": []}
    assert history(trio.merchant, coupon) == ["issued"]


def test_issuing_tags_the_contact_with_the_label_and_records_activity(trio):
    contact = make_contact(trio.merchant)
    issue_coupon(trio.merchant, contact, label="Birthday Coupon")
    assert "Birthday Coupon" in tags(trio.merchant, contact)
    assert "coupon_issued" in activity_types(trio.merchant, contact)
    assert "tag_added" in activity_types(trio.merchant, contact)


def test_services_refuse_to_run_outside_a_merchant_scope(trio):
    from django_scopes import ScopeError

    contact = make_contact(trio.merchant)
    with pytest.raises(ScopeError):
        services.coupon_issue(
            merchant=trio.merchant, contact=contact, actor=ACTOR, label="X", type="percentage",
            value=5,
        )  # fmt: skip


def test_a_coupon_cannot_be_issued_to_another_merchants_contact(trio):
    theirs = make_contact(trio.other_merchant)
    with scope(merchant=trio.merchant), pytest.raises(ContactNotFound):
        services.coupon_issue(
            merchant=trio.merchant, contact=theirs, actor=ACTOR, label="X", type="percentage",
            value=5,
        )  # fmt: skip
    with scopes_disabled():
        assert Coupon.objects.count() == 0


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"type": "percentage", "value": "101"}, "value"),
        ({"type": "percentage", "value": "0"}, "value"),
        ({"type": "fixed_amount", "value": "-5"}, "value"),
        ({"type": "bogus"}, "type"),
        ({"label": "  "}, "label"),
        ({"prefix": "BAD PREFIX!"}, "prefix"),
        ({"usage_limit": 0}, "usage_limit"),
        ({"applies_to": {"kind": "products", "ids": []}}, "applies_to"),
        ({"applies_to": {"kind": "shelves", "ids": ["1"]}}, "applies_to"),
        ({"earning_method": "magic"}, "earning_method"),
        ({"points_paid": 10}, "member"),
        ({"expires_at": timezone.now() - datetime.timedelta(days=1)}, "expires_at"),
        (
            {
                "starts_at": timezone.now() + datetime.timedelta(days=3),
                "expires_at": timezone.now() + datetime.timedelta(days=2),
            },
            "expires_at",
        ),
    ],
)
def test_invalid_terms_are_refused_with_the_field(trio, terms, field):
    with pytest.raises(InvalidInput) as refused:
        issue_coupon(trio.merchant, **terms)
    assert refused.value.field == field


def test_free_shipping_has_no_value_and_applies_to_keeps_distinct_ids(trio):
    coupon = issue_coupon(
        trio.merchant,
        type="free_shipping",
        value="30",
        applies_to={"kind": "collections", "ids": ["summer", "summer", 7]},
    )
    assert coupon.value == Decimal("0.00")
    assert coupon.applies_to == {"kind": "collections", "ids": ["summer", "7"]}


def test_issue_with_the_same_idempotency_key_returns_the_first_coupon_and_writes_once(trio):
    contact = make_contact(trio.merchant)
    first = issue_coupon(trio.merchant, contact, idempotency_key="k1")
    again = issue_coupon(trio.merchant, contact, idempotency_key="k1")
    assert again.pk == first.pk and again.code == first.code
    assert first.issued_now and not again.issued_now
    with scopes_disabled():
        assert Coupon.objects.count() == 1
    assert history(trio.merchant, first) == ["issued"]


def test_idempotency_keys_belong_to_one_merchant(trio):
    mine = issue_coupon(trio.merchant, idempotency_key="shared")
    theirs = issue_coupon(trio.other_merchant, idempotency_key="shared")
    assert mine.pk != theirs.pk


def test_a_chosen_code_is_normalised_and_unique_per_merchant(trio):
    coupon = issue_coupon(trio.merchant, code=" welcome10 ")
    assert coupon.code == "WELCOME10"
    with pytest.raises(services.CouponCodeTaken):
        issue_coupon(trio.merchant, code="Welcome10")
    assert issue_coupon(trio.other_merchant, code="WELCOME10").code == "WELCOME10"


def test_the_database_refuses_a_duplicate_code_even_without_the_service(trio):
    coupon = issue_coupon(trio.merchant)
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(
            merchant=trio.merchant, contact=coupon.contact, code=coupon.code, label="X",
            type="percentage", value=5,
        )  # fmt: skip


def test_the_database_refuses_a_usage_count_above_the_limit(trio):
    coupon = issue_coupon(trio.merchant)
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=coupon.pk).update(usage_count=2)


def test_the_database_refuses_a_second_coupon_regenerated_from_the_same_one(trio):
    old = issue_coupon(trio.merchant)
    with scope(merchant=trio.merchant):
        services.coupon_regenerate(merchant=trio.merchant, coupon=old, actor=ACTOR)
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(
            merchant=trio.merchant, contact=old.contact, code="SECOND", label="X",
            type="percentage", value=5, regenerated_from=old,
        )  # fmt: skip


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-tenant key is PostgreSQL's")
def test_on_postgresql_the_database_refuses_a_coupon_for_another_merchants_contact(trio):
    outsider = make_contact(trio.other_merchant)
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(
            merchant=trio.merchant, contact=outsider, code="ELSEWHERE", label="X",
            type="percentage", value=5,
        )  # fmt: skip
        # The key is checked when the transaction commits; this asks for it now.
        connection.check_constraints()


# Code generation


def test_bulk_generation_gives_distinct_codes_from_the_alphabet_with_the_prefix():
    codes = coupon_codes_generate(20_000, prefix="vip-")
    assert len(codes) == len(set(codes)) == 20_000
    assert all(c.startswith("VIP-") and len(c) == 12 for c in codes)
    assert set("".join(c[4:] for c in codes)) == set(ALPHABET)


def test_bulk_generation_skips_codes_already_taken():
    taken = set(coupon_codes_generate(1000, length=4))
    fresh = coupon_codes_generate(1000, length=4, exclude=taken)
    assert not taken & set(fresh)


def test_a_million_codes_are_generated_in_a_few_seconds():
    started = time.perf_counter()
    codes = coupon_codes_generate(1_000_000)
    assert len(set(codes)) == 1_000_000
    assert time.perf_counter() - started < 10  # about one second on one core


# Validate


def validate(merchant, code, **order):
    with scope(merchant=merchant):
        return services.coupon_validate(merchant=merchant, code=code, **order)


def test_a_valid_code_computes_the_discount_for_each_type(trio):
    pct = issue_coupon(trio.merchant, type="percentage", value="12.5")
    fixed = issue_coupon(trio.merchant, type="fixed_amount", value="50")
    ship = issue_coupon(trio.merchant, type="free_shipping")
    assert validate(trio.merchant, pct.code, order_total="80").discount == Decimal("10.00")
    assert validate(trio.merchant, fixed.code, order_total="30").discount == Decimal("30.00")
    free = validate(trio.merchant, ship.code, order_total="30")
    assert (free.valid, free.free_shipping, free.discount) == (True, True, Decimal("0.00"))


def test_validation_explains_each_reason_a_code_fails(trio):
    now = timezone.now()
    later = issue_coupon(trio.merchant, starts_at=now + datetime.timedelta(days=1))
    minimum = issue_coupon(trio.merchant, minimum_order="100")
    products = issue_coupon(trio.merchant, applies_to={"kind": "products", "ids": ["p1"]})
    collections = issue_coupon(trio.merchant, applies_to={"kind": "collections", "ids": ["c1"]})
    used = issue_coupon(trio.merchant)
    deleted = issue_coupon(trio.merchant)
    expired = issue_coupon(trio.merchant, expires_at=now + datetime.timedelta(hours=1))
    with scope(merchant=trio.merchant):
        services.coupon_redeem(
            merchant=trio.merchant, coupon=used, actor=ACTOR, order_reference="#1"
        )
        services.coupon_delete(merchant=trio.merchant, coupon=deleted, actor=ACTOR, reason="test")
    reasons = {
        "NOSUCHCODE": validate(trio.merchant, "NOSUCHCODE").reason,
        "later": validate(trio.merchant, later.code).reason,
        "minimum": validate(trio.merchant, minimum.code, order_total="99.99").reason,
        "products": validate(trio.merchant, products.code, product_ids=["p2"]).reason,
        "collections": validate(trio.merchant, collections.code, collection_ids=["c2"]).reason,
        "used": validate(trio.merchant, used.code).reason,
        "deleted": validate(trio.merchant, deleted.code).reason,
    }
    assert reasons == {
        "NOSUCHCODE": "not_found",
        "later": "not_started",
        "minimum": "below_minimum",
        "products": "not_applicable",
        "collections": "not_applicable",
        "used": "used",
        "deleted": "deleted",
    }
    with time_machine.travel(now + datetime.timedelta(hours=2)):
        assert validate(trio.merchant, expired.code).reason == "expired"
    assert validate(trio.merchant, products.code, product_ids=["p1", "p9"]).valid
    assert validate(trio.merchant, minimum.code, order_total="100").valid


def test_validation_never_finds_another_merchants_code(trio):
    theirs = issue_coupon(trio.other_merchant)
    result = validate(trio.merchant, theirs.code)
    assert (result.valid, result.reason, result.coupon) == (False, "not_found", None)


# Redeem and roll back


def redeem(merchant, coupon, order="#1", **extra):
    with scope(merchant=merchant):
        return services.coupon_redeem(
            merchant=merchant, coupon=coupon, actor=ACTOR, order_reference=order, **extra
        )


def rollback(merchant, coupon, **extra):
    with scope(merchant=merchant):
        return services.coupon_rollback(merchant=merchant, coupon=coupon, actor=ACTOR, **extra)


def test_using_a_single_use_coupon_marks_it_used_with_the_order_and_removes_the_tag(trio):
    contact = make_contact(trio.merchant)
    coupon = issue_coupon(trio.merchant, contact, label="Rewards Coupon")
    used = redeem(trio.merchant, coupon, "#1001")
    assert (used.status, used.usage_count, used.last_order_reference) == ("used", 1, "#1001")
    assert used.used_at is not None
    assert "Rewards Coupon" not in tags(trio.merchant, contact)
    assert activity_types(trio.merchant, contact)[-2:] == ["coupon_used", "tag_removed"]
    with pytest.raises(services.CouponUsageLimitReached):
        redeem(trio.merchant, coupon, "#1002")


def test_a_multi_use_coupon_stays_available_until_its_limit(trio):
    coupon = issue_coupon(trio.merchant, usage_limit=3)
    assert redeem(trio.merchant, coupon, "#1").status == "available"
    assert redeem(trio.merchant, coupon, "#2").status == "available"
    last = redeem(trio.merchant, coupon, "#3")
    assert (last.status, last.usage_count) == ("used", 3)


def test_redeem_refuses_expired_not_started_deleted_and_small_orders_without_writing(trio):
    now = timezone.now()
    soon = issue_coupon(trio.merchant, expires_at=now + datetime.timedelta(minutes=5))
    later = issue_coupon(trio.merchant, starts_at=now + datetime.timedelta(days=1))
    minimum = issue_coupon(trio.merchant, minimum_order="100")
    deleted = issue_coupon(trio.merchant)
    with scope(merchant=trio.merchant):
        services.coupon_delete(merchant=trio.merchant, coupon=deleted, actor=ACTOR, reason="x")
    with (
        time_machine.travel(now + datetime.timedelta(minutes=6)),
        pytest.raises(services.CouponExpired),
    ):
        redeem(trio.merchant, soon)
    with pytest.raises(services.CouponNotStarted):
        redeem(trio.merchant, later)
    with pytest.raises(services.CouponBelowMinimum):
        redeem(trio.merchant, minimum, order_total="20")
    with pytest.raises(services.CouponNotAvailable):
        redeem(trio.merchant, deleted)
    with pytest.raises(InvalidInput):
        redeem(trio.merchant, minimum, order=" ")
    with scopes_disabled():
        assert not Coupon.objects.filter(usage_count__gt=0).exists()


def test_redeem_with_the_same_key_answers_the_same_and_counts_once(trio):
    coupon = issue_coupon(trio.merchant, usage_limit=5)
    first = redeem(trio.merchant, coupon, "#1", idempotency_key="use-1")
    again = redeem(trio.merchant, coupon, "#1", idempotency_key="use-1")
    assert first.usage_count == again.usage_count == 1
    assert history(trio.merchant, coupon) == ["issued", "used"]


def test_a_single_use_redeem_retried_after_success_answers_the_first_result(trio):
    coupon = issue_coupon(trio.merchant)
    redeem(trio.merchant, coupon, "#1", idempotency_key="use-2")
    again = redeem(trio.merchant, coupon, "#1", idempotency_key="use-2")
    assert (again.status, again.usage_count) == ("used", 1)


def test_a_key_used_for_another_coupon_is_refused(trio):
    one, two = issue_coupon(trio.merchant), issue_coupon(trio.merchant)
    redeem(trio.merchant, one, idempotency_key="k")
    with pytest.raises(services.IdempotencyKeyReused):
        redeem(trio.merchant, two, idempotency_key="k")


def test_outsider_cannot_redeem_another_merchants_coupon(trio):
    theirs = issue_coupon(trio.other_merchant)
    with pytest.raises(services.CouponNotFound):
        redeem(trio.merchant, theirs)
    with scopes_disabled():
        theirs.refresh_from_db()
    assert theirs.usage_count == 0


def test_rollback_returns_status_usage_count_and_tag(trio):
    contact = make_contact(trio.merchant)
    coupon = issue_coupon(trio.merchant, contact, label="Birthday Coupon")
    redeem(trio.merchant, coupon, "#55")
    back = rollback(trio.merchant, coupon, order_reference="#55", reason="Order cancelled")
    assert (back.status, back.usage_count, back.used_at, back.last_order_reference) == (
        "available",
        0,
        None,
        "",
    )
    assert "Birthday Coupon" in tags(trio.merchant, contact)
    assert history(trio.merchant, coupon) == ["issued", "used", "rolled_back"]


def test_rollback_needs_a_use_on_that_order(trio):
    coupon = issue_coupon(trio.merchant, usage_limit=2)
    with pytest.raises(services.CouponNotUsed):
        rollback(trio.merchant, coupon)
    redeem(trio.merchant, coupon, "#1")
    with pytest.raises(services.CouponNotUsed):
        rollback(trio.merchant, coupon, order_reference="#2")
    rollback(trio.merchant, coupon, order_reference="#1")
    with pytest.raises(services.CouponNotUsed):
        rollback(trio.merchant, coupon, order_reference="#1")


def test_rollback_after_the_expiry_date_leaves_the_coupon_expired(trio):
    now = timezone.now()
    coupon = issue_coupon(trio.merchant, expires_at=now + datetime.timedelta(hours=1))
    redeem(trio.merchant, coupon)
    with time_machine.travel(now + datetime.timedelta(hours=2)):
        back = rollback(trio.merchant, coupon)
    assert (back.status, back.usage_count) == ("expired", 0)


def test_outsider_cannot_roll_back_another_merchants_coupon(trio):
    theirs = issue_coupon(trio.other_merchant)
    redeem(trio.other_merchant, theirs)
    with pytest.raises(services.CouponNotFound):
        rollback(trio.merchant, theirs)


# Delete and regenerate


def delete(merchant, coupon, reason="Customer asked", **extra):
    with scope(merchant=merchant):
        return services.coupon_delete(
            merchant=merchant, coupon=coupon, actor=ACTOR, reason=reason, **extra
        )


def test_delete_records_who_and_why_and_removes_the_tag(trio):
    contact = make_contact(trio.merchant)
    coupon = issue_coupon(trio.merchant, contact, label="Re-invitation Coupon")
    gone = delete(trio.merchant, coupon, "Sent by mistake")
    assert (gone.status, gone.deleted_by, gone.delete_reason) == (
        "deleted",
        "Tests",
        "Sent by mistake",
    )
    assert gone.deleted_at is not None
    assert "Re-invitation Coupon" not in tags(trio.merchant, contact)
    assert delete(trio.merchant, coupon).deleted_at == gone.deleted_at  # twice: no change


def test_the_tag_stays_while_another_available_coupon_has_the_label(trio):
    contact = make_contact(trio.merchant)
    first = issue_coupon(trio.merchant, contact, label="Birthday Coupon")
    issue_coupon(trio.merchant, contact, label="birthday coupon")
    delete(trio.merchant, first)
    assert tags(trio.merchant, contact) == ["Birthday Coupon"]


def test_delete_needs_a_reason_and_refuses_a_used_coupon(trio):
    coupon = issue_coupon(trio.merchant)
    with pytest.raises(InvalidInput):
        delete(trio.merchant, coupon, reason=" ")
    redeem(trio.merchant, coupon)
    with pytest.raises(services.CouponNotAvailable):
        delete(trio.merchant, coupon)


def test_outsider_cannot_delete_another_merchants_coupon(trio):
    theirs = issue_coupon(trio.other_merchant)
    with pytest.raises(services.CouponNotFound):
        delete(trio.merchant, theirs)


def test_removing_a_coupon_chip_deletes_the_available_coupons_with_that_label(trio):
    contact = make_contact(trio.merchant)
    issue_coupon(trio.merchant, contact, label="Rewards Coupon")
    keep = issue_coupon(trio.merchant, contact, label="Birthday Coupon")
    with scope(merchant=trio.merchant):
        gone = services.coupons_delete_by_label(
            merchant=trio.merchant, contact=contact, label="Rewards Coupon", actor=ACTOR,
            reason="Removed from the profile",
        )  # fmt: skip
        assert [c.status for c in gone] == ["deleted"]
        assert list(selectors.available_coupons(trio.merchant, contact)) == [keep]
    assert tags(trio.merchant, contact) == ["Birthday Coupon"]


def test_regenerate_deletes_the_old_code_and_issues_the_same_terms_in_one_step(trio):
    contact = make_contact(trio.merchant)
    expires = timezone.now() + datetime.timedelta(days=30)
    old = issue_coupon(
        trio.merchant, contact, label="Birthday Coupon", type="fixed_amount", value="40",
        usage_limit=2, minimum_order="100", prefix="BDAY",
        applies_to={"kind": "products", "ids": ["p1"]}, expires_at=expires,
    )  # fmt: skip
    with scope(merchant=trio.merchant):
        new = services.coupon_regenerate(merchant=trio.merchant, coupon=old, actor=ACTOR)
        old.refresh_from_db()
    assert old.status == "deleted" and old.delete_reason == "Delete and generate new"
    assert new.code != old.code and new.code.startswith("BDAY")
    terms = ("label", "type", "value", "usage_limit", "minimum_order", "applies_to", "expires_at")
    assert [getattr(new, t) for t in terms] == [getattr(old, t) for t in terms]
    assert (new.status, new.regenerated_from_id) == ("available", old.pk)
    assert history(trio.merchant, old) == ["issued", "deleted", "regenerated"]
    assert tags(trio.merchant, contact) == ["Birthday Coupon"]


def test_regenerate_with_the_same_key_returns_the_first_new_coupon(trio):
    old = issue_coupon(trio.merchant)
    with scope(merchant=trio.merchant):
        new = services.coupon_regenerate(
            merchant=trio.merchant, coupon=old, actor=ACTOR, idempotency_key="regen"
        )
        again = services.coupon_regenerate(
            merchant=trio.merchant, coupon=old, actor=ACTOR, idempotency_key="regen"
        )
    assert again.pk == new.pk
    with scopes_disabled():
        assert Coupon.objects.count() == 2


def test_a_used_coupon_cannot_be_regenerated(trio):
    coupon = issue_coupon(trio.merchant)
    redeem(trio.merchant, coupon)
    with scope(merchant=trio.merchant), pytest.raises(services.CouponNotAvailable):
        services.coupon_regenerate(merchant=trio.merchant, coupon=coupon, actor=ACTOR)


# Expiry


def test_the_periodic_task_expires_due_coupons_of_every_merchant_and_removes_tags(trio):
    now = timezone.now()
    contact = make_contact(trio.merchant)
    due = issue_coupon(trio.merchant, contact, expires_at=now + datetime.timedelta(hours=1))
    theirs = issue_coupon(trio.other_merchant, expires_at=now + datetime.timedelta(hours=1))
    later = issue_coupon(trio.merchant, expires_at=now + datetime.timedelta(days=9))
    used = issue_coupon(trio.merchant, expires_at=now + datetime.timedelta(hours=1))
    redeem(trio.merchant, used)
    with time_machine.travel(now + datetime.timedelta(hours=2)):
        assert tasks.coupons_expire_due.call() == 2
        assert tasks.coupons_expire_due.call() == 0
    with scopes_disabled():
        statuses = {c.pk: c.status for c in Coupon.objects.all()}
    assert statuses == {
        due.pk: "expired",
        theirs.pk: "expired",
        later.pk: "available",
        used.pk: "used",
    }
    assert history(trio.merchant, due)[-1] == "expired"
    assert "Birthday Coupon" not in tags(trio.merchant, contact)


def test_the_expiry_task_is_registered_as_periodic():
    from django.conf import settings

    assert ("patron.coupons.tasks.coupons_expire_due", 300) in settings.PATRON_PERIODIC_TASKS


# Timeline


def test_every_coupon_event_has_a_sentence_on_the_timeline(trio):
    from patron.contacts.templatetags.activity import describe_event

    contact = make_contact(trio.merchant)
    coupon = issue_coupon(trio.merchant, contact, usage_limit=2)
    redeem(trio.merchant, coupon, "#1")
    rollback(trio.merchant, coupon)
    with scope(merchant=trio.merchant):
        services.coupon_record_sent(
            merchant=trio.merchant, coupon=coupon, actor=ACTOR, channel="sms", to="+84900000000"
        )
        services.coupon_record_synced(
            merchant=trio.merchant, coupon=coupon, actor=ACTOR, platform="shopify"
        )
        new = services.coupon_regenerate(merchant=trio.merchant, coupon=coupon, actor=ACTOR)
        delete(trio.merchant, new)
        events = list(ActivityEvent.objects.filter(contact=contact, type__startswith="coupon_"))
    texts = {e.type: str(describe_event(e)) for e in events}
    assert set(texts) == {
        "coupon_issued", "coupon_used", "coupon_rolled_back", "coupon_sent", "coupon_synced",
        "coupon_deleted", "coupon_regenerated",
    }  # fmt: skip
    assert texts["coupon_used"] == f"Coupon {coupon.code} used on order #1"
    assert all("_" not in text for text in texts.values())


def test_regenerate_can_correct_a_wrong_value_in_the_same_step(trio):
    old = issue_coupon(trio.merchant, type="fixed_amount", value="20")
    with scope(merchant=trio.merchant):
        new = services.coupon_regenerate(
            merchant=trio.merchant, coupon=old, actor=ACTOR, reason="Wrong value",
            type="percentage", value="20",
        )  # fmt: skip
    assert (new.type, new.value, new.label) == ("percentage", Decimal("20.00"), old.label)
