"""The staff bell in the top bar: one COUNT query per page that shows it."""

from typing import Any

from django import template

from patron.messaging.selectors import coupon_choices, unread_count

register = template.Library()


@register.inclusion_tag("messaging/_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    merchant = getattr(request, "merchant", None)
    user = getattr(request, "user", None)
    shown = merchant is not None and user is not None and user.is_authenticated
    return {
        "shown": shown,
        "unread": unread_count(merchant, user) if shown else 0,  # type: ignore[arg-type]
    }


@register.simple_tag(takes_context=True)
def available_codes(context: template.Context, contact: Any) -> list[tuple[str, str]]:
    """(code, label) of the contact's available coupons, for "Send SMS" (seed 002: text a
    customer the code they did not receive)."""
    request = context.get("request")
    merchant = getattr(request, "merchant", None)
    if merchant is None or contact is None:
        return []
    return coupon_choices(merchant, contact)
