"""The demo's intake: the bundled sample tickets and web messages in the order they were received, and the
same records dated to the days just before a given moment, so that a demo run at any date shows a live
centre (tickets of the last week, some still within their deadline) and not one left weeks ago; a few
malformed records among them, as every real intake has, for the dead letters; and, last, an issue breaking
now, for the opinion monitor.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

from hotline.timestamps import SHANGHAI, parse_timestamp
from samples.traffic import burst

HERE = Path(__file__).resolve().parent
# The date at the start of a sample record's time, as the sample writes it: 2026/11/02 08:53:00 or
# 2026-11-02T08:53:00+08:00. Moving a record moves this date and keeps the rest as written.
_LEADING_DATE = re.compile(r"^(\d{4})([/-])(\d{2})\2(\d{2})")


# Each is refused at intake with its reason (see 退回记录 Dead letters); none has a time to move.
MALFORMED: list[tuple[str, dict]] = [
    ("hotline", {"id": "H-DEMO-EMPTY", "title": "", "text": "  ", "caller": "张伟", "type": "咨询"}),
    ("web", {"id": "W-DEMO-BADTIME", "title": "小区停水三天", "text": "A3区某小区停水三天没有通知。", "time": "2026年13月45日"}),
    ("web", {"title": "没有编号的留言", "text": "留言系统导出时丢了编号。"}),
    ("web", {"id": "W-DEMO-LIKES", "title": "路灯不亮", "text": "A2区某路段路灯不亮。", "likes": -3}),
]


def sample_records() -> list[tuple[str, dict]]:
    """(channel, raw record) for every sample hotline ticket and web message, in the order of their times."""
    records = []
    for channel, name in (("hotline", "hotline_tickets.jsonl"), ("web", "web_messages.jsonl")):
        with open(HERE / name, encoding="utf-8") as handle:
            records += [(channel, json.loads(line)) for line in handle if line.strip()]
    return sorted(records, key=lambda item: parse_timestamp(item[1]["time"]))


def with_malformed(records: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The records with the MALFORMED ones spread evenly among them."""
    out = list(records)
    for i, item in enumerate(reversed(MALFORMED)):
        out.insert(len(records) * (len(MALFORMED) - i) // (len(MALFORMED) + 1), item)
    return out


def moved(record: dict, days: int) -> dict:
    """A copy of a sample record whose time is `days` days later, written in the same form."""
    text = record["time"]
    match = _LEADING_DATE.match(text)
    if match is None:
        raise ValueError(f"sample record {record.get('id')!r}: time {text!r} does not start with a date")
    year, separator, month, day = match.groups()
    when = date(int(year), int(month), int(day)) + timedelta(days=days)
    written = f"{when.year:04d}{separator}{when.month:02d}{separator}{when.day:02d}"
    return {**record, "time": written + text[match.end():]}


def dated(records: list[tuple[str, dict]], now: datetime) -> list[tuple[str, dict]]:
    """The records moved by the same whole number of days, so that the newest is received at or just before
    `now` (times of day, and so the daily rhythm, are kept)."""
    if not records:
        return []
    newest = max(parse_timestamp(record["time"]) for _, record in records).astimezone(SHANGHAI)
    local_now = now.astimezone(SHANGHAI)
    days = (local_now.date() - newest.date()).days
    if newest + timedelta(days=days) > local_now:
        days -= 1
    return [(channel, moved(record, days)) for channel, record in records]


BREAKING, BREAKING_MINUTES = 50, 10


def breaking_issue(now: datetime) -> list[tuple[str, dict]]:
    """BREAKING differently worded messages about one new issue (samples.traffic.burst: a flooded underpass),
    received in the BREAKING_MINUTES before `now`: after the sample's days of history, a hot topic and surge
    alerts."""
    return burst(now - timedelta(minutes=BREAKING_MINUTES), count=BREAKING, minutes=BREAKING_MINUTES)


def replay(now: datetime) -> list[tuple[str, dict]]:
    """What `hotline demo` sends, in order: the sample dated to the days before `now` with the malformed
    records among it, then the issue breaking now."""
    return with_malformed(dated(sample_records(), now)) + breaking_issue(now)
