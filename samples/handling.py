"""The units' side of the demo: what the lead unit and the callback team did with a dispatched sample ticket
up to a given moment, as ticket events with their own times (actor "demo").

Most tickets are accepted within hours and replied to within their deadline, some late; the callback team
calls every citizen back after the reply and records the satisfaction, sometimes after a call nobody answered,
and a few are never reached (无法回访); now and then a unit returns a ticket to the dispatchers, and a
supervisor urges a unit on (催办) once its acceptance or its reply is overdue, a late reply some twice. People do
this at work: every step falls in office hours on a working day of the centre's calendar. Steps whose time
is still to come have not happened, so recent tickets stay open, and an unanswered one goes overdue as the
demo runs. The same ticket always gets the same handling.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hotline.calendar import WorkCalendar
from hotline.models import TicketEvent
from hotline.timestamps import parse_timestamp

ACTOR = "demo"
RETURN_SHARE = 0.05
LATE_SHARE = 0.2
NO_ANSWER_SHARE = 0.15  # a first call nobody answers
GIVE_UP_SHARE = 0.05  # nobody answers any call: the callback is given up
GIVE_UP_CALLS = 3  # config/deadlines.yaml callback.attempts
SATISFACTION_WEIGHTS = {"满意": 0.72, "基本满意": 0.2, "不满意": 0.08}
REPLIES = [
    "已联系市民并到现场核实，问题已处理，市民表示认可。",
    "已转交属地街道办理，相关整改将在本周内完成，已电话告知市民。",
    "经核查，已按现行政策向市民作出解释答复。",
    "已约谈相关单位并责令整改，后续将持续跟踪。",
]
RETURN_REASONS = [
    "不属于本单位职责范围，建议改派属地街道。",
    "诉求地址不在本辖区，请核实后改派。",
    "该事项由其他部门主管，请重新派单。",
]
UNSATISFIED = "市民对答复不满意，要求重新办理。"
SECOND_URGING_SHARE = 0.3
URGINGS = [
    "已超过答复时限，请尽快办理并答复市民。",
    "市民再次来电催问，请今日内答复。",
]
ACCEPT_URGING = "已超过签收时限，请尽快签收并办理。"


def handling(ticket: dict, now: datetime, calendar: WorkCalendar) -> list[TicketEvent]:
    """The events of a stored ticket's handling that have happened by `now` (none unless it is dispatched)."""
    if ticket["status"] != "dispatched":
        return []
    rng = random.Random(ticket["ticket_id"])
    received = parse_timestamp(ticket["received_at"])
    due = parse_timestamp(ticket["reply_due"]) if ticket.get("reply_due") else received + timedelta(days=5)

    def after(moment: datetime, working_hours: float) -> datetime:
        return calendar.add_working_hours(moment, working_hours).at

    def event(step: str, at: datetime, **data) -> TicketEvent:
        """The step's event ("kind" or "kind-n" for the n-th of a kind)."""
        return TicketEvent(event_id=f"demo-{step}-{ticket['ticket_id']}", ticket_id=ticket["ticket_id"],
                           kind=step.split("-")[0], at=at, actor=ACTOR, data=data)

    if rng.random() < RETURN_SHARE:
        at = after(received, rng.uniform(1, 6))
        return [event("returned", at, reason=rng.choice(RETURN_REASONS), unit=ticket["lead_unit"])] if at <= now else []
    plan = [event("accepted", after(received, rng.uniform(0.3, 4)))]
    share = rng.uniform(1.05, 1.8) if rng.random() < LATE_SHARE else rng.uniform(0.2, 0.95)
    allowed = max(calendar.working_hours_between(received, due), 1.0)
    replied_at = max(after(received, allowed * share), after(plan[0].at, 1 / 6))
    plan.append(event("replied", replied_at, reply=rng.choice(REPLIES)))
    urged_at = after(due, rng.uniform(0.5, 6))
    for n in range(1 + (rng.random() < SECOND_URGING_SHARE)):
        if urged_at < replied_at:
            plan.append(event(f"urged-{n + 1}", urged_at, reason=URGINGS[n], unit=ticket["lead_unit"]))
        urged_at = after(urged_at, rng.uniform(2, 6))
    called = replied_at
    calls = GIVE_UP_CALLS if rng.random() < GIVE_UP_SHARE else int(rng.random() < NO_ANSWER_SHARE)
    for n in range(calls):
        called = after(called, rng.uniform(1, 5))
        plan.append(event(f"callback_failed-{n + 1}", called, reason="无人接听"))
    if calls < GIVE_UP_CALLS:
        satisfaction = rng.choices(list(SATISFACTION_WEIGHTS), list(SATISFACTION_WEIGHTS.values()))[0]
        data = {"satisfaction": satisfaction, **({"reason": UNSATISFIED} if satisfaction == "不满意" else {})}
        plan.append(event("callback", after(called, rng.uniform(1, 14 if not calls else 5)), **data))
    if ticket.get("accept_due"):  # not accepted within a while after its acceptance deadline: urged on
        urged_at = after(parse_timestamp(ticket["accept_due"]), rng.uniform(0.25, 1))
        if urged_at < plan[0].at:
            plan.append(event("urged-accept", urged_at, reason=ACCEPT_URGING, unit=ticket["lead_unit"]))
    return sorted((e for e in plan if e.at <= now), key=lambda e: e.at)
