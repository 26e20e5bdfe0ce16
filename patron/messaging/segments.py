"""How many SMS a text costs: carriers split long texts into segments.

A text in the GSM 7-bit alphabet fits 160 characters in one SMS and 153 in each part of
a longer one (some symbols such as € take two). Anything else, Vietnamese letters with
their marks among them, goes as UCS-2: 70 in one SMS, 67 in each part.
"""

import math

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def sms_segments(text: str) -> int:
    """The number of SMS segments `text` is sent as (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        units = len(text) + sum(1 for c in text if c in GSM7_EXTENDED)
        single, part = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else math.ceil(units / part)
