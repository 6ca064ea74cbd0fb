"""Working time under the Chinese holiday calendar: working days, office hours, deadlines.

Convention: "N working days" ends at the close of the N-th working day after the day of receipt; the
day of receipt does not count. A day in a year the calendar does not know counts as a working day when
it is a weekday, and the answer carries a warning instead of failing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np

from hotline.timestamps import SHANGHAI


class CalendarConfigError(ValueError):
    pass


def _kept(answers: dict, key, answer: Callable):
    """answers[key], from answer() the first time it is asked; at most 10,000 kept (all dropped when full)."""
    found = answers.get(key)
    if found is None:
        if len(answers) >= 10_000:
            answers.clear()
        found = answers[key] = answer()
    return found


@dataclass(frozen=True)
class Deadline:
    at: datetime
    warnings: tuple[str, ...] = ()


@dataclass
class WorkCalendar:
    holidays: set[date]
    workdays: set[date]
    known_years: set[int]
    office_hours: list[tuple[time, time]] = field(default_factory=lambda: [(time(9), time(12)), (time(13, 30), time(17, 30))])

    def __post_init__(self) -> None:
        if not self.office_hours:
            raise CalendarConfigError("office_hours must list at least one period")
        for start, end in self.office_hours:
            if not start < end:
                raise CalendarConfigError(f"office period {start:%H:%M}-{end:%H:%M} ends before it starts")
        self.office_hours = sorted(self.office_hours)
        self.close = self.office_hours[-1][1]
        # derived once: the calendar is not changed after it is built
        self._weekday_holidays = sorted(d for d in self.holidays if d.weekday() < 5 and d not in self.workdays)
        self._weekend_workdays = sorted(d for d in self.workdays if d.weekday() >= 5)
        self._after_days: dict[tuple[date, int], Deadline] = {}  # add_working_days per (day of receipt, days)
        self._last_hours: dict[tuple[datetime, float], datetime] = {}  # start_of_last_working_hours per question

    @classmethod
    def build(cls, package_holidays, package_workdays, package_years: range, config: dict) -> "WorkCalendar":
        """From the chinese-calendar package's data and the parsed config/calendar.yaml."""
        holidays, workdays = set(package_holidays), set(package_workdays)
        known = set(package_years)
        for year, spec in (config.get("years") or {}).items():
            spec = spec or {}
            try:
                extra_holidays = {date.fromisoformat(str(d)) for d in spec.get("holidays") or []}
                extra_workdays = {date.fromisoformat(str(d)) for d in spec.get("workdays") or []}
            except ValueError as exc:
                raise CalendarConfigError(f"year {year}: {exc}") from None
            holidays = (holidays - extra_workdays) | extra_holidays
            workdays = (workdays - extra_holidays) | extra_workdays
            known.add(int(year))
        periods = []
        for entry in config.get("office_hours") or [["09:00", "12:00"], ["13:30", "17:30"]]:
            try:
                start, end = (time.fromisoformat(str(t)) for t in entry)
            except (ValueError, TypeError):
                raise CalendarConfigError(f"office_hours entry {entry!r} must be two times like ['09:00', '12:00']") from None
            periods.append((start, end))
        return cls(holidays=holidays, workdays=workdays, known_years=known, office_hours=periods)

    @property
    def hours_per_day(self) -> float:
        """Office hours in one working day: the unit of latency in working days."""
        return sum((datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
                   for start, end in self.office_hours) / 3600

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Office hours on working days between two moments (0 when end is not after start)."""
        start, end = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
        if end <= start:
            return 0.0
        first, last = start.date(), end.date()
        if first == last:
            return self._hours_on(first, start, end)
        whole_days = self.working_days_between(first + timedelta(days=1), last)
        return (self._hours_on(first, start, end) + whole_days * self.hours_per_day + self._hours_on(last, start, end))

    def _hours_on(self, day: date, start: datetime, end: datetime) -> float:
        if not self.is_workday(day):
            return 0.0
        total = 0.0
        for begin, finish in self.office_hours:
            a = max(datetime.combine(day, begin, SHANGHAI), start)
            b = min(datetime.combine(day, finish, SHANGHAI), end)
            if b > a:
                total += (b - a).total_seconds()
        return total / 3600

    def working_days_between(self, first: date, end: date) -> int:
        """Working days from `first` (inclusive) to `end` (exclusive), in constant time: weekdays, less the
        holidays on weekdays, plus the make-up workdays on weekends."""
        if end <= first:
            return 0
        weekdays = int(np.busday_count(first, end))
        off = bisect_left(self._weekday_holidays, end) - bisect_left(self._weekday_holidays, first)
        extra = bisect_left(self._weekend_workdays, end) - bisect_left(self._weekend_workdays, first)
        return weekdays - off + extra

    def start_of_last_working_hours(self, moment: datetime, hours: float) -> datetime:
        """The earliest moment from which at most `hours` office hours remain until `moment`: 4 hours
        before a 17:30 close with lunch 12:00-13:30 is 12:00, the end of the morning. So at any `now` before
        `moment`, working_hours_between(now, moment) <= hours exactly when now >= this."""
        # the deadline watch asks it of every ticket it looks at, and many share a deadline: kept per question
        return _kept(self._last_hours, (moment, hours), lambda: self._start_of_last_working_hours(moment, hours))

    def _start_of_last_working_hours(self, moment: datetime, hours: float) -> datetime:
        moment = moment.astimezone(SHANGHAI)
        remaining = timedelta(hours=hours)
        day = moment.date()
        found = None
        while True:
            if self.is_workday(day):
                for start, end in reversed(self.office_hours):
                    begin = datetime.combine(day, start, SHANGHAI)
                    finish = min(datetime.combine(day, end, SHANGHAI), moment)
                    if finish <= begin:
                        continue
                    if found is not None:  # the answer was the start of a period: the end of the one before
                        return finish
                    if finish - begin > remaining:
                        return finish - remaining
                    remaining -= finish - begin
                    if remaining == timedelta(0):
                        found = begin
            day -= timedelta(days=1)

    def knows(self, day: date) -> bool:
        return day.year in self.known_years

    def unknown_years_ahead(self, today: date, days: int = 60) -> list[int]:
        """The years of the next `days` days that the calendar does not know: deadlines set now may fall there."""
        return sorted({year for year in range(today.year, (today + timedelta(days=days)).year + 1)
                       if year not in self.known_years})

    def gap_notice(self, today: date, days: int = 60) -> str | None:
        """What to tell the centre when deadlines set now may fall in a year the calendar does not know."""
        years = self.unknown_years_ahead(today, days)
        if not years:
            return None
        listed = "、".join(str(y) for y in years)
        return (f"节假日日历未含 {listed} 年：期限按周一至周五计算。国务院公布放假安排后，请在 config/calendar.yaml 中补充"
                f" (the holiday calendar does not know {listed}: deadlines there count weekdays as working days until"
                f" its holidays and make-up workdays are listed in config/calendar.yaml)")

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def _warning(self, day: date) -> str:
        return (f"{day.year} is beyond the known holiday calendar (known: {min(self.known_years)}-"
                f"{max(self.known_years)} and config/calendar.yaml): weekdays counted as working days")

    def add_working_days(self, received: datetime, days: int) -> Deadline:
        """The close of the `days`-th working day after the day of receipt."""
        if days < 1:
            raise ValueError("working days must be at least 1")
        day = received.astimezone(SHANGHAI).date()
        # it depends on the day alone, and a worker asks it for every ticket: kept per (day, days)
        return _kept(self._after_days, (day, days), lambda: self._add_working_days(day, days))

    def _add_working_days(self, day: date, days: int) -> Deadline:
        warnings: list[str] = []
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if not self.knows(day) and (w := self._warning(day)) not in warnings:
                warnings.append(w)
            if self.is_workday(day):
                counted += 1
        return Deadline(datetime.combine(day, self.close, SHANGHAI), tuple(warnings))

    def add_working_hours(self, received: datetime, hours: float) -> Deadline:
        """The moment `hours` of office time after receipt (counting starts at the next office period)."""
        if hours <= 0:
            raise ValueError("working hours must be more than 0")
        remaining = timedelta(hours=hours)
        moment = received.astimezone(SHANGHAI)
        warnings: list[str] = []
        day = moment.date()
        while True:
            if not self.knows(day) and (w := self._warning(day)) not in warnings:
                warnings.append(w)
            if self.is_workday(day):
                for start, end in self.office_hours:
                    begin = max(datetime.combine(day, start, SHANGHAI), moment)
                    finish = datetime.combine(day, end, SHANGHAI)
                    if begin >= finish:
                        continue
                    if finish - begin >= remaining:
                        return Deadline(begin + remaining, tuple(warnings))
                    remaining -= finish - begin
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), SHANGHAI)
