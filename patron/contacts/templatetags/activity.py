"""How each activity event reads on the timeline, in the staff user's language."""

from collections.abc import Callable
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from patron.automations.descriptions import DESCRIPTIONS as AUTOMATION_DESCRIPTIONS
from patron.contacts.models import ActivityEvent
from patron.coupons.descriptions import DESCRIPTIONS as COUPON_DESCRIPTIONS
from patron.integrations.descriptions import DESCRIPTIONS as INTEGRATION_DESCRIPTIONS
from patron.loyalty.descriptions import DESCRIPTIONS as LOYALTY_DESCRIPTIONS
from patron.messaging.descriptions import DESCRIPTIONS as MESSAGING_DESCRIPTIONS

register = template.Library()

Describe = Callable[[dict[str, Any]], str]

# One entry per event type. Apps that add event types add their sentence here.
DESCRIPTIONS: dict[str, Describe] = {
    "contact_created": lambda d: _("Contact created"),
    "contact_updated": lambda d: (
        _("Contact updated: %(fields)s") % {"fields": ", ".join(sorted(d.get("changes", {})))}
    ),
    "contact_deleted": lambda d: _("Contact deleted: %(reason)s") % {"reason": d.get("reason", "")},
    "tag_added": lambda d: _("Tag added: %(tag)s") % {"tag": d.get("tag", "")},
    "tag_removed": lambda d: _("Tag removed: %(tag)s") % {"tag": d.get("tag", "")},
    "note_added": lambda d: _("Note: %(text)s") % {"text": d.get("text", "")},
    "member_joined_on_page": lambda d: _("Joined the program on the customer page, with consent"),
    "portal_settings_changed": lambda d: _("Customer page settings changed"),
    **AUTOMATION_DESCRIPTIONS,
    **MESSAGING_DESCRIPTIONS,
    **LOYALTY_DESCRIPTIONS,
    **COUPON_DESCRIPTIONS,
    **INTEGRATION_DESCRIPTIONS,
}


@register.simple_tag
def describe_event(event: ActivityEvent) -> SafeString:
    describe = DESCRIPTIONS.get(event.type)
    text = describe(event.data) if describe else event.type.replace("_", " ").capitalize()
    return format_html("{}", text)
