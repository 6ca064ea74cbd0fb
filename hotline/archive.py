"""Archiving for publication (归档公开): which answered tickets the centre publishes, and what of each.

A ticket is published once it has its answer (replied or closed). A report (举报) is never published: reports
are kept confidential to protect the people who make them. A ticket reopened or rerouted waits for its new
answer. A published record carries no personal data: no caller, no phone number, and its title, text and
reply masked as at intake (`hotline.pii.mask`), and, with `publication_mask`, also the names of people that no
title or cue marks, as jieba's part-of-speech tagger finds them (`hotline.pii.mask_tagged_names`).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Iterator

from hotline.pii import mask, mask_tagged_names
from hotline.text import clean

ANSWERED = ("replied", "closed")
CONFIDENTIAL_TYPES = ("举报",)
CHANNEL_NAMES = {"hotline": "热线电话", "web": "网络留言"}

# field, column heading of the published file
COLUMNS = (
    ("ticket_id", "编号"), ("channel", "渠道"), ("received_at", "受理时间"), ("title", "主题"), ("text", "内容"),
    ("district", "区域"), ("domain", "领域"), ("unit", "承办单位"), ("replied_at", "答复时间"),
    ("reply", "答复意见"), ("satisfaction", "回访满意度"),
)

WITHHELD_REASONS = {
    "unanswered": "未答复（在办、待派单、已并单）",
    "confidential": "举报件不公开",
}


def withheld(ticket: dict) -> str | None:
    """Why a stored ticket is not published (a key of WITHHELD_REASONS), or None when it is."""
    if ticket.get("status") not in ANSWERED:
        return "unanswered"
    if ticket.get("ticket_type") in CONFIDENTIAL_TYPES:
        return "confidential"
    return None


def latest_reply(events: list[dict]) -> str | None:
    """The text of the ticket's last reply event (a reopened ticket's answer is its last one)."""
    replies = [e for e in events if e["kind"] == "replied"]
    if not replies:
        return None
    text = (replies[-1].get("data") or {}).get("reply")
    return text if text else None


def publication_mask(tagger) -> Callable[[str], str]:
    """How published text is masked: as at intake, then the names nothing marks. `tagger` tags words (a
    classifiers.segment.Segmenter: `tag(text)` and `in_dictionary(word)`)."""
    def masked(text: str) -> str:
        return mask_tagged_names(tagger.tag(mask(text)), tagger.in_dictionary) if text else text
    return masked


def public_record(ticket: dict, events: list[dict], unit_name: Callable[[str], str],
                  mask_text: Callable[[str], str] = mask) -> dict:
    """What the centre publishes of an answered ticket, keyed by the fields of COLUMNS."""
    reply = latest_reply(events)
    return {
        "ticket_id": ticket["ticket_id"],
        "channel": CHANNEL_NAMES.get(ticket["channel"], ticket["channel"]),
        "received_at": _minute(ticket["received_at"]),
        "title": mask_text(ticket["title"]),
        "text": mask_text(ticket["text"]),
        "district": ticket.get("district"),
        "domain": ticket.get("domain"),
        "unit": unit_name(ticket["lead_unit"]) if ticket.get("lead_unit") else None,
        "replied_at": _minute(ticket.get("replied_at")),
        "reply": mask_text(clean(reply)) if reply else None,
        "satisfaction": ticket.get("satisfaction"),
    }


def publish(tickets: Iterable[dict], events_by_ticket: Callable[[list[str]], dict[str, list[dict]]],
            unit_name: Callable[[str], str], counts: Counter, mask_text: Callable[[str], str] = mask,
            chunk: int = 500) -> Iterator[dict]:
    """The published records of `tickets`, in their order, their texts masked by `mask_text`; `counts` gets
    "published" and each withheld reason. The events of `chunk` published tickets are asked for at once."""
    pending: list[dict] = []
    for ticket in tickets:
        reason = withheld(ticket)
        if reason:
            counts[reason] += 1
            continue
        pending.append(ticket)
        if len(pending) == chunk:
            yield from _records(pending, events_by_ticket, unit_name, counts, mask_text)
            pending = []
    yield from _records(pending, events_by_ticket, unit_name, counts, mask_text)


def _records(tickets: list[dict], events_by_ticket, unit_name, counts: Counter, mask_text) -> Iterator[dict]:
    events = events_by_ticket([t["ticket_id"] for t in tickets]) if tickets else {}
    for ticket in tickets:
        counts["published"] += 1
        yield public_record(ticket, events.get(ticket["ticket_id"], []), unit_name, mask_text)


def csv_rows(records: Iterable[dict]) -> Iterator[list[str]]:
    """The headings, then one row per record (an empty cell for a missing value)."""
    yield [heading for _, heading in COLUMNS]
    for record in records:
        yield ["" if record[name] is None else record[name] for name, _ in COLUMNS]


def _minute(moment) -> str | None:
    """An ISO time (text or datetime) to the minute, as published: 2026-11-23 09:30."""
    if moment is None:
        return None
    text = moment if isinstance(moment, str) else moment.isoformat()
    return text[:16].replace("T", " ")
