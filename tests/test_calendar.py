"""Working-time deadlines under the real Chinese holiday calendar (chinese-calendar) and config/calendar.yaml."""

import json
import subprocess
from datetime import date, datetime

import pytest

from cli.services import build_calendar
from cli.settings import PROJECT_DIR, load_settings
from hotline.calendar import CalendarConfigError, WorkCalendar
from hotline.timestamps import SHANGHAI
from tests.conftest import hotline_command


@pytest.fixture(scope="module")
def calendar(tmp_path_factory) -> WorkCalendar:
    return build_calendar(load_settings({"HOTLINE_HOME": str(tmp_path_factory.mktemp("home"))}))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(SHANGHAI)


def test_national_day_with_the_make_up_saturday(calendar):
    deadline = calendar.add_working_days(at("2026-09-30T16:00+08:00"), 5)
    assert deadline.at == at("2026-10-13T17:30+08:00") and not deadline.warnings
    assert calendar.is_workday(date(2026, 10, 10))  # 调休 Saturday
    assert not calendar.is_workday(date(2026, 10, 5))


def test_spring_festival_2026(calendar):
    assert calendar.is_workday(date(2026, 2, 14)) and calendar.is_workday(date(2026, 2, 28))
    assert calendar.add_working_days(at("2026-02-13T10:00+08:00"), 3).at == at("2026-02-25T17:30+08:00")
    assert calendar.add_working_days(at("2026-02-27T10:00+08:00"), 1).at == at("2026-02-28T17:30+08:00")


def test_the_day_of_receipt_does_not_count_even_at_dawn(calendar):
    assert calendar.add_working_days(at("2026-11-23T00:01+08:00"), 1).at == at("2026-11-24T17:30+08:00")
    assert calendar.add_working_days(at("2026-11-22T12:00+08:00"), 1).at == at("2026-11-23T17:30+08:00")  # Sunday


def test_office_hours(calendar):
    assert calendar.add_working_hours(at("2026-11-23T10:00+08:00"), 2).at == at("2026-11-23T12:00+08:00")
    assert calendar.add_working_hours(at("2026-11-23T10:00+08:00"), 2.5).at == at("2026-11-23T14:00+08:00")
    assert calendar.add_working_hours(at("2026-09-30T16:00+08:00"), 4).at == at("2026-10-08T11:30+08:00")
    assert calendar.add_working_hours(at("2026-11-21T20:00+08:00"), 1).at == at("2026-11-23T10:00+08:00")


def test_beyond_the_known_calendar_a_date_and_a_warning(calendar):
    deadline = calendar.add_working_days(at("2026-12-30T10:00+08:00"), 5)
    assert deadline.at == at("2027-01-06T17:30+08:00")
    assert deadline.warnings and "2027" in deadline.warnings[0]


def test_the_centre_is_told_when_deadlines_may_fall_in_a_year_the_calendar_does_not_know():
    calendar = WorkCalendar.build(set(), set(), range(2020, 2027), {})
    assert calendar.gap_notice(date(2026, 10, 1)) is None  # 2027 is more than 60 days away
    assert calendar.unknown_years_ahead(date(2026, 11, 23)) == [2027]
    assert "2027" in calendar.gap_notice(date(2026, 11, 23)) and "config/calendar.yaml" in calendar.gap_notice(date(2026, 11, 23))
    listed = WorkCalendar.build(set(), set(), range(2020, 2027), {"years": {2027: {"holidays": ["2027-01-01"]}}})
    assert listed.gap_notice(date(2026, 11, 23)) is None


def test_configured_years_and_local_rules_win():
    config = {"years": {2027: {"holidays": ["2027-01-01"], "workdays": ["2027-01-09"]},
                        2026: {"holidays": ["2026-11-23"]}}}
    calendar = WorkCalendar.build({date(2026, 10, 1)}, {date(2026, 10, 10)}, range(2026, 2027), config)
    assert not calendar.is_workday(date(2027, 1, 1)) and calendar.is_workday(date(2027, 1, 9))
    assert not calendar.is_workday(date(2026, 11, 23))
    assert not calendar.add_working_days(at("2026-12-31T09:00+08:00"), 1).warnings
    with pytest.raises(CalendarConfigError, match="office period"):
        WorkCalendar.build(set(), set(), range(2026, 2027), {"office_hours": [["12:00", "09:00"]]})
    with pytest.raises(CalendarConfigError, match="2027"):
        WorkCalendar.build(set(), set(), range(2026, 2027), {"years": {2027: {"holidays": ["2027-02-30"]}}})


@pytest.mark.parametrize("received, days, due", [
    ("2026-09-30T16:00+08:00", "5", "2026-10-13T17:30:00+08:00"),
    ("2026-02-13T10:00+08:00", "3", "2026-02-25T17:30:00+08:00"),
    ("2026-12-30T10:00+08:00", "5", "2027-01-06T17:30:00+08:00"),
])
def test_sla_due_command(tmp_path, received, days, due):
    result = subprocess.run(hotline_command("sla", "due", "--received", received, "--working-days", days, "--json"),
                            cwd=PROJECT_DIR, capture_output=True, timeout=60,
                            env={"HOTLINE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr.decode()
    out = json.loads(result.stdout)
    assert out["due"] == due
    assert ("warning" in result.stderr.decode()) == due.startswith("2027")


def test_sla_due_refuses_bad_input(tmp_path):
    result = subprocess.run(hotline_command("sla", "due", "--received", "2026-02-30", "--working-days", "1"),
                            cwd=PROJECT_DIR, capture_output=True, timeout=60, env={"HOTLINE_HOME": str(tmp_path)})
    assert result.returncode == 2 and "impossible date" in result.stderr.decode()


def test_working_time_in_constant_time_equals_counting_day_by_day():
    import random
    from datetime import date, datetime, timedelta

    from cli.services import build_calendar
    from cli.settings import load_settings
    from hotline.timestamps import SHANGHAI

    calendar = build_calendar(load_settings())
    rng = random.Random(4)
    for _ in range(300):
        first = date(2018, 1, 1) + timedelta(days=rng.randint(0, 3600))  # into years no calendar knows
        end = first + timedelta(days=rng.randint(0, 400))
        slow = sum(1 for n in range((end - first).days) if calendar.is_workday(first + timedelta(days=n)))
        assert calendar.working_days_between(first, end) == slow
        start = datetime.combine(first, datetime.min.time(), SHANGHAI) + timedelta(minutes=rng.randint(0, 1439))
        stop = datetime.combine(end, datetime.min.time(), SHANGHAI) + timedelta(minutes=rng.randint(0, 1439))
        by_day = sum(calendar._hours_on(first + timedelta(days=n), start, stop) for n in range((end - first).days + 1))
        assert abs(calendar.working_hours_between(start, stop) - (by_day if stop > start else 0.0)) < 1e-9


def test_working_days_kept_per_day_and_count_answer_as_counting_afresh():
    """add_working_days keeps its answers per (day of receipt, days): asked again at any hour of a day and for
    other counts, a calendar that answered before gives what a new calendar gives, warnings included."""
    import random
    from datetime import timedelta

    settings = load_settings()
    asked = build_calendar(settings)
    rng = random.Random(7)
    for _ in range(400):
        day = date(2025, 12, 1) + timedelta(days=rng.randint(0, 500))  # into a year the calendar does not know
        received = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(minutes=rng.randint(0, 1439))
        days = rng.randint(1, 15)
        assert asked.add_working_days(received, days) == build_calendar(settings).add_working_days(received, days)
    assert len(asked._after_days) > 100  # the answers were kept, so the comparison above was against kept ones


def test_the_last_working_hours_start_where_at_most_that_many_remain_and_are_kept_per_question():
    """start_of_last_working_hours(due, h) is the moment from which at most h office hours remain: before it
    more remain, from it on at most h (the deadline watch warns from that moment on). A calendar that keeps
    its answers gives what a new calendar gives."""
    import random
    from datetime import timedelta

    settings = load_settings()
    asked = build_calendar(settings)
    rng = random.Random(11)
    for _ in range(400):
        due = datetime.combine(date(2025, 12, 1) + timedelta(days=rng.randint(0, 500)), datetime.min.time(),
                               SHANGHAI) + timedelta(minutes=rng.randint(0, 1439))
        hours = rng.choice([0.5, 1, 4, 8, 12.5, 24])
        soon_at = asked.start_of_last_working_hours(due, hours)
        assert soon_at == build_calendar(settings).start_of_last_working_hours(due, hours)
        for now in (soon_at - timedelta(minutes=1), soon_at, soon_at + timedelta(minutes=rng.randint(1, 600)),
                    due - timedelta(minutes=rng.randint(1, 20_000))):
            if now < due:
                # hours summed in floating point: 12.5 may come out as 12.500000000000002
                assert (asked.working_hours_between(now, due) <= hours + 1e-9) == (now >= soon_at), (due, hours, now)
    assert len(asked._last_hours) > 100
