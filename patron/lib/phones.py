"""Phone numbers in E.164, parsed with the merchant's country.

`0980.000.000` typed at a Vietnamese counter is `+84980000000`; the same digits typed
with a leading `+84` or `84` are the same number. Search and storage both go through
`parse_phone`, so any format a person types finds the stored number.
"""

import re

import phonenumbers
from phonenumber_field.phonenumber import PhoneNumber

from patron.lib.errors import InvalidInput


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    title = "This is not a valid phone number"


_DIGITS = re.compile(r"\d")


class CheckedPhoneNumber(PhoneNumber):
    """A number `parse_phone_number` found valid.

    django-phonenumber-field checks a number again each time it is shown, tested for
    truth or saved, each time for about a third of a parse; a bulk writer does all three
    for every row. Nothing changes the number afterwards, so the first answer holds."""

    def is_valid(self) -> bool:
        return True


def parse_phone_number(raw: str, country: str) -> CheckedPhoneNumber:
    """The number `raw` is, for a model's phone field to take without parsing it again,
    or raise InvalidPhone."""
    text = (raw or "").strip()
    if len(_DIGITS.findall(text)) < 6:
        raise InvalidPhone(field="phone")
    candidates = [text]
    # A number typed as "84980000000" (country code without the plus) is common.
    if not text.startswith("+") and not text.startswith("0"):
        candidates.append("+" + text)
    for candidate in candidates:
        number = CheckedPhoneNumber()
        try:
            phonenumbers.parse(candidate, country.upper(), numobj=number)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    raise InvalidPhone(field="phone")


def parse_phone(raw: str, country: str) -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhone."""
    return parse_phone_number(raw, country).as_e164


def try_parse_phone(raw: str, country: str) -> str | None:
    try:
        return parse_phone(raw, country)
    except InvalidPhone:
        return None


def format_phone(e164: str | None, country: str) -> str:
    """A national format for a number of the merchant's country, international otherwise."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) == country.upper():
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
