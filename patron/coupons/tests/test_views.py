from decimal import Decimal

import pytest
from django_scopes import scope

from patron.contacts.services import contact_create
from patron.coupons.models import CouponStatus
from patron.coupons.services import coupon_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def coupon(trio):
    with scope(merchant=trio.merchant):
        mark = contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark", phone="0980000000"
        )
        return coupon_issue(
            merchant=trio.merchant,
            contact=mark,
            actor=trio.actor,
            label="Birthday Coupon",
            type="percentage",
            value=Decimal(20),
        )


def test_removing_a_chip_deletes_the_coupon_with_the_reason_and_who(trio, coupon):
    client = trio.login(trio.bob)
    client.post(f"/coupons/{coupon.pk}/delete/", {"reason": "Customer asked"})
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.DELETED
    assert coupon.delete_reason == "Customer asked"
    assert coupon.deleted_by == "bob@example.com"


def test_outsider_cannot_delete_or_regenerate_another_merchants_coupon(trio, coupon):
    charlie = trio.login(trio.charlie)
    assert charlie.post(f"/coupons/{coupon.pk}/delete/", {"reason": "x"}).status_code == 404
    assert charlie.post(f"/coupons/{coupon.pk}/regenerate/", {"reason": "x"}).status_code == 404
    assert charlie.get(f"/contacts/{coupon.contact_id}/discount-codes/").status_code == 404
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.AVAILABLE
