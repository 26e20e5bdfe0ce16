"""The built-in workflows every merchant starts with.

"Add to the loyalty program" is the one seed 001 walks through: staff trigger it from the
contacts list; it activates the member, welcomes them by SMS and email and tells the staff.
It starts published (green). The others start as drafts (yellow) for the merchant to check
the offer and publish.

Their messages are the merchant's built-in message templates (patron/messaging/defaults.py,
in English and Vietnamese), installed first, so a merchant rewords a message in one place.
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from patron.automations.models import ReEntry, TriggerType
from patron.messaging import defaults as messages
from patron.tenants.models import Merchant

ADD_TO_PROGRAM = "add_to_loyalty_program"


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    trigger_type: str
    description: str = ""
    trigger_config: dict[str, Any] = field(default_factory=dict)
    reentry: str = ReEntry.AFTER_EXIT
    steps: list[dict[str, Any]] = field(default_factory=list)
    published: bool = False


def built_in(merchant: Merchant) -> list[Template]:
    with translation.override(merchant.language or "en"):
        return [
            Template(
                key=ADD_TO_PROGRAM,
                name=_("Add to the loyalty program"),
                description=_("Activate the membership, welcome the customer, tell the staff."),
                trigger_type=TriggerType.MANUAL,
                published=True,
                steps=[
                    {"action_type": "add_to_program"},
                    _send("send_sms", messages.WELCOME),
                    _send("send_email", messages.WELCOME),
                    {
                        "action_type": "notify_staff",
                        "config": {"text": _("{name} was added to the loyalty program")},
                    },
                ],
            ),
            Template(
                key="birthday_coupon",
                name=_("Birthday coupon"),
                description=_("On the customer's birthday, a coupon by SMS and email."),
                trigger_type=TriggerType.BIRTHDAY,
                trigger_config={"hour": 9},
                steps=[
                    {
                        "action_type": "issue_coupon",
                        "config": {
                            "label": _("Birthday Coupon"),
                            "type": "percentage",
                            "value": "10",
                            "valid_days": 30,
                        },
                    },
                    _send("send_sms", messages.BIRTHDAY_COUPON, marketing=True),
                    _send("send_email", messages.BIRTHDAY_COUPON, marketing=True),
                ],
            ),
            Template(
                key="reinvitation_coupon",
                name=_("Re-invitation coupon"),
                description=_("A coupon for customers who have not visited for a while."),
                trigger_type=TriggerType.NO_VISIT,
                trigger_config={"days": 60, "hour": 10},
                steps=[
                    {
                        "action_type": "issue_coupon",
                        "config": {
                            "label": _("Re-invitation Coupon"),
                            "type": "percentage",
                            "value": "15",
                            "valid_days": 14,
                        },
                    },
                    _send("send_sms", messages.REINVITATION_COUPON, marketing=True),
                    _send("send_email", messages.REINVITATION_COUPON, marketing=True),
                ],
            ),
            Template(
                key="points_expiring_reminder",
                name=_("Points expiring reminder"),
                description=_("Remind members before their points expire."),
                trigger_type=TriggerType.POINTS_EXPIRING,
                trigger_config={"days": 14, "hour": 10},
                reentry=ReEntry.ALWAYS,
                steps=[
                    _send("send_sms", messages.POINTS_EXPIRING, marketing=True),
                    _send("send_email", messages.POINTS_EXPIRING, marketing=True),
                ],
            ),
        ]


def _send(action_type: str, template_key: str, marketing: bool = False) -> dict[str, Any]:
    """A send step that uses one of the merchant's message templates (by key)."""
    config: dict[str, Any] = {"template_key": template_key}
    if marketing:
        config["marketing"] = True
    return {"action_type": action_type, "config": config}
