"""How messaging events read on a contact's timeline (merged into the contacts app's
DESCRIPTIONS), kept here so their strings live in this app's catalogue."""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


def _channel(d: dict[str, Any]) -> str:
    return _("Email") if d.get("channel") == "email" else _("SMS")


def _what(d: dict[str, Any]) -> dict[str, Any]:
    text = d.get("subject") or d.get("body", "")
    return {"channel": _channel(d), "to": d.get("to", ""), "text": text}


def _queued(d: dict[str, Any]) -> str:
    if d.get("send_after"):
        return _("%(channel)s to %(to)s held until the quiet hours end: %(text)s") % _what(d)
    return _("%(channel)s to %(to)s queued: %(text)s") % _what(d)


DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "message_queued": _queued,
    "message_sent": lambda d: _("%(channel)s sent to %(to)s: %(text)s") % _what(d),
    "message_delivered": lambda d: _("%(channel)s delivered to %(to)s: %(text)s") % _what(d),
    "message_failed": lambda d: (
        _("%(channel)s to %(to)s failed: %(error)s") % (_what(d) | {"error": d.get("error", "")})
    ),
    "message_suppressed": lambda d: (
        _("%(channel)s to %(to)s not sent: opted out of marketing") % _what(d)
    ),
    "marketing_opted_out": lambda d: (
        _("Opted out of marketing by %(channel)s (%(how)s)")
        % {
            "channel": _channel(d),
            "how": _("STOP reply")
            if d.get("source") == "stop_reply"
            else _("unsubscribe link")
            if d.get("source") == "unsubscribe_link"
            else _("staff"),
        }
    ),
    "marketing_opted_in": lambda d: (
        _("Opted back in to marketing by %(channel)s") % {"channel": _channel(d)}
    ),
    "sms_received": lambda d: _("SMS received: %(text)s") % {"text": d.get("body", "")},
}
