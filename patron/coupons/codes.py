"""Discount code strings: random, easy to read aloud and to type from a text message.

The alphabet leaves out 0/O and 1/I/L, which customers confuse on a receipt or a phone
screen. Eight characters of 31 give about 8.5e11 codes, so collisions are rare but not
impossible: the database's unique constraint decides, and the issuing service retries
with a fresh code.
"""

import os
import re

from patron.lib.errors import InvalidInput

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
MAX_PREFIX_LENGTH = 20
_PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")

# Bytes at or above this are dropped rather than folded with `%`, which would make the
# first characters of the alphabet more likely than the others.
_LIMIT = 256 - 256 % len(ALPHABET)
_TO_ALPHABET = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
_BIASED = bytes(range(_LIMIT, 256))


class InvalidPrefix(InvalidInput):
    code = "invalid_coupon_prefix"
    title = "A code prefix has letters, digits and dashes only"


def clean_prefix(prefix: str | None) -> str:
    prefix = (prefix or "").strip().upper()
    if not prefix:
        return ""
    if len(prefix) > MAX_PREFIX_LENGTH or not _PREFIX.match(prefix):
        raise InvalidPrefix(
            f"A prefix has up to {MAX_PREFIX_LENGTH} letters, digits or dashes.", field="prefix"
        )
    return prefix


def normalize_code(code: str) -> str:
    """A code as typed by a customer or cashier: case and surrounding spaces ignored."""
    return "".join((code or "").split()).upper()


def _random_chars(count: int) -> str:
    # One call to the OS for the whole batch, then a C-speed table lookup: this is
    # what makes a million codes take well under a second.
    out = b""
    while len(out) < count:
        chunk = os.urandom((count - len(out)) * 9 // 8 + 16)
        out += chunk.translate(_TO_ALPHABET, _BIASED)
    return out[:count].decode("ascii")


def coupon_code_generate(prefix: str = "", length: int = CODE_LENGTH) -> str:
    return clean_prefix(prefix) + _random_chars(length)


def coupon_codes_generate(
    count: int, *, prefix: str = "", length: int = CODE_LENGTH, exclude: set[str] | None = None
) -> list[str]:
    """`count` distinct codes, none of them in `exclude` (e.g. codes already issued).

    Used in bulk (campaigns, imports, the benchmark); uniqueness against the database is
    still the unique constraint's job when the codes are inserted.
    """
    if count < 0:
        raise InvalidInput("The number of codes cannot be negative.", field="count")
    if not 4 <= length <= 32:
        raise InvalidInput("A code has 4 to 32 random characters.", field="length")
    prefix = clean_prefix(prefix)
    taken = set(exclude or ())
    codes: dict[str, None] = {}  # a dict keeps generation order and drops duplicates
    while len(codes) < count:
        missing = count - len(codes)
        chars = _random_chars(missing * length)
        batch = dict.fromkeys(
            [prefix + chars[i : i + length] for i in range(0, missing * length, length)]
        )
        if taken:
            batch = {code: None for code in batch if code not in taken}
        codes.update(batch)
    return list(codes)[:count]
