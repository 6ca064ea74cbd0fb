from datetime import datetime, timedelta, timezone

import pytest

from hotline.timestamps import SHANGHAI, TimestampError, parse_timestamp


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
