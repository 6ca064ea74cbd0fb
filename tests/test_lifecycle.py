from dataclasses import asdict, replace
from datetime import datetime, timedelta

import pytest

from hotline.lifecycle import (
    STATUS_NAMES, DispatchState, InvalidEvent, Lifecycle, TransitionError, callback_given_up, dispatched_to,
    possible_events, readable_by, state_of,
)
from hotline.models import EVENT_KINDS, TicketEvent
from hotline.timestamps import SHANGHAI

WAITING = DispatchState(status="pending_review", domain="城乡建设", lead_unit="housing")
WITH_UNIT = DispatchState(status="dispatched", domain="城乡建设", lead_unit="housing",
                          received_at=datetime(2026, 9, 30, 16, tzinfo=SHANGHAI),
                          reply_due=datetime(2026, 10, 13, 17, 30, tzinfo=SHANGHAI), ticket_type="投诉")


def event(kind, at=datetime(2026, 10, 9, 10, tzinfo=SHANGHAI), **data):
    return TicketEvent(event_id="e", ticket_id="t", kind=kind, at=at, actor="d", data=data)


@pytest.fixture(scope="module")
def rules():
    from cli.services import build_lifecycle
    from cli.settings import load_settings

    return build_lifecycle(load_settings())


def test_confirming_the_suggestion_is_not_a_correction():
    state = Lifecycle(2).apply(WAITING, event("dispatched", lead_unit="housing", co_units=["a1-gov"]))
    assert (state.status, state.co_units, state.corrected) == ("dispatched", ("a1-gov",), False)


def test_changing_domain_or_unit_is_a_correction():
    assert Lifecycle(2).apply(WAITING, event("dispatched", lead_unit="urban-management")).corrected
    assert Lifecycle(2).apply(WAITING, event("dispatched", domain="环境保护", lead_unit="housing")).corrected


def test_returns_count_and_flag_past_the_limit():
    rules = Lifecycle(1)
    state = rules.apply(WAITING, event("dispatched", lead_unit="housing"))
    state = rules.apply(state, event("returned", reason="不归我们"))
    assert (state.status, state.returns, state.flagged) == ("pending_review", 1, None)
    state = rules.apply(rules.apply(state, event("dispatched", lead_unit="urban-management")), event("returned", reason="再退"))
    assert state.returns == 2 and "needs a supervisor" in state.flagged
    assert state.returned_by == ("housing", "urban-management")


def test_reply_latency_wall_clock_and_working_days_across_national_day(rules):
    # received 2026-09-30 16:00; 10-01..10-07 are holidays: the reply on 10-09 took 9 days, under 2 working days
    state = rules.apply(WITH_UNIT, event("accepted", at=datetime(2026, 9, 30, 16, 30, tzinfo=SHANGHAI)))
    state = rules.apply(state, event("replied", at=datetime(2026, 10, 9, 12, tzinfo=SHANGHAI)))
    assert state.status == "replied" and state.on_time is True
    assert state.reply_seconds == 8 * 86400 + 20 * 3600
    expected = rules.calendar.working_hours_between(WITH_UNIT.received_at, state.replied_at) / rules.calendar.hours_per_day
    assert state.reply_working_days == round(expected, 4)
    assert 1 < state.reply_working_days < 3  # nine calendar days, mostly holiday


def test_a_late_reply_is_not_on_time(rules):
    state = rules.apply(WITH_UNIT, event("replied", at=datetime(2026, 10, 14, 9, tzinfo=SHANGHAI)))
    assert state.on_time is False


def test_dissatisfied_callback_reopens_with_a_new_deadline(rules):
    replied = rules.apply(WITH_UNIT, event("replied", at=datetime(2026, 10, 12, 9, tzinfo=SHANGHAI)))
    at = datetime(2026, 10, 14, 10, tzinfo=SHANGHAI)
    with pytest.raises(InvalidEvent, match="dissatisfied callback .* needs a reason"):
        rules.apply(replied, event("callback", at=at, satisfaction="不满意"))
    reopened = rules.apply(replied, event("callback", at=at, satisfaction="不满意", reason="路灯仍不亮"))
    assert (reopened.status, reopened.reopened, reopened.satisfaction) == ("dispatched", 1, "不满意")
    assert reopened.reply_due == datetime(2026, 10, 21, 17, 30, tzinfo=SHANGHAI)
    closed = rules.apply(replied, event("callback", satisfaction="基本满意"))
    assert (closed.status, closed.satisfaction) == ("closed", "基本满意")


def test_a_reply_makes_a_callback_due_and_the_callback_clears_it(rules):
    replied_at = datetime(2026, 9, 30, 17, tzinfo=SHANGHAI)  # the national holidays follow
    replied = rules.apply(WITH_UNIT, event("replied", at=replied_at))
    days = rules.policy.callback.working_days
    assert replied.callback_due == rules.calendar.add_working_days(replied_at, days).at
    assert replied.callback_due > datetime(2026, 10, 8, tzinfo=SHANGHAI)  # working days: not during the holidays
    assert replied.callback_attempts == 0
    closed = rules.apply(replied, event("callback", satisfaction="满意"))
    assert (closed.status, closed.callback_due) == ("closed", None)
    # a ticket closed after review (办结) before the callback still waits for it
    assert rules.apply(replied, event("closed")).callback_due == replied.callback_due


def test_calls_nobody_answers_give_the_callback_up_after_the_policys_number(rules):
    state = rules.apply(WITH_UNIT, event("replied", at=datetime(2026, 10, 12, 9, tzinfo=SHANGHAI)))
    due = state.callback_due
    for attempt in range(1, rules.policy.callback.attempts):
        state = rules.apply(state, event("callback_failed", note="无人接听"))
        assert (state.callback_attempts, state.callback_due) == (attempt, due)
        assert "callback_failed" in possible_events(state)
    state = rules.apply(state, event("callback_failed"))
    assert (state.callback_attempts, state.callback_due) == (rules.policy.callback.attempts, None)  # 无法回访
    assert "callback_failed" not in possible_events(state)
    with pytest.raises(TransitionError, match="no callback due"):
        rules.apply(state, event("callback_failed"))
    # the citizen may still call back and be heard: the callback is recorded
    assert rules.apply(state, event("callback", satisfaction="基本满意")).satisfaction == "基本满意"


def test_a_dissatisfied_callback_asks_for_a_new_one_after_the_next_reply(rules):
    replied = rules.apply(WITH_UNIT, event("replied", at=datetime(2026, 10, 12, 9, tzinfo=SHANGHAI)))
    missed = rules.apply(replied, event("callback_failed"))
    reopened = rules.apply(missed, event("callback", at=datetime(2026, 10, 14, 10, tzinfo=SHANGHAI), satisfaction="不满意",
                                            reason="仍有噪音"))
    assert (reopened.status, reopened.callback_due) == ("dispatched", None)
    again = rules.apply(reopened, event("replied", at=datetime(2026, 10, 16, 9, tzinfo=SHANGHAI)))
    assert again.callback_due == rules.calendar.add_working_days(again.replied_at, rules.policy.callback.working_days).at
    assert again.callback_attempts == 0


def test_a_callback_given_up_is_told_apart_from_one_reached_after_calls_nobody_answered(rules):
    given_up = lambda state: callback_given_up(asdict(state))  # noqa: E731 (a stored ticket holds the same fields)
    replied = rules.apply(WITH_UNIT, event("replied", at=datetime(2026, 10, 12, 9, tzinfo=SHANGHAI)))
    missed = rules.apply(replied, event("callback_failed"))
    assert not given_up(replied) and not given_up(missed)  # still due
    reached = rules.apply(missed, event("callback", satisfaction="满意"))
    assert (reached.callback_attempts, given_up(reached)) == (0, False)
    state = missed
    while state.callback_due is not None:
        state = rules.apply(state, event("callback_failed"))
    assert given_up(state) and state.callback_attempts == rules.policy.callback.attempts
    assert given_up(rules.apply(state, event("closed")))  # closed after review: still never reached
    heard = rules.apply(state, event("callback", satisfaction="基本满意"))  # the citizen called back later
    assert not given_up(heard) and heard.callback_attempts == 0
    reopened = rules.apply(state, event("reopened", reason="市民再次来电"))
    assert (reopened.callback_attempts, given_up(reopened)) == (0, False)
    assert not given_up(rules.apply(WITH_UNIT, event("replied", imported=True)))


def test_the_acceptance_deadline_counts_from_each_dispatch_and_the_acceptance_is_timed_against_it(rules):
    monday = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
    hours = rules.policy.types["投诉"].accept_hours
    waiting = replace(WAITING, ticket_type="投诉")
    sent = rules.apply(waiting, event("dispatched", at=monday, lead_unit="housing"))
    assert sent.accept_due == rules.calendar.add_working_hours(monday, hours).at and sent.accepted_on_time is None
    late = rules.apply(sent, event("accepted", at=sent.accept_due + timedelta(minutes=1)))
    assert (late.accepted_at, late.accepted_on_time) == (sent.accept_due + timedelta(minutes=1), False)
    assert rules.apply(sent, event("accepted", at=sent.accept_due)).accepted_on_time is True
    # a reply straight from dispatched accepts it; one already accepted keeps its acceptance
    assert rules.apply(sent, event("replied", at=monday + timedelta(minutes=30))).accepted_on_time is True
    assert rules.apply(late, event("replied", at=monday + timedelta(days=1))).accepted_on_time is False
    # a historical reply says nothing of when the unit accepted
    assert rules.apply(sent, event("replied", at=monday + timedelta(days=9), imported=True)).accepted_on_time is None
    # returned: with nobody; re-routed or reopened: a new deadline from then
    back = rules.apply(late, event("returned", at=monday + timedelta(hours=1), reason="不属于本单位"))
    assert (back.accept_due, back.accepted_on_time, back.accepted_at) == (None, None, None)
    tuesday = monday + timedelta(days=1)
    moved = rules.apply(late, event("rerouted", at=tuesday, lead_unit="transport", reason="交通问题"))
    assert moved.accept_due == rules.calendar.add_working_hours(tuesday, hours).at and moved.accepted_on_time is None
    replied = rules.apply(late, event("replied", at=tuesday))
    again = rules.apply(replied, event("reopened", at=tuesday + timedelta(hours=2), reason="市民不认可"))
    assert again.accept_due == rules.calendar.add_working_hours(tuesday + timedelta(hours=2), hours).at
    assert (again.accepted_at, again.accepted_on_time) == (None, None)
    assert Lifecycle(2).apply(waiting, event("dispatched", lead_unit="housing")).accept_due is None  # no policy


def test_a_missed_acceptance_deadline_stays_with_the_unit_after_the_ticket_leaves_it(rules):
    monday = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
    sent = rules.apply(replace(WAITING, ticket_type="投诉"), event("dispatched", at=monday, lead_unit="housing"))
    before, after = sent.accept_due - timedelta(minutes=1), sent.accept_due + timedelta(minutes=1)
    # returned or re-routed before its deadline without accepting, or after accepting in time: nothing kept
    assert rules.apply(sent, event("returned", at=before, reason="不属于本单位")).late_acceptances == ()
    in_time = rules.apply(sent, event("accepted", at=before))
    assert rules.apply(in_time, event("rerouted", at=after, lead_unit="transport", reason="交通问题")).late_acceptances == ()
    # not accepted by the deadline, then returned or re-routed: the unit is kept, each time it happens
    back = rules.apply(sent, event("returned", at=after, reason="不属于本单位"))
    assert (back.late_acceptances, back.accept_due, back.accepted_on_time) == (("housing",), None, None)
    moved = rules.apply(sent, event("rerouted", at=after, lead_unit="transport", reason="交通问题"))
    assert moved.late_acceptances == ("housing",) and moved.accept_due > after
    late_again = rules.apply(moved, event("accepted", at=moved.accept_due + timedelta(minutes=1)))
    moved_back = rules.apply(late_again, event("rerouted", at=moved.accept_due + timedelta(hours=1), lead_unit="housing",
                                               reason="还是住建"))
    assert moved_back.late_acceptances == ("housing", "transport")
    # accepted late, replied, then reopened to the same unit: its late acceptance outlives the new deadline
    late = rules.apply(sent, event("accepted", at=after))
    replied = rules.apply(late, event("replied", at=after + timedelta(hours=1)))
    again = rules.apply(replied, event("reopened", at=after + timedelta(hours=2), reason="市民不认可"))
    assert (again.late_acceptances, again.accepted_on_time) == (("housing",), None)
    # what a store reads back
    assert state_of({**asdict(again), "late_acceptances": ["housing"]}).late_acceptances == ("housing",)


def test_a_unit_acts_on_the_tickets_with_it_and_reads_those_its_figures_count_after_they_left_it(rules):
    monday = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
    sent = rules.apply(replace(WAITING, ticket_type="投诉"),
                       event("dispatched", at=monday, lead_unit="housing", co_units=["a1-gov"]))
    before, after = sent.accept_due - timedelta(minutes=1), sent.accept_due + timedelta(minutes=1)
    in_time = rules.apply(sent, event("accepted", at=before))
    cases = {  # the ticket: {unit: (acts on it, reads it)}
        "waiting, suggested for housing": (WAITING, {"housing": (False, False)}),
        "dispatched": (sent, {"housing": (True, True), "a1-gov": (True, True), "transport": (False, False)}),
        "returned": (rules.apply(sent, event("returned", at=before, reason="不属于本单位")),
                     {"housing": (False, True), "a1-gov": (False, False)}),
        "re-routed after a late acceptance": (
            rules.apply(sent, event("rerouted", at=after, lead_unit="transport", reason="交通问题")),
            {"housing": (False, True), "transport": (True, True), "a1-gov": (False, False)}),
        "re-routed after an acceptance in time": (
            rules.apply(in_time, event("rerouted", at=after, lead_unit="transport", reason="交通问题")),
            {"housing": (False, False), "transport": (True, True)}),
    }
    for case, (state, units) in cases.items():
        ticket = asdict(state)
        for unit, expected in units.items():
            assert (dispatched_to(ticket, unit), readable_by(ticket, unit)) == expected, (case, unit)


def test_no_callback_is_due_after_a_historical_reply_or_without_a_policy(rules):
    assert rules.apply(WITH_UNIT, event("replied", imported=True)).callback_due is None
    assert Lifecycle(2).apply(WITH_UNIT, event("replied")).callback_due is None


@pytest.mark.parametrize("state, ev, error, message", [
    (WAITING, event("returned", reason="x"), TransitionError, "pending_review"),
    (WITH_UNIT, event("dispatched", lead_unit="b"), TransitionError, "not waiting for a dispatcher"),
    (WAITING, event("dispatched"), InvalidEvent, "lead unit"),
    (WITH_UNIT, event("returned", reason=" "), InvalidEvent, "needs a reason"),
    (WAITING, event("replied"), TransitionError, "pending_review"),
    (WITH_UNIT, event("closed"), TransitionError, "not replied"),
    (WITH_UNIT, event("callback", satisfaction="满意"), TransitionError, "not replied or closed"),
    (WITH_UNIT, event("extension_requested", days=2, reason="x"), TransitionError, "being handled"),
    (WITH_UNIT, event("extension_approved"), TransitionError, "no extension request"),
    (WITH_UNIT, event("rerouted", lead_unit="housing", reason="x"), TransitionError, "already with housing"),
    (WITH_UNIT, event("replied", at=datetime(2026, 9, 1, tzinfo=SHANGHAI)), InvalidEvent, "earlier than"),
])
def test_impossible_events_are_refused_with_the_reason(state, ev, error, message):
    with pytest.raises(error, match=message):
        Lifecycle(2).apply(state, ev)


def test_a_historical_reply_may_answer_a_ticket_waiting_for_review():
    state = Lifecycle(2).apply(WAITING, event("replied", imported=True))
    assert state.status == "replied"


def test_bad_callback_and_extension_data():
    rules = Lifecycle(2)
    replied = rules.apply(WITH_UNIT, event("replied"))
    with pytest.raises(InvalidEvent, match="满意/基本满意/不满意"):
        rules.apply(replied, event("callback", satisfaction="还行"))
    accepted = rules.apply(WITH_UNIT, event("accepted"))
    for days in (0, "3", 2.5, True):
        with pytest.raises(InvalidEvent, match="whole number of working days"):
            rules.apply(accepted, event("extension_requested", days=days, reason="x"))
    pending = rules.apply(accepted, event("extension_requested", days=3, reason="需协调"))
    with pytest.raises(TransitionError, match="already has an extension request"):
        rules.apply(pending, event("extension_requested", days=1, reason="再延"))


def test_a_duplicate_is_merged_into_another_ticket():
    merged = Lifecycle(2).apply(WITH_UNIT, event("merged", into="web-1"))
    assert (merged.status, merged.merged_into) == ("merged", "web-1")
    with pytest.raises(InvalidEvent, match="needs `into`"):
        Lifecycle(2).apply(WITH_UNIT, event("merged"))
    with pytest.raises(InvalidEvent, match="into itself"):
        Lifecycle(2).apply(WITH_UNIT, event("merged", into="t"))
    with pytest.raises(TransitionError, match="not open"):
        Lifecycle(2).apply(merged, event("merged", into="web-2"))



def test_a_supervisor_urges_the_unit_on_without_changing_what_it_does():
    once = Lifecycle(2).apply(WITH_UNIT, event("urged", reason="市民多次来电，请今日联系"))
    twice = Lifecycle(2).apply(once, event("urged", reason="再次催办"))
    assert (once.urged, twice.urged) == (1, 2) and replace(twice, urged=0) == WITH_UNIT  # nothing else changes
    with pytest.raises(InvalidEvent, match="needs a reason"):
        Lifecycle(2).apply(WITH_UNIT, event("urged", reason="  "))
    for status in ("pending_review", "replied", "closed", "merged"):  # with no unit, or answered: nobody to urge
        with pytest.raises(TransitionError, match="with a unit"):
            Lifecycle(2).apply(replace(WITH_UNIT, status=status), event("urged", reason="x"))


def test_a_ticket_merged_while_waiting_for_a_dispatcher_was_never_any_units():
    merged = Lifecycle(2).apply(replace(WAITING, co_units=("a1-gov",)), event("merged", into="web-1"))
    assert (merged.status, merged.lead_unit, merged.co_units) == ("merged", "", ())  # the suggestion is not a unit
    assert Lifecycle(2).apply(WITH_UNIT, event("merged", into="web-1")).lead_unit == "housing"  # it had it


# Complete data for each event kind, so that only the ticket's state can refuse it.
COMPLETE = {"dispatched": {"lead_unit": "urban-management"}, "rerouted": {"lead_unit": "urban-management", "reason": "x"},
            "returned": {"reason": "x"}, "paused": {"reason": "x"}, "extension_requested": {"days": 2, "reason": "x"},
            "callback": {"satisfaction": "满意"}, "reopened": {"reason": "x"}, "merged": {"into": "other"},
            "urged": {"reason": "x"}}


@pytest.mark.parametrize("status", list(STATUS_NAMES))
@pytest.mark.parametrize("pending", [None, 3])
@pytest.mark.parametrize("callback_due", [None, datetime(2026, 10, 15, 17, 30, tzinfo=SHANGHAI)])
def test_the_events_offered_are_exactly_those_the_rules_accept(rules, status, pending, callback_due):
    state = replace(WITH_UNIT, status=status, extension_pending=pending, callback_due=callback_due)
    accepted = []
    for kind in EVENT_KINDS:
        try:
            rules.apply(state, event(kind, **COMPLETE.get(kind, {})))
            accepted.append(kind)
        except TransitionError:
            pass
    assert possible_events(state) == accepted
    assert accepted or status == "merged"  # only a merged ticket has nothing left to happen
