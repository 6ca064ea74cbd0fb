"""Timestamps as real exports write them, read in Asia/Shanghai unless an offset is given."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXCEL_EPOCH = datetime(1899, 12, 30)
# Excel serial days 20000..80000 are the years 1954..2119; epoch seconds start far above that.
EXCEL_SERIAL_RANGE = (20000.0, 80000.0)
PLAUSIBLE_YEARS = (1980, 2100)

_DATE_TIME = re.compile(
    r"^(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})\s*[:时点]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.(\d{1,6}))?\s*秒?)?\s*分?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def stored_moment(value: datetime | str | None) -> datetime | None:
    """A time as the stores return it (ISO 8601 text) or as the domain holds it (a datetime), as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class TimestampError(ValueError):
    """A value that cannot be read as a point in time."""


def _offset(text: str | None) -> timezone | ZoneInfo:
    if not text:
        return SHANGHAI
    if text == "Z":
        return timezone.utc
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _check(moment: datetime, original: object) -> datetime:
    if not PLAUSIBLE_YEARS[0] <= moment.year <= PLAUSIBLE_YEARS[1]:
        raise TimestampError(
            f"implausible year {moment.year} in {original!r} (accepted {PLAUSIBLE_YEARS[0]}-{PLAUSIBLE_YEARS[1]})"
        )
    return moment


def parse_timestamp(value: object, tz: ZoneInfo = SHANGHAI) -> datetime:
    """Read a timestamp; naive times are taken in Asia/Shanghai.

    Accepts datetime/date objects, Excel serial days (numbers or numeric strings),
    ISO 8601, and the forms 2019/4/25 9:32:09, 2019-4-25, 2019.4.25, 2019年4月25日 9时32分.
    Raises TimestampError with the reason for anything else, including impossible dates.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=tz)
        return _check(moment, value)
    if isinstance(value, date):
        return _check(datetime(value.year, value.month, value.day, tzinfo=tz), value)
    if isinstance(value, bool):
        raise TimestampError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return _from_serial(float(value), value, tz)
    if not isinstance(value, str):
        raise TimestampError(f"not a timestamp: {type(value).__name__} {value!r}")
    text = value.strip()
    if not text:
        raise TimestampError("empty timestamp")
    if len(text) >= 19 and text[4] == "-" and text[7] == "-" and text[10] in "T " and text[13] == ":":
        # what most senders write, 2019-04-25T09:32:09[.123][+08:00]: read by the standard library at once, the
        # same moment the forms below give it (tests/test_timestamps.py compares them)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _check(moment if moment.tzinfo else moment.replace(tzinfo=tz), value)
    return _parse_text(text, value, tz)


def _parse_text(text: str, value: str, tz: ZoneInfo) -> datetime:
    """A stripped, non-empty text: Excel serial days, the forms of `_DATE_TIME`, or anything ISO 8601."""
    try:
        return _from_serial(float(text), value, tz)
    except ValueError as exc:
        if isinstance(exc, TimestampError):
            raise
    match = _DATE_TIME.match(text)
    if match:
        y, mo, d, h, mi, s, frac, off = match.groups()
        try:
            moment = datetime(
                int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                int((frac or "0").ljust(6, "0")),
                tzinfo=_offset(off) if off else tz,
            )
        except ValueError as exc:
            raise TimestampError(f"impossible date {value!r}: {exc}") from None
        return _check(moment, value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimestampError(f"unrecognised timestamp {value!r}") from None
    return _check(moment if moment.tzinfo else moment.replace(tzinfo=tz), value)


def _from_serial(number: float, original: object, tz: ZoneInfo) -> datetime:
    if EXCEL_SERIAL_RANGE[0] <= number <= EXCEL_SERIAL_RANGE[1]:
        naive = EXCEL_EPOCH + timedelta(days=number)
        return _check(naive.replace(microsecond=0, tzinfo=tz), original)
    raise TimestampError(
        f"number {original!r} is not an Excel date (serial days {EXCEL_SERIAL_RANGE[0]:.0f}-{EXCEL_SERIAL_RANGE[1]:.0f})"
    )
