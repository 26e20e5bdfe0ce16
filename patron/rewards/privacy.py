"""A contact's redemptions in the privacy export and erasure.

Redemptions stay with their points and values (the dashboard counts them); a note that
names the customer loses the name.
"""

from typing import Any

from django.db.models import Q

from patron.contacts.models import Contact
from patron.contacts.privacy import personal_values, redact_rows
from patron.lib.actors import Actor
from patron.rewards.models import Redemption
from patron.tenants.models import Merchant


def _redemptions(merchant: Merchant, contact: Contact) -> Any:
    mine = Q(member__contact=contact)
    if contact.phone:
        mine |= Q(member__phone=str(contact.phone))
    return Redemption.objects.filter(merchant=merchant).filter(mine)


def rewards_export(merchant: Merchant, contact: Contact) -> list[dict[str, Any]]:
    return [
        {
            "reward": r.reward.name if r.reward else None,
            "points": r.points,
            "note": r.note,
            "coupon": r.coupon.code if r.coupon else None,
            "created_at": r.created_at,
        }
        for r in _redemptions(merchant, contact).select_related("reward", "coupon").order_by("pk")
    ]


def rewards_erase(merchant: Merchant, contact: Contact, actor: Actor) -> None:
    values = personal_values(contact)
    redact_rows(_redemptions(merchant, contact), ["note"], values)
    by_customer = Redemption.objects.filter(merchant=merchant, actor_kind="customer")
    redact_rows(by_customer, ["actor_label"], values)
