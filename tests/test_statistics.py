"""Unit figures (考核): a unit answers for the tickets it was sent and the ones it returned; a ticket waiting
for a dispatcher is the centre's, whatever unit its suggestion names."""

from __future__ import annotations

from datetime import datetime, timedelta

from cli.services import build_calendar
from cli.settings import load_settings
from hotline.lifecycle import AWAITING_DISPATCH, Lifecycle
from hotline.models import TicketEvent
from hotline import statistics
from hotline.statistics import overdue_and_due_soon, unit_statistics
from hotline.timestamps import SHANGHAI

NOW = datetime(2026, 11, 23, 10, tzinfo=SHANGHAI)  # a Monday
RECEIVED = NOW - timedelta(days=30)
DUE = NOW - timedelta(days=10)  # every ticket below is past its reply deadline
RULES = Lifecycle(max_returns=5)


def handled(ticket_id: str, *steps: tuple, rules: Lifecycle = RULES) -> dict:
    """A stored ticket (the fields the figures read) after its events, applied by the lifecycle rules."""
    from hotline.lifecycle import DispatchState

    state = DispatchState(status="pending_review", domain="城乡建设", lead_unit="housing", received_at=RECEIVED,
                          reply_due=DUE)
    for n, (kind, data) in enumerate(steps):
        event = TicketEvent(event_id=f"{ticket_id}-{n}", ticket_id=ticket_id, kind=kind, actor="d",
                            at=RECEIVED + timedelta(days=1, hours=n), data=data)
        state = rules.apply(state, event)
    return {"ticket_id": ticket_id, "title": ticket_id, **{name: getattr(state, name) for name in (
        "status", "lead_unit", "returns", "returned_by", "replied_at", "reply_due", "on_time", "reply_working_days",
        "reply_seconds", "satisfaction", "reopened", "received_at", "callback_due", "callback_attempts",
        "accepted_on_time", "accept_due")}}


def to(unit):
    return ("dispatched", {"lead_unit": unit})


BACK = ("returned", {"reason": "不属于本单位职责"})
REPLY = ("replied", {"reply": "已处理"})
TICKETS = [
    handled("a", to("housing")),                                      # with housing, overdue
    handled("b", to("housing"), BACK),                                # returned by housing, waits again
    handled("c", to("urban-management"), BACK, to("housing"), REPLY),  # returned by urban-management, replied
    handled("d", to("housing"), BACK, to("housing")),                 # returned by housing, sent back to it
    handled("e"),                                                     # never dispatched; suggestion: housing
]


def test_waiting_tickets_are_the_centres_and_returns_count_against_the_unit_that_returned():
    assert TICKETS[2]["returned_by"] == ("urban-management",)
    rows, total = unit_statistics(TICKETS, NOW)
    units = {row.unit: row for row in rows}
    assert set(units) == {"housing", "urban-management", AWAITING_DISPATCH}

    housing = units["housing"]  # a, c, d: it was sent b too, and returned b and d
    assert (housing.tickets, housing.open, housing.overdue_open, housing.replied) == (3, 2, 2, 1)
    assert housing.returned == 2 and housing.returned_rate == round(2 / 4, 4)  # sent a, b, c, d
    urban = units["urban-management"]  # nothing now; it returned c
    assert (urban.tickets, urban.open, urban.returned, urban.returned_rate) == (0, 0, 1, 1.0)
    waiting = units[AWAITING_DISPATCH]  # b and e, both past the deadline, with the centre
    assert (waiting.tickets, waiting.open, waiting.overdue_open, waiting.returned, waiting.returned_rate) == (2, 2, 2, 1, 0.5)

    assert (total.tickets, total.open, total.overdue_open, total.returned, total.returned_rate) == (5, 4, 4, 3, 0.6)
    assert sum(row.tickets for row in rows) == total.tickets
    assert [row.unit for row in rows] == ["housing", AWAITING_DISPATCH, "urban-management"]  # most tickets first



def test_a_ticket_merged_while_waiting_stays_the_centres_and_one_merged_after_dispatch_the_units():
    merged = [handled("m1", ("merged", {"into": "a"})), handled("m2", to("housing"), ("merged", {"into": "a"}))]
    units = {row.unit: row for row in unit_statistics(merged, NOW)[0]}
    assert (units[AWAITING_DISPATCH].tickets, units["housing"].tickets) == (1, 1)
    assert units[AWAITING_DISPATCH].open == units["housing"].open == 0  # closed by the merge: never overdue


def test_an_overdue_ticket_waiting_for_a_dispatcher_is_listed_as_the_centres():
    late = overdue_and_due_soon(TICKETS, NOW, build_calendar(load_settings()), due_soon_hours=8)
    holders = {item.ticket_id: item.unit for item in late}
    assert holders == {"a": "housing", "b": AWAITING_DISPATCH, "d": "housing", "e": AWAITING_DISPATCH}
    assert all(item.level == "overdue" and item.late_working_days > 0 for item in late)


def test_callbacks_reached_given_up_and_due_and_the_callback_rate_over_those_finished():
    from cli.services import build_lifecycle

    calls = build_lifecycle(load_settings())  # with the deadline policy: a reply makes a callback due
    missed = [("callback_failed", {})] * calls.policy.callback.attempts
    tickets = [
        handled("r1", to("housing"), REPLY, rules=calls),                                               # due
        handled("r2", to("housing"), REPLY, missed[0], ("callback", {"satisfaction": "满意"}), rules=calls),  # reached
        handled("r3", to("housing"), REPLY, *missed, rules=calls),                                      # given up
        handled("r4", to("housing"), REPLY, ("callback", {"satisfaction": "不满意", "reason": "仍未修好"}), REPLY,
                *missed, rules=calls),                                       # reached once, given up after the new reply
        handled("r5", to("housing"), REPLY, missed[0], rules=calls),                                    # due, one call missed
        handled("r6", to("housing"), rules=calls),                                                      # not replied
    ]
    housing = unit_statistics(tickets, NOW)[0][0]
    assert (housing.unit, housing.replied, housing.callbacks) == ("housing", 5, 2)
    assert (housing.callback_given_up, housing.awaiting_callback) == (2, 2)
    assert housing.callback_rate == round(1 / 3, 4)  # r2 reached; r3 and r4 given up
    assert unit_statistics(tickets[5:], NOW)[0][0].callback_rate is None  # no callback finished


def test_the_acceptance_in_time_rate_is_over_the_tickets_accepted_or_past_the_acceptance_deadline():
    from cli.services import build_lifecycle

    rules = build_lifecycle(load_settings())
    late = RECEIVED + timedelta(days=3)  # far past any acceptance deadline of a dispatch a day after receipt
    tickets = [
        handled("k1", to("housing"), ("accepted", {}), rules=rules),             # at once: in time
        handled("k2", to("housing"), REPLY, rules=rules),                         # a reply accepts it, in time
        handled("k3", to("housing"), rules=rules),                                # not accepted, deadline passed
        handled("k4", to("housing"), ("accepted", {}), rules=RULES),              # no deadline (no policy)
    ]
    tickets.append({**handled("k5", to("housing"), rules=rules), "accepted_on_time": False, "accepted_at": late})
    tickets.append({**handled("k6", to("housing"), rules=rules), "accept_due": NOW + timedelta(hours=1)})  # not yet
    housing = unit_statistics(tickets, NOW)[0][0]
    # 签收超时: k5 accepted late, k3 not accepted with its deadline passed; in time: k1 and k2 of those four
    assert (housing.accepted_late, housing.accept_on_time_rate) == (2, 0.5)
    assert [t["ticket_id"] for t in tickets if statistics.accepted_late(t, NOW)] == ["k3", "k5"]
    assert not statistics.accepted_late(tickets[2], tickets[2]["accept_due"])  # at the deadline: not yet late


def test_a_missed_acceptance_deadline_counts_against_the_unit_after_the_ticket_left_it():
    from cli.services import build_lifecycle

    rules = build_lifecycle(load_settings())
    # the units each ticket's lifecycle kept in late_acceptances (tests/test_lifecycle.py checks when)
    moved = ("rerouted", {"lead_unit": "housing", "reason": "住建问题"})
    tickets = [
        {**handled("m1", to("transport"), moved), "late_acceptances": ("transport",)},      # transport late, re-routed
        {**handled("m2", to("housing"), BACK), "late_acceptances": ("housing",)},           # housing late, returned
        {**handled("m3", to("housing"), ("accepted", {}), rules=rules),                     # housing late before a
         "late_acceptances": ("housing",)},                                                 # reopening, in time now
        handled("m4", to("housing"), ("accepted", {}), rules=rules),                         # in time
    ]
    rows, total = unit_statistics(tickets, NOW)
    units = {row.unit: row for row in rows}
    # housing holds m1, m3 and m4; late: m2 (now the centre's) and m3, once; in time: only m4
    assert (units["housing"].tickets, units["housing"].accepted_late, units["housing"].accept_on_time_rate) == (3, 2, 0.3333)
    assert (units["transport"].tickets, units["transport"].accepted_late, units["transport"].accept_on_time_rate) == (0, 1, 0.0)
    assert units[AWAITING_DISPATCH].accepted_late == 0
    assert (total.accepted_late, total.accept_on_time_rate) == (3, 0.25)
    late = statistics.late_to_accept
    assert [t["ticket_id"] for t in tickets if late(t, "housing", NOW)] == ["m2", "m3"]
    assert [t["ticket_id"] for t in tickets if late(t, "transport", NOW)] == ["m1"]
    assert [t["ticket_id"] for t in tickets if late(t, None, NOW)] == ["m1", "m2", "m3"]
