"""Query parameters shared by the pages' APIs, read with a clear 400 for a bad value."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException

from hotline.statistics import Period


def day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date like 2026-11-01, got {value!r}") from None


def received_period(start: str | None, end: str | None) -> Period:
    """Tickets received from the day `start` to the day `end`, both included; either may be left open."""
    try:
        return Period.days(day(start, "start"), day(end, "end"))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
