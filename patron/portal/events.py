"""Domain events of the customer page, written to the activity timeline."""

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent, Contact
from patron.lib.actors import Actor
from patron.tenants.models import Merchant


def member_joined_on_page(*, contact: Contact, actor: Actor, phone: str) -> ActivityEvent:
    # The consent the customer ticked is the reason they may be messaged: keep it.
    return record(
        merchant=contact.merchant,
        type="member_joined_on_page",
        actor=actor,
        contact=contact,
        data={"phone": phone, "consent": True},
    )


def portal_settings_changed(*, merchant: Merchant, actor: Actor) -> ActivityEvent:
    return record(merchant=merchant, type="portal_settings_changed", actor=actor)
