"""Issuing many coupons at once: one contact, the same terms, fresh unique codes."""

import random
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.contacts.services import ContactNotFound
from patron.coupons import codes, services
from patron.coupons.codes import ALPHABET
from patron.coupons.models import Coupon, CouponEvent, CouponStatus
from patron.coupons.tests.factories import ACTOR, make_contact
from patron.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


def issue_bulk(merchant, contact, count, **terms):
    terms.setdefault("label", "Summer Campaign")
    terms.setdefault("type", "fixed_amount")
    terms.setdefault("value", "20000")
    with scope(merchant=merchant):
        return services.coupons_issue_bulk(
            merchant=merchant, contact=contact, actor=ACTOR, count=count, **terms
        )


def batch(merchant, done):
    with scope(merchant=merchant):
        return list(Coupon.objects.filter(merchant=merchant, reference=done.reference))


def test_bulk_issue_stores_that_many_available_coupons_with_distinct_readable_codes(trio):
    contact = make_contact(trio.merchant)
    done = issue_bulk(trio.merchant, contact, 300, prefix="sum-", usage_limit=2)
    coupons = batch(trio.merchant, done)
    assert done.count == len(coupons) == 300
    assert len({c.code for c in coupons}) == 300
    for coupon in coupons:
        assert coupon.code.startswith("SUM-")
        assert set(coupon.code.removeprefix("SUM-")) <= set(ALPHABET)
        assert coupon.status == CouponStatus.AVAILABLE
        assert (coupon.contact_id, coupon.label, coupon.value) == (
            contact.pk,
            "Summer Campaign",
            Decimal("20000.00"),
        )
        assert (coupon.usage_limit, coupon.usage_count) == (2, 0)
        assert coupon.applies_to == {"kind": "all", "ids": []}
        assert coupon.expires_at is None


def test_bulk_issue_is_one_timeline_event_and_the_label_tag_not_a_history_per_coupon(trio):
    contact = make_contact(trio.merchant)
    done = issue_bulk(trio.merchant, contact, 50)
    with scope(merchant=trio.merchant):
        events = list(ActivityEvent.objects.filter(merchant=trio.merchant, contact=contact))
        assert not CouponEvent.objects.filter(merchant=trio.merchant).exists()
    bulk = [e for e in events if e.type == "coupon_bulk_issued"]
    assert len(bulk) == 1
    assert bulk[0].data["count"] == 50
    assert bulk[0].data["reference"] == done.reference
    assert "tag_added" in {e.type for e in events}


def test_codes_already_taken_are_drawn_again(trio, monkeypatch):
    contact = make_contact(trio.merchant)
    # The operating system's randomness made repeatable, so the second batch starts
    # with exactly the codes the first one took.
    stream = random.Random(4)
    monkeypatch.setattr(codes, "os", SimpleNamespace(urandom=stream.randbytes))
    first = issue_bulk(trio.merchant, contact, 20, reference="first")
    stream.seed(4)
    second = issue_bulk(trio.merchant, contact, 20, reference="second")
    assert second.redrawn == 20
    taken = {c.code for c in batch(trio.merchant, first)}
    fresh = {c.code for c in batch(trio.merchant, second)}
    assert len(taken) == len(fresh) == 20
    assert not taken & fresh


def test_bulk_issue_checks_the_terms_once_for_all(trio):
    contact = make_contact(trio.merchant)
    with pytest.raises(InvalidInput):
        issue_bulk(trio.merchant, contact, 0)
    with pytest.raises(InvalidInput):
        issue_bulk(trio.merchant, contact, 10, type="percentage", value="120")
    with pytest.raises(InvalidInput):
        issue_bulk(trio.merchant, contact, 10, prefix="no spaces")
    with scope(merchant=trio.merchant):
        assert not Coupon.objects.filter(merchant=trio.merchant).exists()


def test_outsider_cannot_bulk_issue_to_another_merchants_contact(trio):
    contact = make_contact(trio.merchant)
    with pytest.raises(ContactNotFound):
        issue_bulk(trio.other_merchant, contact, 10)
    with scope(merchant=trio.merchant):
        assert not Coupon.objects.filter(contact=contact).exists()
