"""Reads of contacts and their activity. The merchant comes first, always."""

import re

from django.db.models import Prefetch, Q, QuerySet

from patron.contacts.models import ActivityEvent, Contact, ContactTag
from patron.lib.phones import try_parse_phone
from patron.lib.text import fold
from patron.tenants.models import Merchant

_NON_DIGITS = re.compile(r"\D")


def contacts(merchant: Merchant) -> QuerySet[Contact]:
    """Live contacts of the merchant with their tags, newest first."""
    return (
        Contact.objects.filter(merchant=merchant, deleted_at__isnull=True)
        .prefetch_related(
            Prefetch(
                "contact_tags",
                queryset=ContactTag.objects.select_related("tag").order_by("added_at"),
            )
        )
        .order_by("-id")
    )


def contact_search(merchant: Merchant, q: str | None) -> QuerySet[Contact]:
    """Search by name (accents ignored), phone in any format, email or contact id."""
    found = contacts(merchant)
    q = (q or "").strip()
    if not q:
        return found
    match = Q()
    phone = try_parse_phone(q, merchant.country)
    if phone:
        match |= Q(phone=phone)
    digits = _NON_DIGITS.sub("", q)
    if digits and len(digits) == len(q.replace(" ", "")) and len(digits) <= 18:
        match |= Q(pk=int(digits))
    if len(digits) >= 4 and len(digits) >= len(q) // 2:
        # Part of a number as typed at the counter: the last digits, or the national
        # number without its leading zero.
        partial = digits[1:] if digits.startswith("0") and len(digits) >= 9 else digits
        match |= Q(phone__contains=partial)
    if "@" in q:
        match |= Q(email__icontains=q.lower())
    words = fold(q).split()
    if words:
        name_match = Q()
        for word in words:
            name_match &= Q(search_text__contains=word)
        match |= name_match
    return found.filter(match)


def contact_get(merchant: Merchant, contact_id: int | str) -> Contact | None:
    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        return None
    return contacts(merchant).filter(pk=pk).first()


def contact_tag_names(contact: Contact) -> list[str]:
    """Tag names of a contact fetched by `contacts()` (uses the prefetch)."""
    return [ct.tag.name for ct in contact.contact_tags.all()]


def activity(merchant: Merchant, contact: Contact) -> QuerySet[ActivityEvent]:
    return ActivityEvent.objects.filter(merchant=merchant, contact=contact).order_by("-at", "-id")
