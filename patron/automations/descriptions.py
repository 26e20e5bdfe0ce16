"""How automation events read on a contact's timeline (merged into the contacts app's
DESCRIPTIONS), kept here so their strings live in this app's catalogue."""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _


def _where(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflow": d.get("workflow", ""),
        "action": d.get("action_name") or d.get("workflow", ""),
        "step": d.get("step", ""),
        "summary": d.get("summary", ""),
        "error": d.get("error", ""),
    }


def _enrolled(d: dict[str, Any]) -> str:
    if d.get("scheduled_at"):
        return _("Added to automation “%(workflow)s” (%(action)s), scheduled for %(at)s") % (
            _where(d) | {"at": d["scheduled_at"][:16].replace("T", " ")}
        )
    return _("Added to automation “%(workflow)s” (%(action)s)") % _where(d)


def _failed_step(d: dict[str, Any]) -> str:
    if d.get("retry_at"):
        return _("“%(workflow)s”: %(step)s failed, trying again: %(error)s") % _where(d)
    return _("“%(workflow)s”: %(step)s failed: %(error)s") % _where(d)


DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "automation_enrolled": _enrolled,
    "automation_step_completed": lambda d: _("“%(workflow)s”: %(step)s — %(summary)s") % _where(d),
    "automation_step_failed": _failed_step,
    "automation_completed": lambda d: _("Automation “%(workflow)s” completed") % _where(d),
    "automation_failed": lambda d: (
        _("Automation “%(workflow)s” stopped after a failure: %(error)s") % _where(d)
    ),
    "automation_cancelled": lambda d: _("Automation “%(workflow)s” cancelled") % _where(d),
}
