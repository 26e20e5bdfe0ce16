"""How integration events read on a contact's timeline (merged into the contacts app's
DESCRIPTIONS), kept here so their strings live in this app's catalogue."""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


def _placed(d: dict[str, Any]) -> str:
    text = _("Order %(name)s placed (%(source)s): %(total)s %(currency)s") % {
        "name": d.get("name") or d.get("external_id"),
        "source": d.get("source"),
        "total": d.get("total"),
        "currency": d.get("currency"),
    }
    if d.get("points_earned"):
        text += ", " + _("%(points)s points earned") % {"points": d["points_earned"]}
    return text


def _refunded(d: dict[str, Any]) -> str:
    text = _("Order %(name)s refunded: %(amount)s") % {
        "name": d.get("name") or d.get("external_id"),
        "amount": d.get("refund_amount"),
    }
    if d.get("points_reversed"):
        text += ", " + _("%(points)s points taken back") % {"points": d["points_reversed"]}
    if d.get("points_shortfall"):
        text += ", " + _("%(points)s points already spent") % {"points": d["points_shortfall"]}
    return text


DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "order_placed": _placed,
    "order_refunded": _refunded,
}
