"""A contact's coupons in the privacy export and erasure.

Coupons stay (their codes, uses and values feed the reports and the order history);
only what names the customer in their labels and event data goes.
"""

from typing import Any

from patron.contacts.models import Contact
from patron.contacts.privacy import personal_values, redact_rows
from patron.coupons.models import Coupon, CouponEvent
from patron.lib.actors import Actor
from patron.tenants.models import Merchant


def coupons_export(merchant: Merchant, contact: Contact) -> list[dict[str, Any]]:
    coupons = Coupon.objects.filter(merchant=merchant, contact=contact).order_by("pk")
    return [
        {
            "code": coupon.code,
            "label": coupon.label,
            "type": coupon.type,
            "value": coupon.value,
            "status": coupon.status,
            "usage_count": coupon.usage_count,
            "events": [event.as_dict() for event in coupon.events.order_by("at", "pk")],
        }
        for coupon in coupons
    ]


def coupons_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    values = personal_values(contact)
    coupons = Coupon.objects.filter(merchant=merchant, contact=contact)
    redact_rows(coupons, ["label"], values)
    events = CouponEvent.objects.filter(merchant=merchant, coupon__in=coupons)
    redact_rows(events, ["data"], values)
    redact_rows(
        CouponEvent.objects.filter(merchant=merchant, actor_kind="customer"),
        ["actor_label"],
        values,
    )
