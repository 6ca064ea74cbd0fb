"""Query parameters shared by the pages' APIs, read with a clear 400 for a bad value, and the ticket-list
links the pages build from them."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import HTTPException

from hotline.statistics import Period
from hotline.timestamps import SHANGHAI


def _bound(value: str | None, name: str, end: bool) -> datetime | None:
    """A period's start or end: a day (its first moment; for the end, the first moment of the next day, so the
    day is included) or a moment (naive: in Asia/Shanghai)."""
    if not value:
        return None
    try:
        if "T" not in value:
            day = date.fromisoformat(value)
            return Period.days(None, day).end if end else Period.days(day, None).start
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a day like 2026-11-01 or a moment like 2026-11-01T08:00+08:00, "
                                 f"got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def received_period(start: str | None, end: str | None) -> Period:
    """Tickets received from `start` to `end`: days are included whole (2026-11-01 to 2026-11-30: the month);
    a moment starts the period, or ends it without being included (the monitor's hours). Either may be left open."""
    period = Period(_bound(start, "start", end=False), _bound(end, "end", end=True))
    if period.start is not None and period.end is not None and period.end <= period.start:
        raise HTTPException(400, f"the end {end} is not after the start {start}")
    return period


def topic_tickets_href(topic_id: str, label: str) -> str:
    """The ticket list of an opinion topic's tickets, its filter chip named by the topic's label."""
    return "/tickets?" + urlencode({"topic": topic_id, "topic_label": label})


def merged_tickets_href(ticket_id: str) -> str:
    """The ticket list of the tickets merged (并单) into this one."""
    return "/tickets?" + urlencode({"merged_into": ticket_id})


def alert_tickets_href(alert_id: str, label: str) -> str:
    """The ticket list of the tickets an opinion alert counted, its filter chip named by the alert's label."""
    return "/tickets?" + urlencode({"alert": alert_id, "alert_label": label})
