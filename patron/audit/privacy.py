"""The audit trail in a contact's erasure.

The trail keeps who did what and when; snapshots of other objects (a membership, a
coupon) that copied the customer's phone or name lose their before/after, and a
customer named in the actor column is renamed.
"""

from patron.audit.models import AuditEntry
from patron.contacts.models import Contact
from patron.contacts.privacy import personal_values, redact_rows
from patron.lib.actors import Actor
from patron.tenants.models import Merchant


def audit_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    values = personal_values(contact)
    entries = AuditEntry.objects.filter(merchant=merchant)
    redact_rows(entries, ["before", "after", "object_label"], values)
    redact_rows(entries.filter(actor_kind="customer"), ["actor_label"], values)
