"""Due-soon warnings (临期预警), overdue alerts (超期) and escalation levels for open tickets, the
late-acceptance alert (签收超时) for a dispatched ticket its unit has not accepted by the acceptance deadline,
and a supervisor's urging (催办) as an alert to the unit.

An alert meant for the unit (承办单位) goes to the dispatchers while the ticket waits for one: never
dispatched, or returned (退单). Each holder of a ticket gets the alerts meant for the holder: the unit a
ticket is re-dispatched or rerouted (改派) to is told it is late too.

`alerts_for` says which alerts an open ticket deserves at a given moment, and `next_alert_at` when that can
next change; the store keeps each alert once (ticket, kind, level and the deadline it is about), so a
restarted worker raises nothing twice and a new deadline (an extension, a reopened ticket) gets its own
alerts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from hotline.calendar import WorkCalendar
from hotline.lifecycle import AWAITING_DISPATCH, OPEN_STATUSES, awaiting_acceptance_until, holder
from hotline.models import TicketEvent
from hotline.timestamps import stored_moment

UNIT = "承办单位"  # in the policy: the unit the ticket is with
DISPATCHERS = "热线中心派单员"  # who gets what is meant for the unit while a ticket waits for a dispatcher

WARNING_HORIZON = timedelta(days=20)  # a deadline further away than this is not due soon, whatever the calendar


class AlertPolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Escalation:
    level: int
    to: str
    after_working_days: float


@dataclass(frozen=True)
class AlertPolicy:
    due_soon_working_hours: float
    escalation: tuple[Escalation, ...]
    scan_seconds: float = 5.0
    max_overdue_days: float = 60.0
    accept_overdue_to: tuple[str, ...] = (UNIT,)

    @classmethod
    def from_config(cls, data: dict) -> "AlertPolicy":
        try:
            levels = tuple(Escalation(int(e["level"]), str(e["to"]), float(e["after_working_days"]))
                           for e in data["escalation"])
            accept_to = data.get("accept_overdue_to", [UNIT])
            if not isinstance(accept_to, list) or not all(isinstance(to, str) and to for to in accept_to):
                raise AlertPolicyError("accept_overdue_to must be a list of recipients (an empty list: no alert)")
            policy = cls(float(data["due_soon_working_hours"]), levels, float(data.get("scan_seconds", 5)),
                         float(data.get("max_overdue_days", 60)), tuple(dict.fromkeys(accept_to)))
        except KeyError as exc:
            raise AlertPolicyError(f"missing key {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise AlertPolicyError(f"malformed setting ({exc})") from None
        if policy.due_soon_working_hours <= 0 or policy.scan_seconds <= 0:
            raise AlertPolicyError("due_soon_working_hours and scan_seconds must be positive")
        if not levels or [e.level for e in levels] != list(range(1, len(levels) + 1)):
            raise AlertPolicyError("escalation levels must be 1, 2, 3, … in order")
        if any(b.after_working_days < a.after_working_days for a, b in zip(levels, levels[1:])):
            raise AlertPolicyError("escalation delays must not decrease from one level to the next")
        return policy

    def recipients(self) -> tuple[str, ...]:
        """Whom alerts go to, in escalation order: the unit (or the dispatchers while a ticket waits for one), then
        each level's recipient, then any other recipient of late acceptances."""
        return tuple(dict.fromkeys([UNIT, DISPATCHERS, *(e.to for e in self.escalation), *self.accept_overdue_to]))


class Alert(BaseModel):
    """An alert as raised (on the alerts topic and in the store)."""

    alert_id: str
    ticket_id: str
    kind: str            # due_soon | overdue | accept_overdue | urged
    level: int           # the escalation level for overdue; 0 for the others
    to: str              # who is alerted
    unit: str            # the lead unit responsible
    reply_due: datetime
    due_at: datetime     # the moment the alert became due (it is raised at the first scan after it); for
                         # accept_overdue, the acceptance deadline it is about; for urged, when it was urged
    raised_at: datetime
    message: str


def alert_id(ticket_id: str, kind: str, level: int, deadline: datetime, holder: str | None = None,
             to: str | None = None) -> str:
    """One id per ticket, kind, level and deadline (the reply deadline; the acceptance deadline for a late
    acceptance), and for an alert to whoever holds the ticket (the unit, or the dispatchers while it waits for
    them) per holder too: a ticket returned, re-dispatched or rerouted (改派) alerts the unit it goes to, while
    the supervision office's and the government's are raised once. A late acceptance, one level for several
    recipients, has one id per recipient (`to`)."""
    key = f"{ticket_id}\0{kind}\0{level}\0{deadline.isoformat()}" + (f"\0{holder}" if holder else "") \
        + (f"\0\0{to}" if to else "")
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def alerts_for(ticket: dict, now: datetime, policy: AlertPolicy, calendar: WorkCalendar) -> list[Alert]:
    """Every alert an open ticket with a reply deadline deserves at `now` (the store drops those it has)."""
    found = _acceptance_alerts(ticket, now, policy, calendar)
    due = _watched_due(ticket)
    if due is None or (now < due and due - now > WARNING_HORIZON):
        return found  # no holiday stretch is that long: far from any warning
    waiting = holder(ticket) == AWAITING_DISPATCH  # what would go to the unit goes to the dispatchers

    def recipient(to: str) -> str:
        return DISPATCHERS if waiting and to == UNIT else to

    soon_at = calendar.start_of_last_working_hours(due, policy.due_soon_working_hours) if now < due else None
    if soon_at is not None and now >= soon_at:  # at most due_soon_working_hours office hours left
        found.append(_alert(ticket, "due_soon", 0, recipient(UNIT), due, soon_at, now,
                            f"临期：答复期限 {due:%Y-%m-%d %H:%M}，剩余不足 {policy.due_soon_working_hours:g} 个工作小时"))
    if now >= due:
        for step in policy.escalation:
            at = _escalation_at(step, due, calendar)
            if now >= at:
                late = _lateness(calendar.working_hours_between(due, now), calendar.hours_per_day)
                to = recipient(step.to)
                found.append(_alert(ticket, "overdue", step.level, to, due, at, now,
                                    f"超期：答复期限 {due:%Y-%m-%d %H:%M}，{late}，{step.level} 级督办至{to}"))
    return found


def _acceptance_alerts(ticket: dict, now: datetime, policy: AlertPolicy, calendar: WorkCalendar) -> list[Alert]:
    """签收超时: a dispatched ticket not accepted by its acceptance deadline alerts each of `accept_overdue_to`
    (the unit holding it, and whoever else chases acceptances, 催签) once per dispatch."""
    accept_due = awaiting_acceptance_until(ticket)
    if accept_due is None or now < accept_due or not ticket.get("reply_due"):
        return []
    due = stored_moment(ticket["reply_due"])
    late = _lateness(calendar.working_hours_between(accept_due, now), calendar.hours_per_day)
    return [_alert(ticket, "accept_overdue", 0, to, due, accept_due, now,
                   f"签收超时：签收时限 {accept_due:%Y-%m-%d %H:%M}，{late}，承办单位尚未签收",
                   deadline=accept_due)
            for to in policy.accept_overdue_to]


def urge_alert(ticket: dict, event: TicketEvent) -> Alert | None:
    """催办: a supervisor's urging (an `urged` event, applied to the stored `ticket`) as an alert to the unit the
    ticket is with, one per event; None once the ticket is no longer with a unit (answered, returned) or, when
    the event names the unit urged (`unit`, as the web app records it), no longer with that unit (an urging
    applied again after the ticket moved on tells nobody). Like the deadline alerts to the unit, it applies
    while the unit holds the ticket under the same reply deadline."""
    unit = holder(ticket)
    if event.kind != "urged" or ticket["status"] not in OPEN_STATUSES or unit == AWAITING_DISPATCH \
            or not ticket.get("reply_due") or event.data.get("unit", unit) != unit:
        return None
    return Alert(alert_id=hashlib.sha256(f"urged\0{event.event_id}".encode()).hexdigest()[:24],
                 ticket_id=ticket["ticket_id"], kind="urged", level=0, to=UNIT, unit=unit,
                 reply_due=stored_moment(ticket["reply_due"]), due_at=event.at, raised_at=event.at,
                 message=f"催办：{str(event.data.get('reason') or '').strip()}")


def still_applies(alert: dict, ticket: dict, now: datetime) -> bool:
    """Whether a raised alert still asks something of someone at `now`: its ticket is being handled under the
    deadline the alert is about (not answered, merged or given a new deadline since), a due-soon warning's
    deadline has not passed (the overdue alerts take over), and an alert meant for the holder (the unit, or the
    dispatchers while the ticket waits for one) is with the one that holds the ticket now (a ticket returned or
    rerouted gets alerts of its own for its new holder). A late acceptance applies while the ticket waits,
    under the same dispatch, for its unit to accept it."""
    if alert["kind"] == "accept_overdue":
        accept_due = awaiting_acceptance_until(ticket)
        return accept_due is not None and accept_due == stored_moment(alert["due_at"]) \
            and holder(ticket) == alert["unit"]
    if ticket["status"] not in OPEN_STATUSES or not ticket.get("reply_due") \
            or stored_moment(ticket["reply_due"]) != stored_moment(alert["reply_due"]):
        return False
    if alert["kind"] == "due_soon" and now >= stored_moment(alert["reply_due"]):
        return False
    return alert["to"] not in (UNIT, DISPATCHERS) or holder(ticket) == alert["unit"]


def _lateness(hours: float, hours_per_day: float) -> str:
    """How far past its deadline a ticket is, in words: working hours under a day, working days from one on;
    no number before a tenth of a working hour has passed (at the deadline, or outside office hours)."""
    if hours < 0.05:
        return "已逾期"
    if hours < hours_per_day:
        return f"已超 {hours:.1f} 个工作小时"
    return f"已超 {hours / hours_per_day:.1f} 个工作日"


def next_alert_at(ticket: dict, now: datetime, policy: AlertPolicy, calendar: WorkCalendar) -> datetime | None:
    """The first moment after `now` from which `alerts_for` may say more than it says at `now`; None when it
    never will, as long as the ticket's status and deadline stay as they are. Until then the ticket needs no
    look: the deadline watch skips it."""
    accept_due = awaiting_acceptance_until(ticket)
    moments = [accept_due] if accept_due is not None and now < accept_due and policy.accept_overdue_to else []
    due = _watched_due(ticket)
    if due is not None and now < due:
        soon_at = calendar.start_of_last_working_hours(due, policy.due_soon_working_hours)
        moments.append(soon_at if now < soon_at else due)
    elif due is not None:
        moments.extend(at for step in policy.escalation if (at := _escalation_at(step, due, calendar)) > now)
    return min(moments, default=None)


def _watched_due(ticket: dict) -> datetime | None:
    """The reply deadline of a ticket the watch follows (open, not waiting for the citizen), else None."""
    if ticket["status"] not in OPEN_STATUSES or not ticket.get("reply_due") or ticket["status"] == "waiting_citizen":
        return None
    return stored_moment(ticket["reply_due"])


def _escalation_at(step: Escalation, due: datetime, calendar: WorkCalendar) -> datetime:
    if step.after_working_days <= 0:
        return due
    return calendar.add_working_hours(due, step.after_working_days * calendar.hours_per_day).at


def _alert(ticket, kind, level, to, due, due_at, now, message, deadline=None) -> Alert:
    unit = holder(ticket)
    key_holder = unit if to in (UNIT, DISPATCHERS) else None
    key = alert_id(ticket["ticket_id"], kind, level, deadline or due, key_holder, to if deadline else None)
    return Alert(alert_id=key, ticket_id=ticket["ticket_id"],
                 kind=kind, level=level, to=to, unit=unit, reply_due=due, due_at=due_at, raised_at=now, message=message)
