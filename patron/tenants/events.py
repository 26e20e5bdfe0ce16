"""Past-tense events about who may use the staff app and the API, for the merchant's record.

They carry no contact: they belong to the merchant at large, and answer "who gave Lan
access, who removed her and why, who revoked the POS key".
"""

from patron.contacts.events import record
from patron.contacts.models import ActivityEvent
from patron.lib.actors import Actor
from patron.tenants.models import ApiKey, Merchant

TYPES = (
    "staff_invited",
    "staff_role_changed",
    "staff_removed",
    "api_key_created",
    "api_key_revoked",
)


def staff_invited(*, merchant: Merchant, actor: Actor, email: str, role: str) -> ActivityEvent:
    return record(
        merchant=merchant, type="staff_invited", actor=actor, data={"email": email, "role": role}
    )


def staff_role_changed(
    *, merchant: Merchant, actor: Actor, email: str, before: str, after: str
) -> ActivityEvent:
    return record(
        merchant=merchant,
        type="staff_role_changed",
        actor=actor,
        data={"email": email, "before": before, "after": after},
    )


def staff_removed(*, merchant: Merchant, actor: Actor, email: str, reason: str) -> ActivityEvent:
    return record(
        merchant=merchant,
        type="staff_removed",
        actor=actor,
        data={"email": email, "reason": reason},
    )


def api_key_created(*, merchant: Merchant, actor: Actor, key: ApiKey) -> ActivityEvent:
    return record(
        merchant=merchant,
        type="api_key_created",
        actor=actor,
        data={"key_id": str(key.pk), "name": key.name, "prefix": key.prefix},
    )


def api_key_revoked(*, merchant: Merchant, actor: Actor, key: ApiKey, reason: str) -> ActivityEvent:
    return record(
        merchant=merchant,
        type="api_key_revoked",
        actor=actor,
        data={"key_id": str(key.pk), "name": key.name, "prefix": key.prefix, "reason": reason},
    )
