"""From a raw intake record (bytes on a topic) to a normalised Ticket, or the reason it is refused.

A raw record is a JSON object with these fields (intake readers map file columns onto them):
id, title, text, time, and for hotline tickets caller, phone, district, type, urgency;
for web messages author, district, likes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from hotline import pii, text
from hotline.models import TICKET_TYPES, PersonalData, Ticket
from hotline.timestamps import TimestampError, parse_timestamp

URGENCY_WORDS = {
    "normal": "normal", "一般": "normal", "普通": "normal", "": "normal",
    "urgent": "urgent", "紧急": "urgent", "加急": "urgent", "特急": "urgent", "急": "urgent",
}
MAX_LIKES = 2**53  # more than any board has readers; larger numbers are corrupt and would not fit a store's integer
KNOWN_FIELDS = {"id", "title", "text", "time", "caller", "phone", "district", "type", "urgency", "author", "likes"}


class RecordError(ValueError):
    """A raw record that cannot become a ticket; the message is the reason kept with the dead letter."""


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 50_000
    max_title_chars: int = 500
    max_id_chars: int = 128


# json.dumps makes an encoder for every call with options; one made once writes the same text
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def content_hash(record: dict) -> str:
    """A stable hash of a raw record's content, independent of key order."""
    return hashlib.sha256(_CANONICAL(record).encode("utf-8")).hexdigest()[:32]


def encode(record: dict) -> bytes:
    """A raw record as the bytes put on an intake topic (the inverse of decode)."""
    return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")


def decode(payload: bytes) -> dict:
    """Bytes to a JSON object, or RecordError."""
    try:
        raw = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"payload is not valid UTF-8 (byte 0x{payload[exc.start]:02x} at position {exc.start})") from None
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RecordError(f"payload is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(record, dict):
        raise RecordError(f"payload is a JSON {type(record).__name__}, expected an object")
    return record


def _string(record: dict, field: str) -> str:
    value = record.get(field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(f"field {field!r} must be text, got {type(value).__name__}")
    return str(value)


def source_id_of(record: dict, limits: Limits = Limits()) -> str:
    source_id = _string(record, "id").strip()
    if not source_id:
        raise RecordError("missing source id (field 'id')")
    if len(source_id) > limits.max_id_chars:
        raise RecordError(f"source id longer than {limits.max_id_chars} characters")
    return source_id


def ticket_id_of(channel: str, source_id: str) -> str:
    """The ticket id of a channel's record: the channel, then the source system's id."""
    return f"{channel}-{source_id}"


def to_ticket(channel: str, record: dict, now: datetime, limits: Limits = Limits()) -> Ticket:
    """Validate and normalise one decoded raw record."""
    if channel not in ("hotline", "web"):
        raise RecordError(f"unknown channel {channel!r} (expected hotline or web)")
    source_id = source_id_of(record, limits)
    raw_title, raw_text = _string(record, "title"), _string(record, "text")
    if len(raw_text) > limits.max_text_chars:
        raise RecordError(f"text too long: {len(raw_text)} characters (limit {limits.max_text_chars})")
    if len(raw_title) > limits.max_title_chars:
        raise RecordError(f"title too long: {len(raw_title)} characters (limit {limits.max_title_chars})")
    title, body = text.normalise(raw_title), text.normalise(raw_text)
    if not title and not body:
        raise RecordError("empty text: neither title nor text has any content")

    time_value = record.get("time")
    if time_value is None or (isinstance(time_value, str) and not time_value.strip()):
        received_at, time_source = now, "intake"
    else:
        try:
            received_at, time_source = parse_timestamp(time_value), "record"
        except TimestampError as exc:
            raise RecordError(f"field 'time': {exc}") from None

    ticket_type = text.to_simplified(_string(record, "type").strip()) or None
    if ticket_type is not None and ticket_type not in TICKET_TYPES:
        raise RecordError(f"unknown ticket type {ticket_type!r} (expected one of {'/'.join(TICKET_TYPES)})")
    urgency_word = _string(record, "urgency").strip().lower()
    if urgency_word not in URGENCY_WORDS:
        raise RecordError(f"unknown urgency {urgency_word!r} (expected normal/urgent or 一般/紧急)")

    likes = record.get("likes")
    if likes in (None, ""):
        likes = None
    else:
        try:
            likes = int(float(likes))
        except (TypeError, ValueError, OverflowError):
            raise RecordError(f"field 'likes' must be a whole number, got {likes!r}") from None
        if likes < 0:
            raise RecordError(f"field 'likes' must not be negative, got {likes}")
        if likes > MAX_LIKES:
            raise RecordError(f"field 'likes' is implausibly large: {likes} (at most {MAX_LIKES:,})")

    caller = text.normalise(_string(record, "caller") or _string(record, "author")) or None
    phone = _string(record, "phone").strip() or None
    district = text.normalise(_string(record, "district")) or None
    return Ticket(
        ticket_id=ticket_id_of(channel, source_id),
        channel=channel,
        source_id=source_id,
        received_at=received_at,
        received_at_source=time_source,
        ingested_at=now,
        title=pii.mask(title),
        text=pii.mask(body),
        caller=pii.mask_name(caller) if channel == "hotline" else pii.mask(caller or "") or None,
        phone=pii.mask_phone(phone),
        district=district,
        ticket_type=ticket_type,
        ticket_type_source="form" if ticket_type else None,
        urgency=URGENCY_WORDS[urgency_word],
        likes=likes,
        content_hash=content_hash(record),
        personal=PersonalData(caller=caller, phone=phone, title=title, text=body),
    )
