from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.timestamps import SHANGHAI, TimestampError, _parse_text, parse_timestamp


@pytest.mark.parametrize("value, expected", [
    ("2019/4/25 9:32:09", datetime(2019, 4, 25, 9, 32, 9, tzinfo=SHANGHAI)),
    ("2019-04-25 09:32", datetime(2019, 4, 25, 9, 32, tzinfo=SHANGHAI)),
    ("2019.4.25", datetime(2019, 4, 25, tzinfo=SHANGHAI)),
    ("2019年4月25日 9时32分", datetime(2019, 4, 25, 9, 32, tzinfo=SHANGHAI)),
    ("2019-04-25T09:32:09+08:00", datetime(2019, 4, 25, 9, 32, 9, tzinfo=SHANGHAI)),
    (43580.5, datetime(2019, 4, 25, 12, 0, tzinfo=SHANGHAI)),
    ("43580.5", datetime(2019, 4, 25, 12, 0, tzinfo=SHANGHAI)),
    (datetime(2020, 1, 2, 3, 4), datetime(2020, 1, 2, 3, 4, tzinfo=SHANGHAI)),
])
def test_formats_of_real_exports(value, expected):
    assert parse_timestamp(value) == expected


def test_an_explicit_offset_is_kept():
    moment = parse_timestamp("2019-04-25T01:32:09Z")
    assert moment.utcoffset() == timedelta(0)
    assert moment == datetime(2019, 4, 25, 9, 32, 9, tzinfo=SHANGHAI)
    assert parse_timestamp("2019-04-25 09:32:09-05:00").utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize("value, reason", [
    ("2019/2/30", "impossible date"),
    ("2019-13-01", "impossible date"),
    ("yesterday", "unrecognised"),
    ("", "empty"),
    ("2999-01-01", "implausible year"),
    (123, "not an Excel date"),
    (True, "not a timestamp"),
])
def test_bad_timestamps_say_why(value, reason):
    with pytest.raises(TimestampError, match=reason):
        parse_timestamp(value)


def test_naive_times_are_shanghai_time():
    assert parse_timestamp("2020-01-01 08:00").astimezone(timezone.utc).hour == 0


@settings(max_examples=400, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59)),
    separator=st.sampled_from("T "),
    timespec=st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    offset=st.sampled_from(["", "Z", "+08:00", "-05:00", "+0800", "+05:30", "+08", " +08:00"]),
)
def test_iso_text_read_at_once_is_the_moment_the_patterns_read(moment, separator, timespec, offset):
    """parse_timestamp reads 2019-04-25T09:32:09[.fff][+08:00] with the standard library first; the moment, and
    its offset, must be the one the general reading (Excel days, the export forms, then ISO 8601) gives."""
    written = moment.isoformat(sep=separator, timespec=timespec) + offset
    try:
        general = _parse_text(written, written, SHANGHAI)
    except TimestampError:
        with pytest.raises(TimestampError):
            parse_timestamp(written)
        return
    read = parse_timestamp(written)
    assert read == general and read.utcoffset() == general.utcoffset(), written
