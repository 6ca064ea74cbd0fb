"""Unit statistics for supervisors (考核评价): acceptance in time, on-time rate, reply time, callbacks and
satisfaction, returns, reopened, urged, open and overdue.

Every figure is computed from the stored tickets passed in, so it can be traced back to them: the pages,
the exports and `hotline report` all call `unit_statistics` and `overdue_and_due_soon`.

A unit answers for the tickets it has been sent. A ticket waiting for a dispatcher (never dispatched, or
returned) is with the centre, whatever unit its suggestion names: it counts, and is overdue, under
`AWAITING_DISPATCH`. A return (退单) counts against the unit that returned the ticket, wherever it is now, and
so does a missed acceptance deadline (签收超时) of a unit that lost the ticket since (re-routed, returned,
reopened: hotline.lifecycle's `late_acceptances`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable

from hotline.calendar import WorkCalendar
from hotline.lifecycle import AWAITING_DISPATCH, OPEN_STATUSES, awaiting_acceptance_until, callback_given_up, holder
from hotline.timestamps import SHANGHAI, stored_moment

SATISFIED = ("满意", "基本满意")
# The fields of a stored ticket the figures and the late list read (a store can read only these).
FIELDS = ("ticket_id", "title", "status", "lead_unit", "returns", "returned_by", "late_acceptances", "replied_at",
          "on_time", "reply_working_days", "reply_seconds", "satisfaction", "reopened", "reply_due", "callback_due",
          "callback_attempts", "accepted_on_time", "accept_due", "urged")


@dataclass(frozen=True)
class Period:
    """Tickets received from `start` (inclusive) to `end` (exclusive); None leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def days(cls, first: date | None, last: date | None) -> "Period":
        """Whole days in Asia/Shanghai, from the day `first` to the day `last`, both included."""
        if first is not None and last is not None and last < first:
            raise ValueError(f"the last day {last} is before the first day {first}")
        return cls(datetime.combine(first, time(0), SHANGHAI) if first else None,
                   datetime.combine(last + timedelta(days=1), time(0), SHANGHAI) if last else None)

    def holds(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


@dataclass(frozen=True)
class UnitFigures:
    unit: str
    tickets: int
    accept_on_time_rate: float | None   # 签收及时率: accepted by the acceptance deadline / (those + 签收超时)
    accepted_late: int                  # 签收超时: accepted after the acceptance deadline, or not yet and past it,
                                        # now or before the ticket left the unit (late_to_accept)
    replied: int
    on_time: int
    on_time_rate: float | None          # 按时办结率: replies by the deadline / replies with a deadline
    median_reply_working_days: float | None
    p90_reply_working_days: float | None
    median_reply_days: float | None     # wall-clock
    mean_reply_days: float | None
    callbacks: int                      # tickets whose citizen was reached (a satisfaction recorded)
    callback_given_up: int              # 无法回访: given up after the policy's number of unanswered calls
    callback_rate: float | None         # 回访率: reached / (reached + given up), the callbacks finished (a ticket
                                        # whose latest callback was given up counts as given up only)
    awaiting_callback: int              # replied tickets whose callback is due now (待回访)
    satisfied: int
    satisfaction_rate: float | None     # 满意 + 基本满意 / callbacks
    dissatisfied: int
    returned: int
    returned_rate: float | None         # tickets the unit returned (退单) / those and its tickets
    reopened: int
    urged: int                          # 催办: tickets a supervisor urged the unit on about, once or more
    open: int
    overdue_open: int

    def as_dict(self) -> dict:
        return asdict(self)


# The figures of a unit's row in every table of them (the supervision page's exports, `hotline report`), with
# their column labels; RATES are fractions (shown as percentages).
COLUMNS = [
    ("tickets", "工单"), ("accept_on_time_rate", "签收及时率"), ("accepted_late", "签收超时"), ("replied", "已答复"),
    ("on_time_rate", "按时办结率"),
    ("median_reply_working_days", "答复用时中位数(工作日)"), ("p90_reply_working_days", "答复用时90分位(工作日)"),
    ("median_reply_days", "答复用时中位数(自然日)"), ("mean_reply_days", "答复用时平均(自然日)"),
    ("satisfaction_rate", "满意率"), ("callbacks", "回访"), ("callback_given_up", "无法回访"), ("callback_rate", "回访率"),
    ("awaiting_callback", "待回访"), ("returned_rate", "退单率"), ("reopened", "重办"), ("urged", "催办"), ("open", "在办"),
    ("overdue_open", "超期未办结"),
]
RATES = {"accept_on_time_rate", "on_time_rate", "satisfaction_rate", "callback_rate", "returned_rate"}


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def overdue(ticket: dict, now: datetime) -> bool:
    """An open ticket past its reply deadline."""
    return ticket["status"] in OPEN_STATUSES and bool(ticket.get("reply_due")) and stored_moment(ticket["reply_due"]) < now


# What some counts of a unit's row count, among the tickets it holds (returned: among all tickets, by the unit
# named): the stores' TicketQuery flags of the same names select the same tickets, so each count links to them.
def replied(ticket: dict) -> bool:
    return bool(ticket.get("replied_at"))


def accept_overdue(ticket: dict, now: datetime) -> bool:
    """超时未签收: dispatched and not accepted (签收) yet, with the acceptance deadline passed at `now`."""
    until = awaiting_acceptance_until(ticket)
    return until is not None and until < now


def accepted_late(ticket: dict, now: datetime) -> bool:
    """签收超时: accepted after its acceptance deadline (hotline.lifecycle: accepted_on_time), or not accepted
    yet with the deadline passed at `now`."""
    return ticket.get("accepted_on_time") is False or accept_overdue(ticket, now)


def late_to_accept(ticket: dict, unit: str | None, now: datetime) -> bool:
    """签收超时 counted against `unit` (None: against any unit): it holds the ticket and is late to accept it
    (`accepted_late`), or it missed an acceptance deadline of the ticket before the ticket left it
    (`late_acceptances`)."""
    earlier = ticket.get("late_acceptances") or ()
    if unit is None:
        return bool(earlier) or accepted_late(ticket, now)
    return unit in earlier or (holder(ticket) == unit and accepted_late(ticket, now))


def called_back(ticket: dict) -> bool:
    """The citizen was reached by a callback (回访): a satisfaction is recorded."""
    return bool(ticket.get("satisfaction"))


def reopened(ticket: dict) -> bool:
    return (ticket.get("reopened") or 0) > 0


def urged(ticket: dict) -> bool:
    """A supervisor urged the unit on (催办) once or more."""
    return (ticket.get("urged") or 0) > 0


def is_open(ticket: dict) -> bool:
    return ticket["status"] in OPEN_STATUSES


def was_returned(ticket: dict) -> bool:
    """Returned (退单) once or more, by whichever unit."""
    return (ticket.get("returns") or 0) > 0


def returned_by(ticket: dict, unit: str) -> bool:
    """The unit returned the ticket (退单) once or more, wherever it is now."""
    return unit in (ticket.get("returned_by") or ())


def figures(unit: str, tickets: list[dict], now: datetime, returned: int | None = None,
            late_elsewhere: int | None = None) -> UnitFigures:
    """The figures of a unit's tickets (those it holds); `returned`: the tickets it returned, and
    `late_elsewhere`: the tickets it was late to accept that others hold now (default for both: those of
    `tickets` that were ever returned or accepted late, as for all units together)."""
    answered = [t for t in tickets if replied(t)]
    whose = None if late_elsewhere is None else unit
    late = [late_to_accept(t, whose, now) for t in tickets]
    accepted_in_time = sum(1 for t, was_late in zip(tickets, late)
                           if t.get("accepted_on_time") is True and not was_late)
    late_accepted = sum(late) + (late_elsewhere or 0)
    timed = [t for t in answered if t.get("on_time") is not None]
    on_time = sum(1 for t in timed if t["on_time"])
    working = [t["reply_working_days"] for t in answered if t.get("reply_working_days") is not None]
    wall = [t["reply_seconds"] / 86400 for t in answered if t.get("reply_seconds") is not None]
    callbacks = [t for t in tickets if called_back(t)]
    gave_up = [t for t in tickets if callback_given_up(t)]
    given_up = len(gave_up)
    reached = len(callbacks) - sum(1 for t in gave_up if called_back(t))  # the latest callback counts
    satisfied = sum(1 for t in callbacks if t["satisfaction"] in SATISFIED)
    if returned is None:
        returned = sum(1 for t in tickets if was_returned(t))
        sent = len(tickets)
    else:  # the unit's tickets and those it returned, less those it returned that came back to it
        sent = len(tickets) + returned - sum(1 for t in tickets if returned_by(t, unit))
    open_ = [t for t in tickets if is_open(t)]
    late = sum(1 for t in open_ if overdue(t, now))
    return UnitFigures(
        unit=unit, tickets=len(tickets),
        accept_on_time_rate=_rate(accepted_in_time, accepted_in_time + late_accepted), accepted_late=late_accepted,
        replied=len(answered), on_time=on_time, on_time_rate=_rate(on_time, len(timed)),
        median_reply_working_days=_round(percentile(working, 0.5)), p90_reply_working_days=_round(percentile(working, 0.9)),
        median_reply_days=_round(percentile(wall, 0.5)), mean_reply_days=_round(sum(wall) / len(wall) if wall else None),
        callbacks=len(callbacks), callback_given_up=given_up, callback_rate=_rate(reached, reached + given_up),
        awaiting_callback=sum(1 for t in tickets if t.get("callback_due")),
        satisfied=satisfied, satisfaction_rate=_rate(satisfied, len(callbacks)),
        dissatisfied=sum(1 for t in callbacks if t["satisfaction"] == "不满意"),
        returned=returned, returned_rate=_rate(returned, sent),
        reopened=sum(1 for t in tickets if reopened(t)), urged=sum(1 for t in tickets if urged(t)),
        open=len(open_), overdue_open=late,
    )


def unit_statistics(tickets: list[dict], now: datetime) -> tuple[list[UnitFigures], UnitFigures]:
    """Figures per unit that has tickets or returned some (most tickets first), with `AWAITING_DISPATCH` for
    those waiting for a dispatcher, and for all tickets together."""
    by_unit: dict[str, list[dict]] = {}
    returned_by: dict[str, int] = {}
    late_elsewhere: dict[str, int] = {}  # tickets a unit was late to accept (签收超时) that another holds now
    for ticket in tickets:
        held_by = holder(ticket)
        by_unit.setdefault(held_by, []).append(ticket)
        for unit in set(ticket.get("returned_by") or ()):
            returned_by[unit] = returned_by.get(unit, 0) + 1
        for unit in set(ticket.get("late_acceptances") or ()) - {held_by}:
            late_elsewhere[unit] = late_elsewhere.get(unit, 0) + 1
    for unit in [*returned_by, *late_elsewhere]:
        by_unit.setdefault(unit, [])
    rows = [figures(unit, group, now, None if unit == AWAITING_DISPATCH else returned_by.get(unit, 0),
                    late_elsewhere.get(unit, 0)) for unit, group in by_unit.items()]
    rows.sort(key=lambda f: (-f.tickets, f.unit))
    return rows, figures("all", tickets, now)


@dataclass(frozen=True)
class LateTicket:
    ticket_id: str
    unit: str
    title: str
    status: str
    reply_due: datetime
    late_working_days: float   # positive: overdue by; negative: due in
    level: str                 # overdue | due_soon
    urged: int = 0             # times a supervisor urged the unit on (催办)


def overdue_and_due_soon(tickets: Iterable[dict], now: datetime, calendar: WorkCalendar,
                         due_soon_hours: float) -> list[LateTicket]:
    """Open tickets past their reply deadline, and those within `due_soon_hours` working hours of it;
    most overdue first."""
    found = []
    for t in tickets:
        if t["status"] not in OPEN_STATUSES or not t.get("reply_due"):
            continue
        due = stored_moment(t["reply_due"])
        if due < now:
            late = calendar.working_hours_between(due, now) / calendar.hours_per_day
            found.append(LateTicket(t["ticket_id"], holder(t), t["title"], t["status"], due, round(late, 2), "overdue",
                                    t.get("urged") or 0))
        else:
            left = calendar.working_hours_between(now, due)
            if left <= due_soon_hours:
                found.append(LateTicket(t["ticket_id"], holder(t), t["title"], t["status"], due,
                                        round(-left / calendar.hours_per_day, 2), "due_soon", t.get("urged") or 0))
    found.sort(key=lambda item: -item.late_working_days)
    return found
