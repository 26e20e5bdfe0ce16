"""Merge fields in message templates: {first_name}, {points}, {coupon_code}, ...

Templates are written by staff and rendered for customers, so they reach nothing but
the values below: a plain substitution of known names, never a template engine that
could walk attributes of our objects.
"""

import re
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from patron.contacts.models import Contact
from patron.tenants.models import Merchant

MERGE_FIELD = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
# Anything in braces, to catch {contact.email} or {x.__class__} when a template is saved.
BRACED = re.compile(r"\{\s*([^{}\s]+)\s*\}")

# Every field a template may use, with the help the template editor shows.
MERGE_FIELDS = {
    "first_name": _("the contact's first name"),
    "last_name": _("the contact's last name"),
    "name": _("the contact's full name"),
    "points": _("available points"),
    "tier": _("the member's tier"),
    "coupon_code": _("the coupon code the message is about"),
    "portal_link": _("the link to the customer page"),
    "merchant": _("the business name"),
    "expiring_points": _("the points that expire soon (points-expiring reminder)"),
    "points_expire_on": _("the date those points expire"),
}

# A preview shows these where a real contact would give values.
SAMPLE_VALUES = {
    "first_name": "Mark",
    "last_name": "Nguyen",
    "name": "Mark Nguyen",
    "points": "1250",
    "tier": "Gold",
    "coupon_code": "BDAY-7K3Q9",
    "expiring_points": "300",
    "points_expire_on": "2026-12-31",
}


def unknown_fields(text: str) -> list[str]:
    return sorted({m.group(1) for m in BRACED.finditer(text)} - set(MERGE_FIELDS))


def render(text: str, values: dict[str, str]) -> str:
    """Replace known fields with their value; an unknown {word} stays as it was typed."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in MERGE_FIELDS:
            return values.get(name, "")
        return match.group(0)

    return MERGE_FIELD.sub(replace, text)


def portal_link(merchant: Merchant) -> str:
    try:
        path = reverse("portal:home", kwargs={"slug": merchant.slug})
    except NoReverseMatch:
        path = f"/p/{merchant.slug}/"
    return settings.SITE_URL + path


def _member_values(merchant: Merchant, contact: Contact) -> dict[str, str]:
    # Loyalty is another app; without it (or without a member) the fields are empty.
    try:
        from patron.loyalty.selectors import member_for_contact
    except ImportError:
        return {}
    member = member_for_contact(merchant, contact)
    if member is None:
        return {}
    tier = getattr(member, "tier", None)
    return {
        "points": str(getattr(member, "points_available", "") or 0),
        "tier": str(getattr(tier, "name", "") or ""),
    }


def values_for(
    merchant: Merchant, contact: Contact | None, context: dict[str, Any] | None = None
) -> dict[str, str]:
    values = {"merchant": merchant.name, "portal_link": portal_link(merchant)}
    if contact is not None:
        values |= {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "name": contact.full_name,
        }
        values |= _member_values(merchant, contact)
    # The caller's values (a coupon code an automation just issued) win, but only for
    # the known fields, and only as text.
    for key, value in (context or {}).items():
        if key in MERGE_FIELDS and value is not None:
            values[key] = str(value)
    return values
