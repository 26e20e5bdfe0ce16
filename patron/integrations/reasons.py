"""How an import row's reason reads in the staff user's language.

A row keeps its reason twice: `message`, the English sentence written when the row was
decided (the command line prints it, and it never changes), and `reason_code` with
`reason_params`, the values the sentence quotes. The staff app says the reason again
from the code in the active language; a code it does not know (an error of another app,
a row written before codes were kept) shows the stored message.
"""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Each sentence reads in English exactly as the message the importer stores.
REASONS: dict[str, Promise] = {
    "bad_date": _("Bad date %(value)s: use YYYY-MM-DD or DD/MM/YYYY."),
    "bad_points": _("Bad points %(value)s: use a whole number."),
    "negative_points": _("An opening balance cannot be negative."),
    "invalid_phone": _("Bad phone number %(value)s."),
    "bad_email": _("Bad email %(value)s."),
    "name_too_long": _("A name has at most 100 characters."),
    "no_key": _("The row has no phone number and no external id."),
    "duplicate": _("Duplicate of row %(row)s."),
    # The refusals of the contacts services, by their error code.
    "phone_taken": _("Another contact already has this phone number"),
    "contact_needs_identity": _("A contact needs a name, a phone number or an email"),
}

# The contacts services refuse several things with the one code "invalid_input"; the
# field says which (as in the contacts views).
INVALID_INPUT: dict[str, Promise] = {
    "email": _("This is not a valid email address."),
    "first_name": _("A name has at most 100 characters."),
    "last_name": _("A name has at most 100 characters."),
    "name": _("A tag name has 1 to 100 characters."),
}


def row_reason(code: str, params: dict[str, Any], message: str) -> str:
    """The reason of a row in the active language, else its stored `message`."""
    if code == "invalid_input":
        template = INVALID_INPUT.get(params.get("field") or "")
    else:
        template = REASONS.get(code)
    if template is None:
        return message
    # The messages quote what the file said as Python does ('31/31/2020').
    values = {name: repr(value) if name == "value" else value for name, value in params.items()}
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return message
