"""Masking of personal data: ID-card numbers, mobile and landline numbers, licence plates, e-mail."""

from __future__ import annotations

import re

# Order matters: an 18-digit ID number contains 11 digits that look like a mobile number.
# Speed: a pattern that starts with a character class or a literal lets the regex engine jump to the places
# where it can match instead of trying every position of the text. So a look-behind on the character before
# a match is written after the match's first character, over two characters; the mobile pattern, whose
# optional +86 defeats that, runs only on texts where its digits are found, and the e-mail pattern only on
# texts with an @. Same matches, several times faster on the board's messages (tests/test_text_and_pii.py
# checks them against the plain patterns).
_ID_CARD = re.compile(r"([1-9](?<![0-9A-Za-z][1-9])\d{5})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_MOBILE_DIGITS = re.compile(r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}")  # inside every _MOBILE match; found fast
_LANDLINE = re.compile(r"(0(?<!\d0)\d{2,3})[- ]?(\d{3,4})(\d{4})(?!\d)")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])\s?([A-HJ-NP-Z])[·.]?([A-HJ-NP-Z0-9]{5,6})(?![A-Za-z0-9])"
)
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")

KINDS = ("id_card", "mobile", "landline", "plate", "email")


def mask(text: str) -> str:
    """Return text with every recognised piece of personal data masked."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + "***" + m.group(4), text)
    if _MOBILE_DIGITS.search(text):
        text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3), text)
    text = _PLATE.sub(lambda m: m.group(1) + m.group(2) + "*" * (len(m.group(3)) - 2) + m.group(3)[-2:], text)
    if "@" in text:
        text = _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), text)
    return text


def mask_name(name: str | None) -> str | None:
    """Keep the family name only: 张三 -> 张*, 欧阳明 -> 欧**."""
    if not name:
        return name
    name = name.strip()
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number field; a value that is not a phone number is masked whole."""
    if not phone:
        return phone
    masked = mask(phone)
    if masked != phone:
        return masked
    digits = re.sub(r"\D", "", phone)
    return "*" * len(digits) if digits else "***"
