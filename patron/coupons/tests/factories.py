"""Coupons for tests, issued through the service so events and tags are real."""

from decimal import Decimal
from typing import Any

from django_scopes import scope

from patron.contacts.models import Contact
from patron.coupons import services
from patron.coupons.models import Coupon
from patron.factories import ContactFactory
from patron.lib.actors import Actor
from patron.tenants.models import Merchant

ACTOR = Actor.system("Tests")


def make_contact(merchant: Merchant, **fields: Any) -> Contact:
    return ContactFactory(merchant=merchant, **fields)


def issue_coupon(merchant: Merchant, contact: Contact | None = None, **terms: Any) -> Coupon:
    """A coupon as staff would issue it: 10% off, single use, unless told otherwise."""
    contact = contact or make_contact(merchant)
    terms.setdefault("label", "Birthday Coupon")
    terms.setdefault("type", "percentage")
    terms.setdefault("value", Decimal("10"))
    with scope(merchant=merchant):
        return services.coupon_issue(merchant=merchant, contact=contact, actor=ACTOR, **terms)
