"""The customer page's sign-in codes of a contact's phone, in the export and erasure.

The page's session lives in a signed cookie in the customer's browser, not with us; the
one-time codes (hashed, with the phone they were sent to) are all we keep.
"""

from typing import Any

from django.db.models import QuerySet

from patron.contacts.models import Contact
from patron.lib.actors import Actor
from patron.portal.models import OneTimeCode
from patron.tenants.models import Merchant


def _codes(merchant: Merchant, contact: Contact) -> "QuerySet[OneTimeCode]":
    if not contact.phone:
        return OneTimeCode.objects.none()
    return OneTimeCode.objects.filter(merchant=merchant, phone=str(contact.phone))


def portal_export(merchant: Merchant, contact: Contact) -> list[dict[str, Any]]:
    return [
        {
            "phone": code.phone,
            "asked_at": code.created_at,
            "used_at": code.used_at,
            "client_address": code.client_address,
        }
        for code in _codes(merchant, contact).order_by("pk")
    ]


def portal_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    _codes(merchant, contact).delete()
