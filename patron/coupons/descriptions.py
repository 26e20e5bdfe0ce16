"""How coupon events read on a contact's timeline (merged into the contacts app's
DESCRIPTIONS), kept here so their strings live in this app's catalogue."""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


def _deleted(d: dict[str, Any]) -> str:
    # Seed 000: when points paid for the coupon, the timeline says whether they came back.
    text = _("Coupon %(code)s deleted: %(reason)s") % {
        "code": d.get("code"),
        "reason": d.get("reason"),
    }
    if d.get("points_refunded"):
        text += " " + _("%(points)s points refunded.") % {"points": d["points_refunded"]}
    elif d.get("points_paid"):
        text += " " + _("%(points)s points not refunded.") % {"points": d["points_paid"]}
    return text


DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "coupon_issued": lambda d: (
        _("Coupon issued: %(label)s (%(code)s)") % {"label": d.get("label"), "code": d.get("code")}
    ),
    "coupon_sent": lambda d: (
        _("Coupon code %(code)s sent by %(channel)s")
        % {"code": d.get("code"), "channel": d.get("channel")}
    ),
    "coupon_synced": lambda d: (
        _("Coupon code %(code)s created in %(platform)s")
        % {"code": d.get("code"), "platform": d.get("platform")}
    ),
    "coupon_used": lambda d: (
        _("Coupon %(code)s used on order %(order)s")
        % {"code": d.get("code"), "order": d.get("order_reference")}
    ),
    "coupon_rolled_back": lambda d: (
        _("Coupon %(code)s use on order %(order)s rolled back")
        % {"code": d.get("code"), "order": d.get("order_reference")}
    ),
    "coupon_deleted": _deleted,
    "coupon_expired": lambda d: _("Coupon %(code)s expired") % {"code": d.get("code")},
    "coupon_regenerated": lambda d: (
        _("Coupon %(code)s replaced by %(new_code)s")
        % {"code": d.get("code"), "new_code": d.get("new_code")}
    ),
}
