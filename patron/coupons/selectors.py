"""Reads of coupons. The merchant comes first, always."""

import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from patron.contacts.models import Contact
from patron.coupons.codes import normalize_code
from patron.coupons.models import Coupon, CouponEvent, CouponStatus
from patron.tenants.models import Merchant


def coupons(merchant: Merchant) -> QuerySet[Coupon]:
    return Coupon.objects.filter(merchant=merchant).select_related("contact", "regenerated_from")


def contact_coupons(merchant: Merchant, contact: Contact) -> QuerySet[Coupon]:
    """Every coupon of the contact, newest first."""
    return coupons(merchant).filter(contact=contact).order_by("-created_at", "-pk")


def available_coupons(merchant: Merchant, contact: Contact) -> QuerySet[Coupon]:
    """ "Available Discount Codes": the contact's coupons that can still be used."""
    return contact_coupons(merchant, contact).filter(status=CouponStatus.AVAILABLE)


def past_coupons(merchant: Merchant, contact: Contact) -> QuerySet[Coupon]:
    """ "Past Discount Codes": used, deleted and expired."""
    return contact_coupons(merchant, contact).exclude(status=CouponStatus.AVAILABLE)


def coupon_get(merchant: Merchant, coupon_id: int | str) -> Coupon | None:
    try:
        pk = int(coupon_id)
    except (TypeError, ValueError):
        return None
    return coupons(merchant).filter(pk=pk).first()


def coupon_by_code(merchant: Merchant, code: str) -> Coupon | None:
    return coupons(merchant).filter(code=normalize_code(code)).first()


def coupon_events(merchant: Merchant, coupon: Coupon) -> QuerySet[CouponEvent]:
    """The coupon's whole history, oldest first (the "Event Data" JSON)."""
    return CouponEvent.objects.filter(merchant=merchant, coupon=coupon).order_by("at", "pk")


def merchants_with_coupons_due(now: datetime.datetime | None = None) -> list[int]:
    """Ids of merchants that have available coupons past their expiry.

    The one cross-merchant read of this app: the periodic expiry task needs it to know
    which scopes to open.
    """
    with scopes_disabled():
        return list(
            Coupon.objects.filter(
                status=CouponStatus.AVAILABLE, expires_at__lte=now or timezone.now()
            )
            .values_list("merchant_id", flat=True)
            .distinct()
            .order_by("merchant_id")
        )
