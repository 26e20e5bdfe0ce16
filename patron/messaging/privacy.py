"""A contact's messages and opt-outs in the privacy export and erasure.

Erasure keeps each message row (counts, statuses and costs in the reports) without its
recipient, subject or body. Opt-outs of the contact's addresses are deleted with the
addresses: the number may later belong to someone else, who has not opted out.
"""

from typing import Any

from django.db.models import Q, QuerySet

from patron.contacts.models import Contact
from patron.contacts.privacy import ERASED, personal_values, redact_rows
from patron.lib.actors import Actor
from patron.messaging.models import Message, Notification, Suppression
from patron.tenants.models import Merchant


def _addresses(contact: Contact) -> list[str]:
    return [a for a in (str(contact.phone or ""), contact.email or "") if a]


def _messages(merchant: Merchant, contact: Contact) -> "QuerySet[Message]":
    # Messages sent to the address before it was the contact's (a sign-in code) count too.
    return Message.objects.filter(merchant=merchant).filter(
        Q(contact=contact) | Q(to__in=_addresses(contact))
    )


def _suppressions(merchant: Merchant, contact: Contact) -> "QuerySet[Suppression]":
    return Suppression.objects.filter(merchant=merchant).filter(
        Q(contact=contact) | Q(address__in=_addresses(contact))
    )


def messaging_export(merchant: Merchant, contact: Contact) -> dict[str, Any]:
    return {
        "messages": list(
            _messages(merchant, contact)
            .order_by("pk")
            .values("channel", "to", "subject", "body", "status", "marketing", "created_at")
        ),
        "opt_outs": list(
            _suppressions(merchant, contact).values("channel", "address", "source", "created_at")
        ),
    }


def messaging_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    _messages(merchant, contact).update(to=ERASED, subject="", body="", error="")
    _suppressions(merchant, contact).delete()
    values = personal_values(contact)
    # Staff notifications ("Lan replied STOP") and customer actor labels may name them.
    redact_rows(Notification.objects.filter(merchant=merchant), ["text"], values)
    by_customer = Message.objects.filter(merchant=merchant, actor_kind="customer")
    redact_rows(by_customer, ["actor_label"], values)
