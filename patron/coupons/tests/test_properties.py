"""Random redeem / rollback / delete / expire sequences never break the usage rules."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.contacts import selectors as contact_selectors
from patron.coupons import selectors, services
from patron.coupons.models import CouponStatus
from patron.coupons.tests.factories import ACTOR, issue_coupon, make_contact
from patron.lib.errors import PatronError

pytestmark = pytest.mark.django_db

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), st.integers(1, 4)),  # order number
        st.tuples(st.just("rollback"), st.integers(0, 4)),  # 0: the last order
        st.tuples(st.just("delete"), st.just(0)),
        st.tuples(st.just("expire"), st.just(0)),
    ),
    max_size=25,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(usage_limit=st.integers(1, 4), steps=STEPS)
def test_usage_count_never_exceeds_the_limit_and_matches_the_history(trio, usage_limit, steps):
    merchant = trio.merchant
    start = timezone.now()
    contact = make_contact(merchant)
    coupon = issue_coupon(
        merchant, contact, usage_limit=usage_limit, expires_at=start + datetime.timedelta(days=1)
    )
    clock = start
    for action, order in steps:
        if action == "expire":
            clock = start + datetime.timedelta(days=2)
        with time_machine.travel(clock, tick=False), scope(merchant=merchant):
            try:
                if action == "redeem":
                    services.coupon_redeem(
                        merchant=merchant, coupon=coupon, actor=ACTOR, order_reference=f"#{order}"
                    )
                elif action == "rollback":
                    services.coupon_rollback(
                        merchant=merchant,
                        coupon=coupon,
                        actor=ACTOR,
                        order_reference=f"#{order}" if order else "",
                    )
                elif action == "delete":
                    services.coupon_delete(
                        merchant=merchant, coupon=coupon, actor=ACTOR, reason="random"
                    )
                else:
                    services.coupons_expire(merchant=merchant)
            except PatronError:
                pass  # a refusal is fine; the invariants below must hold either way
            coupon.refresh_from_db()
            history = [e.type for e in selectors.coupon_events(merchant, coupon)]
            available = selectors.available_coupons(merchant, contact).exists()
            tags = contact_selectors.contact_tag_names(
                contact_selectors.contact_get(merchant, contact.pk)
            )
        assert 0 <= coupon.usage_count <= coupon.usage_limit
        assert coupon.usage_count == history.count("used") - history.count("rolled_back")
        if coupon.status == CouponStatus.USED:
            assert coupon.usage_count == coupon.usage_limit
        if coupon.status == CouponStatus.AVAILABLE:
            assert coupon.usage_count < coupon.usage_limit
        assert history.count("deleted") <= 1
        assert available == (coupon.status == CouponStatus.AVAILABLE)
        assert ("Birthday Coupon" in tags) == available
