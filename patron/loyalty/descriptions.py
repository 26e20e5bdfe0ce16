"""How loyalty events read on a contact's timeline (merged into the contacts app's
DESCRIPTIONS), kept here so their strings live in this app's catalogue."""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


def _points(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": abs(int(d.get("amount") or 0)),
        "reason": d.get("reason") or "",
        "balance": d.get("balance", ""),
        "category": d.get("category") or "",
    }


def _earned(d: dict[str, Any]) -> str:
    if d.get("category"):
        return _("%(amount)s points earned (%(category)s): %(reason)s") % _points(d)
    return _("%(amount)s points earned: %(reason)s") % _points(d)


def _adjusted(d: dict[str, Any]) -> str:
    if int(d.get("amount") or 0) < 0:
        return _("%(amount)s points taken away: %(reason)s") % _points(d)
    return _("%(amount)s points added: %(reason)s") % _points(d)


def _transferred(d: dict[str, Any]) -> str:
    if int(d.get("amount") or 0) < 0:
        return _("%(amount)s points moved to another member: %(reason)s") % _points(d)
    return _("%(amount)s points moved in from another member: %(reason)s") % _points(d)


def _reversed(d: dict[str, Any]) -> str:
    text = _("%(amount)s points taken back: %(reason)s") % _points(d)
    if d.get("shortfall"):
        text += " " + _("(%(shortfall)s points had already been spent)") % {
            "shortfall": d["shortfall"]
        }
    return text


def _tier(d: dict[str, Any]) -> str:
    values = {"old": d.get("old_tier") or _("no tier"), "new": d.get("new_tier") or _("no tier")}
    if d.get("manual"):
        values["reason"] = d.get("reason") or ""
        return _("Tier set by hand from %(old)s to %(new)s: %(reason)s") % values
    return _("Tier changed from %(old)s to %(new)s") % values


DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "member_created": lambda d: (
        _("Became a loyalty member (%(phone)s)") % {"phone": d.get("phone")}
    ),
    "member_activated": lambda d: _("Member activated"),
    "member_excluded": lambda d: (
        _("Removed from program: %(reason)s") % {"reason": d.get("reason", "")}
    ),
    "member_detached": lambda d: (
        _("Phone changed: the membership of %(phone)s stays with that number")
        % {"phone": d.get("phone")}
    ),
    "member_deleted": lambda d: _("Member %(phone)s deleted") % {"phone": d.get("phone")},
    "points_earned": _earned,
    "points_adjusted": _adjusted,
    "points_transferred": _transferred,
    "points_redeemed": lambda d: _("%(amount)s points redeemed: %(reason)s") % _points(d),
    "points_returned": lambda d: _("%(amount)s points returned: %(reason)s") % _points(d),
    "points_expired": lambda d: _("%(amount)s points expired") % _points(d),
    "points_reversed": _reversed,
    "points_activated": lambda d: _("%(amount)s pending points are now available") % _points(d),
    "tier_changed": _tier,
    "reward_claimed": lambda d: (
        _("Reward claimed: %(reward)s for %(points)s points")
        % {"reward": d.get("reward", ""), "points": d.get("points", "")}
    ),
}
