"""What each ticket event does to a ticket, and which events are impossible (the closed loop:
按责交办 → 签收 → 答复 → 办结 → 回访).

Statuses:
  pending_review   waits for a dispatcher (待人工派单)
  dispatched       sent to the lead unit, not yet accepted (已派单)
  accepted         the unit has accepted it and is handling it (已签收)
  waiting_citizen  the unit waits for the citizen; the reply clock pauses (等待市民补充)
  replied          the unit has replied (已答复)
  closed           closed after review or a satisfied callback (办结)
  merged           merged into another ticket about the same issue (并单)

Events and what they do:
  dispatched            pending_review -> dispatched (a dispatcher confirms or corrects the suggestion); the
                        unit's acceptance deadline (签收时限, `accept_due`) counts from then
  rerouted (改派)        dispatched/accepted -> dispatched to another lead unit; needs a reason; a new acceptance
                        deadline
  (a unit that missed its acceptance deadline, accepting late or not by then, and loses the ticket to a
  re-route, a return or a reopening is kept in `late_acceptances`: its 签收超时 stays counted against it)
  returned (退单)        dispatched/accepted -> pending_review; needs a reason; the unit it was with is kept in
                        `returned_by`; too many returns flag a supervisor
  accepted (签收)        dispatched -> accepted; `accepted_on_time` says whether by the acceptance deadline (a
                        reply straight from dispatched accepts it too)
  paused / resumed      accepted <-> waiting_citizen; the paused working time is added to the reply deadline
  extension_requested   accepted/waiting_citizen, none pending; `days` working days and a reason
  extension_approved    adds the requested working days to the reply deadline; extension_refused drops it
  replied (答复)         dispatched/accepted -> replied; latency kept wall-clock and in working days.
                        A historical reply (`imported: true`) may also answer a ticket waiting for review.
  closed (办结)          replied -> closed
  callback (回访)        replied/closed -> closed with 满意 or 基本满意; 不满意 reopens the ticket and needs a reason
                        (what the citizen is not satisfied with, for the unit handling it again). A reply (not
                        a historical one) makes a callback due (`callback_due`, DeadlinePolicy.callback); the
                        callback, a reopening or giving up clears it, and the callback or a reopening sets the
                        count of unanswered calls back to 0
  callback_failed       a call for the callback that nobody answered (回访未接通), while one is due; after the
                        policy's number of such calls the callback is given up (无法回访: no longer due, the
                        calls still counted: see `callback_given_up`)
  reopened              replied/closed -> dispatched to the same unit with a new reply deadline; needs a reason
  merged (并单)          an open ticket -> merged into another ticket (`into`) about the same issue; it is
                        handled there and leaves every list of work (no deadline alerts)
  urged (催办)           a supervisor urges the unit a ticket is with (dispatched, accepted or waiting for the
                        citizen) to get on with it; needs a reason (what is asked); counted in `urged`, the
                        status unchanged; the unit is alerted (hotline.alerts.urge_alert)

The state is the part of a ticket that events change; the store keeps it and applies `Lifecycle.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from hotline.calendar import WorkCalendar
from hotline.deadlines import CallbackLimits, DeadlinePolicy
from hotline.models import TicketEvent
from hotline.timestamps import stored_moment

SATISFACTION = ("满意", "基本满意", "不满意")
STATUS_NAMES = {"pending_review": "待派单", "dispatched": "已派单", "accepted": "已签收", "waiting_citizen": "待市民补充",
                "replied": "已答复", "closed": "已办结", "merged": "已并单"}
OPEN_STATUSES = ("pending_review", "dispatched", "accepted", "waiting_citizen")
AWAITING_DISPATCH = "待派单"  # who answers for a ticket waiting for a dispatcher: the centre


# The statuses each event can happen in, and how a refusal names them. Extension decisions need a request
# waiting (any status); a historical reply may also answer a ticket waiting for review (see _replied).
STARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "dispatched": (("pending_review",), "waiting for a dispatcher"),
    "rerouted": (("dispatched", "accepted"), "with a unit"),
    "returned": (("dispatched", "accepted"), "with a unit; only such a ticket can be returned"),
    "accepted": (("dispatched",), "dispatched and waiting to be accepted"),
    "paused": (("accepted",), "accepted"),
    "resumed": (("waiting_citizen",), "waiting for the citizen"),
    "extension_requested": (("accepted", "waiting_citizen"), "being handled"),
    "extension_approved": (tuple(STATUS_NAMES), "in any status"),  # with a request waiting (see the handlers)
    "extension_refused": (tuple(STATUS_NAMES), "in any status"),
    "replied": (("dispatched", "accepted"), "with a unit (dispatched or accepted)"),
    "closed": (("replied",), "replied"),
    "callback": (("replied", "closed"), "replied or closed"),
    "callback_failed": (("replied", "closed"), "replied or closed"),  # with a callback due (see the handler)
    "reopened": (("replied", "closed"), "replied or closed"),
    "merged": (OPEN_STATUSES, "open"),
    "urged": (("dispatched", "accepted", "waiting_citizen"), "with a unit"),
}


def possible_events(state: "DispatchState") -> list[str]:
    """The events that can happen to a ticket in this state (given complete data), in STARTS order: what a
    page offers. A historical reply to a ticket waiting for review is left out (imports only)."""
    waiting = state.extension_pending is not None
    return [kind for kind, (statuses, _) in STARTS.items()
            if state.status in statuses
            and (kind != "extension_requested" or not waiting)
            and (kind not in ("extension_approved", "extension_refused") or waiting)
            and (kind != "callback_failed" or state.callback_due is not None)]


def holder(ticket: dict) -> str:
    """Who answers for a stored ticket now: its lead unit, or `AWAITING_DISPATCH` (the centre) while it waits for
    a dispatcher (never dispatched, or returned), whatever unit its suggestion names, and once merged (并单)
    while waiting (no lead unit then)."""
    return AWAITING_DISPATCH if ticket["status"] == "pending_review" or not ticket["lead_unit"] else ticket["lead_unit"]


def dispatched_to(ticket: dict, unit: str) -> bool:
    """Whether a stored ticket is with this unit now, as lead or co-unit (协办): the tickets a unit acts on. One
    waiting for a dispatcher is with no unit yet, whatever unit its suggestion names. The stores'
    `TicketQuery.unit` selects the same tickets."""
    return ticket["status"] != "pending_review" and (
        ticket["lead_unit"] == unit or unit in (ticket.get("co_units") or ()))


def readable_by(ticket: dict, unit: str) -> bool:
    """Whether a unit may read a stored ticket: one dispatched to it now, or one it has left that its figures
    still count against it (hotline.statistics): returned by it (退单), or late to be accepted by it (签收超时).
    A unit reads those to answer for its figures (the stores' `TicketQuery.returned_by` and `accepted_late_by`
    select them); it acts only on those `dispatched_to` it."""
    return (dispatched_to(ticket, unit) or unit in (ticket.get("returned_by") or ())
            or unit in (ticket.get("late_acceptances") or ()))


def awaiting_acceptance_until(ticket: dict) -> datetime | None:
    """The acceptance deadline (签收时限) of a stored ticket dispatched and not accepted yet, else None: what
    the late-acceptance alert (hotline.alerts) and the 签收超时 figure (hotline.statistics) watch."""
    if ticket["status"] != "dispatched" or not ticket.get("accept_due"):
        return None
    return stored_moment(ticket["accept_due"])


def callback_given_up(ticket: dict) -> bool:
    """A stored ticket whose callback (回访) was given up (无法回访): replied or closed, no callback due, and calls
    nobody answered since the reply (a reached callback or a reopening sets their count back to 0). The stores'
    `TicketQuery.callback_given_up` selects the same tickets."""
    return (ticket["status"] in ("replied", "closed") and not ticket.get("callback_due")
            and (ticket.get("callback_attempts") or 0) > 0)


class TransitionError(ValueError):
    """An event that cannot happen to a ticket in its current state; the message says why."""


class InvalidEvent(TransitionError):
    """An event whose own data is incomplete (no unit, no reason), whatever the ticket's state."""


@dataclass(frozen=True)
class DispatchState:
    status: str
    domain: str
    lead_unit: str
    co_units: tuple[str, ...] = ()
    returns: int = 0
    returned_by: tuple[str, ...] = ()  # the lead unit at each return, in order
    # the lead unit, in order, each time the ticket left it (re-routed, returned, reopened) after it had missed its
    # acceptance deadline (accepted late, or not accepted by then): 签收超时 that a new deadline would hide
    late_acceptances: tuple[str, ...] = ()
    last_return_reason: str | None = None
    flagged: str | None = None
    corrected: bool = False
    # set at intake, read by the rules below
    received_at: datetime | None = None
    ticket_type: str | None = None
    urgency: str = "normal"
    # the handling record
    reply_due: datetime | None = None
    accept_due: datetime | None = None  # the lead unit is to accept (签收) by then; None while with nobody
    accepted_at: datetime | None = None
    accepted_on_time: bool | None = None  # accepted by accept_due (None: not accepted, or no deadline)
    replied_at: datetime | None = None
    reply_seconds: float | None = None
    reply_working_days: float | None = None
    on_time: bool | None = None
    paused_since: datetime | None = None
    paused_hours: float = 0.0
    extension_pending: int | None = None
    extensions: int = 0
    closed_at: datetime | None = None
    satisfaction: str | None = None
    callback_due: datetime | None = None  # a callback (回访) is due by then; None: none is due
    callback_attempts: int = 0  # calls nobody answered since the last reply, reached callback or reopening
    reopened: int = 0
    merged_into: str | None = None
    urged: int = 0  # times a supervisor urged the unit on (催办)
    history: tuple[str, ...] = field(default=(), compare=False)


STATE_FIELDS = tuple(f for f in DispatchState.__dataclass_fields__ if f != "history")


def state_of(ticket: dict) -> DispatchState:
    """The state of a stored ticket (a dict with the store's ticket fields, times as datetimes or ISO text)."""
    values = {}
    for name in STATE_FIELDS:
        value = ticket.get(name)
        if name.endswith(("_at", "_due", "_since")) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is not None:
            values[name] = value
    values["co_units"] = tuple(values.get("co_units", ()))
    values["returned_by"] = tuple(values.get("returned_by", ()))
    values["late_acceptances"] = tuple(values.get("late_acceptances", ()))
    values["corrected"] = bool(values.get("corrected", False))
    for flag in ("on_time", "accepted_on_time"):
        if flag in values:
            values[flag] = bool(values[flag])
    return DispatchState(**values)


@dataclass(frozen=True)
class Lifecycle:
    """The rules, with what they need: the return limit, and the calendar and policy for deadlines.
    Without a calendar, latency in working days and deadline changes are left out."""

    max_returns: int = 2
    calendar: WorkCalendar | None = None
    policy: DeadlinePolicy | None = None

    def apply(self, state: DispatchState, event: TicketEvent) -> DispatchState:
        handler = getattr(self, f"_{event.kind}", None)
        if handler is None:
            raise InvalidEvent(f"unknown event kind {event.kind!r}")
        return handler(state, event)

    # -- dispatch --------------------------------------------------------------------------------
    def _dispatched(self, state, event):
        _require(state, event)
        lead = event.data.get("lead_unit")
        domain = event.data.get("domain") or state.domain
        if not lead:
            raise InvalidEvent("a dispatch needs a lead unit")
        return replace(
            state, status="dispatched", domain=domain, lead_unit=lead,
            co_units=tuple(event.data.get("co_units") or ()),
            corrected=state.corrected or domain != state.domain or lead != state.lead_unit,
            accept_due=self._accept_due(state, event.at),
        )

    def _rerouted(self, state, event):
        _require(state, event)
        lead = event.data.get("lead_unit")
        if not lead:
            raise InvalidEvent("a re-route (改派) needs the new lead unit")
        _reason(event, "a re-route (改派)")
        if lead == state.lead_unit:
            raise TransitionError(f"ticket {event.ticket_id} is already with {lead}")
        return replace(state, status="dispatched", lead_unit=lead, co_units=tuple(event.data.get("co_units") or ()),
                       late_acceptances=_late_acceptances(state, event.at), accepted_at=None, accepted_on_time=None,
                       accept_due=self._accept_due(state, event.at))

    def _returned(self, state, event):
        _require(state, event)
        reason = _reason(event, "a return (退单)")
        returns = state.returns + 1
        flagged = state.flagged
        if returns > self.max_returns:
            flagged = f"returned {returns} times (more than {self.max_returns}): needs a supervisor"
        return replace(state, status="pending_review", returns=returns, returned_by=(*state.returned_by, state.lead_unit),
                       last_return_reason=reason, flagged=flagged, late_acceptances=_late_acceptances(state, event.at),
                       accepted_at=None, accepted_on_time=None, accept_due=None)

    # -- handling --------------------------------------------------------------------------------
    def _accepted(self, state, event):
        _require(state, event)
        return replace(state, status="accepted", accepted_at=event.at, accepted_on_time=self._on_time(state, event.at))

    def _paused(self, state, event):
        _require(state, event)
        _reason(event, "waiting for the citizen")
        return replace(state, status="waiting_citizen", paused_since=event.at)

    def _resumed(self, state, event):
        _require(state, event)
        hours = self._working_hours(state.paused_since, event.at)
        due = state.reply_due
        if due is not None and hours > 0 and self.calendar is not None:
            due = self.calendar.add_working_hours(due, hours).at
        return replace(state, status="accepted", paused_since=None, paused_hours=state.paused_hours + hours,
                       reply_due=due)

    def _extension_requested(self, state, event):
        _require(state, event)
        if state.extension_pending is not None:
            raise TransitionError(f"ticket {event.ticket_id} already has an extension request waiting")
        days = event.data.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
            raise InvalidEvent("an extension (延期) needs `days`: a whole number of working days from 1 to 60")
        _reason(event, "an extension (延期)")
        return replace(state, extension_pending=days)

    def _extension_approved(self, state, event):
        if state.extension_pending is None:
            raise TransitionError(f"ticket {event.ticket_id} has no extension request waiting")
        due = state.reply_due
        if due is not None and self.calendar is not None:
            due = self.calendar.add_working_days(due, state.extension_pending).at
        return replace(state, extension_pending=None, extensions=state.extensions + 1, reply_due=due)

    def _extension_refused(self, state, event):
        if state.extension_pending is None:
            raise TransitionError(f"ticket {event.ticket_id} has no extension request waiting")
        return replace(state, extension_pending=None)

    def _replied(self, state, event):
        _require(state, event, also=("pending_review",) if event.data.get("imported") else ())
        if state.received_at is not None and event.at < state.received_at:
            raise InvalidEvent(f"the reply ({event.at.isoformat()}) is earlier than the ticket's receipt "
                               f"({state.received_at.isoformat()})")
        seconds = (event.at - state.received_at).total_seconds() if state.received_at else None
        working = None
        if state.received_at is not None and self.calendar is not None:
            working = round(self._working_hours(state.received_at, event.at) / self.calendar.hours_per_day, 4)
        callback_due = None  # a historical reply's citizen is not called back now
        if self.calendar is not None and self.policy is not None and not event.data.get("imported"):
            callback_due = self.policy.callback_due(event.at, self.calendar)
        accepted = {} if state.accepted_at else {  # a reply accepts; a historical one says nothing of when
            "accepted_at": event.at,
            "accepted_on_time": None if event.data.get("imported") else self._on_time(state, event.at)}
        return replace(
            state, status="replied", replied_at=event.at, **accepted,
            reply_seconds=seconds, reply_working_days=working,
            on_time=(event.at <= state.reply_due) if state.reply_due else None,
            callback_due=callback_due, callback_attempts=0,
        )

    def _closed(self, state, event):
        _require(state, event)
        return replace(state, status="closed", closed_at=event.at)

    def _callback(self, state, event):
        _require(state, event)
        satisfaction = event.data.get("satisfaction")
        if satisfaction not in SATISFACTION:
            raise InvalidEvent(f"a callback (回访) needs satisfaction: one of {'/'.join(SATISFACTION)}")
        if satisfaction == "不满意":
            _reason(event, "a dissatisfied callback (回访不满意), which sends the ticket back to the unit,")
            return replace(self._reopen(state, event), satisfaction=satisfaction)
        return replace(state, status="closed", closed_at=state.closed_at or event.at, satisfaction=satisfaction,
                       callback_due=None, callback_attempts=0)

    def _callback_failed(self, state, event):
        _require(state, event)
        if state.callback_due is None:
            raise TransitionError(f"ticket {event.ticket_id} has no callback due")
        attempts = state.callback_attempts + 1
        limit = self.policy.callback.attempts if self.policy is not None else CallbackLimits().attempts
        return replace(state, callback_attempts=attempts, callback_due=None if attempts >= limit else state.callback_due)

    def _reopened(self, state, event):
        _require(state, event)
        _reason(event, "reopening a ticket")
        return self._reopen(state, event)

    def _merged(self, state, event):
        _require(state, event)
        into = str(event.data.get("into") or "").strip()
        if not into:
            raise InvalidEvent("a merge (并单) needs `into`: the ticket this one joins")
        if into == event.ticket_id:
            raise InvalidEvent("a ticket cannot be merged into itself")
        if state.status == "pending_review":  # never sent to a unit: none answers for it (holder: the centre)
            state = replace(state, lead_unit="", co_units=())
        return replace(state, status="merged", merged_into=into, closed_at=event.at)

    def _urged(self, state, event):
        _require(state, event)
        _reason(event, "urging a unit on (催办)")
        return replace(state, urged=state.urged + 1)

    # -- helpers ---------------------------------------------------------------------------------
    def _reopen(self, state, event):
        due = None
        if self.calendar is not None and self.policy is not None:
            due = self.policy.deadlines(event.at, state.ticket_type, state.urgency, self.calendar).reply_due
        return replace(state, status="dispatched", reopened=state.reopened + 1, reply_due=due, closed_at=None,
                       late_acceptances=_late_acceptances(state, event.at), accepted_at=None, accepted_on_time=None,
                       accept_due=self._accept_due(state, event.at),
                       extension_pending=None, callback_due=None, callback_attempts=0)

    def _accept_due(self, state, at: datetime) -> datetime | None:
        """The acceptance deadline (签收时限) of a ticket sent to a unit at `at` (None without a policy)."""
        if self.calendar is None or self.policy is None:
            return None
        return self.policy.deadlines(at, state.ticket_type, state.urgency, self.calendar).accept_due

    @staticmethod
    def _on_time(state, at: datetime) -> bool | None:
        return None if state.accept_due is None else at <= state.accept_due

    def _working_hours(self, start: datetime | None, end: datetime) -> float:
        if start is None or self.calendar is None:
            return 0.0
        return self.calendar.working_hours_between(start, end)


def _late_acceptances(state: DispatchState, at: datetime) -> tuple[str, ...]:
    """`late_acceptances` as the ticket leaves its lead unit at `at`: with that unit added if it accepted late,
    or had not accepted by its acceptance deadline."""
    missed = state.accepted_on_time is False or (
        state.accepted_at is None and state.accept_due is not None and at > state.accept_due)
    return (*state.late_acceptances, state.lead_unit) if missed else state.late_acceptances


def _require(state: DispatchState, event: TicketEvent, also: tuple[str, ...] = ()) -> None:
    allowed, what = STARTS[event.kind]
    if state.status not in allowed + also:
        raise TransitionError(f"ticket {event.ticket_id} is {state.status}, not {what}: cannot apply {event.kind}")


def _reason(event: TicketEvent, what: str) -> str:
    reason = str(event.data.get("reason") or "").strip()
    if not reason:
        raise InvalidEvent(f"{what} needs a reason")
    return reason
