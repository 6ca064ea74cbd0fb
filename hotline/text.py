"""Text clean-up: web-page padding, HTML, Excel escapes, Traditional to Simplified Chinese."""

from __future__ import annotations

import html
import re
from functools import lru_cache

_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TAG = re.compile(r"<[^>]{0,200}>")
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/tr)\b[^>]{0,200}>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u3000\u00a0\r\f\v]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (OpenCC t2s); ASCII has none to convert."""
    return text if not text or text.isascii() else _t2s().convert(text)


def clean(text: str) -> str:
    """Remove web-page padding, HTML markup and Excel escapes; keep line breaks between paragraphs."""
    if not text:
        return ""
    if text.isalnum():  # letters and digits only (of any script): no escape, markup, control or space to clean
        return text
    text = _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "<" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    return text.strip()


def normalise(text: str) -> str:
    """Clean and convert to Simplified Chinese."""
    return to_simplified(clean(text))
