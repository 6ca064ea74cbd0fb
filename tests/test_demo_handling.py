"""The units' side of the demo (samples/handling.py) against the real lifecycle rules and calendar."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from hotline.lifecycle import DispatchState
from hotline.timestamps import SHANGHAI
from samples.handling import ACCEPT_URGING, handling

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def rules():
    from cli.services import build_lifecycle
    from cli.settings import load_settings

    return build_lifecycle(load_settings())


def at_work(calendar, moment: datetime) -> bool:
    """In office hours on a working day."""
    local = moment.astimezone(SHANGHAI)
    return calendar.is_workday(local.date()) and any(start <= local.time() <= end for start, end in calendar.office_hours)


def stored(i: int, received: datetime, status: str = "dispatched") -> dict:
    """A ticket as the store gives it: times in ISO 8601."""
    return {"ticket_id": f"web-demo-{i}", "status": status, "lead_unit": "housing", "domain": "城乡建设",
            "received_at": received.isoformat(), "reply_due": (received + timedelta(days=5)).isoformat(),
            "accept_due": (received + timedelta(hours=2)).isoformat()}


def test_every_handling_is_a_valid_course_of_events_in_the_past(rules):
    kinds, late, replied, recent_kinds, called_back, given_up = Counter(), 0, 0, Counter(), 0, 0
    urged_once = urged_twice = accepted_late = urged_to_accept = 0
    for i in range(800):
        # 400 received from now back to eight days ago, 400 long enough ago for their whole handling
        received = NOW - (timedelta(hours=i % 200) if i < 400 else timedelta(days=20, hours=i))
        ticket = stored(i, received)
        events = handling(ticket, NOW, rules.calendar)
        assert handling(ticket, NOW, rules.calendar) == events  # the same ticket, the same handling
        assert all(at_work(rules.calendar, e.at) for e in events), [e.at for e in events]
        reply_due, accept_due = (datetime.fromisoformat(ticket[name]) for name in ("reply_due", "accept_due"))
        state = DispatchState(status="dispatched", domain="城乡建设", lead_unit="housing", received_at=received,
                              reply_due=reply_due, accept_due=accept_due)
        times = [e.at for e in events]
        assert times == sorted(times) and all(received <= t <= NOW for t in times), (i, times)
        for event in events:
            state = rules.apply(state, event)  # raises on any impossible step
        assert len({e.event_id for e in events}) == len(events)
        if i < 400:
            recent_kinds.update(e.kind for e in events)
            continue
        kinds.update(e.kind for e in events)
        replied += 1 if state.replied_at is not None else 0
        late += 1 if state.on_time is False else 0
        # a supervisor urges (催办) only a unit whose acceptance is overdue, before it accepts, or whose reply is
        # overdue, before that reply; each urging names the unit
        urged = [e for e in events if e.kind == "urged"]
        assert all(e.data["unit"] == "housing" for e in urged) and state.urged == len(urged)
        accepted_at = next((e.at for e in events if e.kind == "accepted"), None)  # None: returned
        to_accept = [e.at for e in urged if e.data["reason"] == ACCEPT_URGING]
        was_late = state.accepted_on_time is False or "housing" in state.late_acceptances  # or since reopened
        assert all(accept_due < at < accepted_at for at in to_accept) and (was_late or not to_accept)
        accepted_late += was_late
        urged_to_accept += len(to_accept)
        urged = [e.at for e in urged if e.data["reason"] != ACCEPT_URGING]
        assert all(reply_due < at < state.replied_at for at in urged), (i, urged)
        assert state.on_time is False or not urged
        urged_once += len(urged) >= 1
        urged_twice += len(urged) == 2
        called_back += state.satisfaction is not None
        given_up += state.callback_attempts == rules.policy.callback.attempts
        assert state.replied_at is None or state.callback_due is None  # long ago: every callback is done or given up
    assert 0.02 < kinds["returned"] / 400 < 0.1
    assert replied == kinds["accepted"] == 400 - kinds["returned"]  # long ago: every accepted one was replied to
    assert 0.1 < late / replied < 0.35  # some late, most on time
    assert 0.85 < called_back / replied < 0.99 and 0.01 < given_up / replied < 0.12
    assert 0.05 < kinds["callback_failed"] / replied < 0.4
    assert 0.5 < urged_once / late < 1 and 0 < urged_twice < urged_once / 2  # a reply a little late is not urged
    assert 0 < urged_to_accept < accepted_late  # an acceptance a little late is not urged either
    # the recent ones are still being handled: fewer replies than acceptances, fewer callbacks than replies
    assert recent_kinds["callback"] < recent_kinds["replied"] < recent_kinds["accepted"]


def test_nothing_has_happened_yet_to_a_ticket_just_received_or_not_with_a_unit(rules):
    assert handling(stored(1, NOW - timedelta(minutes=5)), NOW, rules.calendar) == []
    assert handling(stored(2, NOW - timedelta(days=6), status="pending_review"), NOW, rules.calendar) == []
    assert handling(stored(3, NOW - timedelta(days=6), status="replied"), NOW, rules.calendar) == []


def test_a_ticket_handled_long_ago_was_replied_to(rules):
    ticket = stored(4, NOW - timedelta(days=30))
    # a late reply is urged on (催办) before it: left out here
    kinds = [e.kind for e in handling(ticket, NOW, rules.calendar) if e.kind != "urged"]
    assert kinds in (["returned"], ["accepted", "replied", "callback"], ["accepted", "replied", "callback_failed", "callback"],
                     ["accepted", "replied", "callback_failed", "callback_failed", "callback_failed"])


def test_the_demo_gives_a_callback_up_after_the_shipped_policys_calls(rules):
    from samples.handling import GIVE_UP_CALLS

    assert GIVE_UP_CALLS == rules.policy.callback.attempts
