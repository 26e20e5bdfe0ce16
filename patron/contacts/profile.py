"""The contact profile's frame: the head with coupon chips, and the tab bar.

Each tab is its own URL (/contacts/<id>/<tab>/) rendered by the app that owns its data
(Points and Membership by loyalty, Discount Codes by coupons), on a template that
extends "contacts/profile.html" and fills `tab_content`. `profile_context` gives every
tab the same head, so a person switching tabs sees the same customer at the top.
"""

from dataclasses import dataclass
from typing import Any

from django.http import Http404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from patron.contacts import selectors
from patron.contacts.models import Contact
from patron.coupons import selectors as coupon_selectors
from patron.tenants.http import StaffRequest


@dataclass(frozen=True)
class Tab:
    key: str
    label: str | Promise
    url_name: str


# In the order of the seeds' menu bar: Activity first, the default (seed 002).
TABS = [
    Tab("activity", _("Activity"), "contacts:activity"),
    Tab("points", _("Points"), "contacts:points"),
    Tab("discount_codes", _("Discount Codes"), "contacts:discount_codes"),
    Tab("membership", _("Membership"), "contacts:membership"),
]


def profile_contact(request: StaffRequest, contact_id: int) -> Contact:
    contact = selectors.contact_get(request.merchant, contact_id)
    if contact is None:
        # Unknown, deleted and other merchants' contacts all look the same.
        raise Http404
    return contact


def profile_context(request: StaffRequest, contact: Contact, tab: str) -> dict[str, Any]:
    return {
        "section": "contacts",
        "contact": contact,
        "tab": tab,
        # Seed 000: the available coupons are tags in the profile's upper left corner.
        "chips": list(coupon_selectors.available_coupons(request.merchant, contact)),
        "tabs": [
            {
                "key": t.key,
                "label": t.label,
                "url": reverse(t.url_name, args=[contact.pk]),
                "current": t.key == tab,
            }
            for t in TABS
        ],
    }
