"""The demo's sample: in order of receipt, and dated to the days before the moment the demo starts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from hotline.timestamps import SHANGHAI, parse_timestamp
from samples.demo import BREAKING, BREAKING_MINUTES, MALFORMED, dated, moved, replay, sample_records, with_malformed


def shape(text: str) -> str:
    return re.sub(r"\d", "9", text)


def test_the_sample_comes_in_the_order_it_was_received():
    records = sample_records()
    times = [parse_timestamp(r["time"]) for _, r in records]
    assert times == sorted(times)
    assert {channel for channel, _ in records} == {"hotline", "web"}
    assert len({(channel, r["id"]) for channel, r in records}) == len(records)


@pytest.mark.parametrize("now", [
    datetime(2031, 3, 5, 23, 59, tzinfo=SHANGHAI),  # later in the day than the sample's newest record
    datetime(2031, 3, 5, 0, 5, tzinfo=SHANGHAI),  # earlier: the newest record goes to the day before
    datetime(2026, 11, 1, 12, 0, tzinfo=SHANGHAI),  # before the sample's own dates: moved back
])
def test_dated_moves_every_record_by_the_same_whole_days_to_just_before_now(now):
    records = sample_records()
    out = dated(records, now)
    assert len(out) == len(records)
    shifts = set()
    for (channel, before), (channel_after, after) in zip(records, out):
        assert channel_after == channel
        assert {k: v for k, v in after.items() if k != "time"} == {k: v for k, v in before.items() if k != "time"}
        assert shape(after["time"]) == shape(before["time"])  # written as the sample writes it
        shifts.add(parse_timestamp(after["time"]) - parse_timestamp(before["time"]))
    assert len(shifts) == 1
    shift = shifts.pop()
    assert shift % timedelta(days=1) == timedelta(0)
    newest = max(parse_timestamp(r["time"]) for _, r in out)
    assert now - timedelta(days=1) < newest <= now


def test_moved_crosses_months_and_years_and_refuses_a_time_without_a_date():
    assert moved({"id": "a", "time": "2026/12/31 23:10:00"}, 1)["time"] == "2027/01/01 23:10:00"
    assert moved({"id": "b", "time": "2028-03-01T00:30:00+08:00"}, -1)["time"] == "2028-02-29T00:30:00+08:00"
    with pytest.raises(ValueError, match="'c'.*does not start with a date"):
        moved({"id": "c", "time": "45000.5"}, 3)


def test_dated_of_nothing_is_nothing():
    assert dated([], datetime.now(SHANGHAI)) == []


def test_each_malformed_record_of_the_demo_is_refused_with_a_reason_and_spread_through_the_replay():
    from hotline.records import RecordError, decode, encode, to_ticket

    now = datetime.now(SHANGHAI)
    reasons = []
    for channel, record in MALFORMED:
        with pytest.raises(RecordError) as refused:
            to_ticket(channel, decode(encode(record)), now)
        reasons.append(str(refused.value))
    assert len(set(reasons)) == len(MALFORMED), reasons  # each shows a different fault
    records = sample_records()
    out = with_malformed(records)
    positions = [out.index(item) for item in MALFORMED]
    assert len(out) == len(records) + len(MALFORMED) and positions == sorted(positions)
    assert positions[0] > 40 and positions[-1] < len(out) - 40  # none in the first burst, none at the very end
    assert [item for item in out if item not in MALFORMED] == records


def test_the_replay_ends_with_an_issue_breaking_in_the_minutes_before_now():
    now = datetime(2031, 3, 5, 10, 30, tzinfo=SHANGHAI)
    out = replay(now)
    sample = with_malformed(dated(sample_records(), now))
    assert out[:len(sample)] == sample and len(out) == len(sample) + BREAKING
    breaking = [record for _, record in out[len(sample):]]
    times = [parse_timestamp(r["time"]) for r in breaking]
    assert all(now - timedelta(minutes=BREAKING_MINUTES) <= t <= now for t in times) and times == sorted(times)
    assert all("枫林三路" in r["title"] + r["text"] for r in breaking)  # one place, worded differently
    assert len({r["text"] for r in breaking}) > BREAKING // 2
    assert not {r["id"] for r in breaking} & {r.get("id") for _, r in sample}
