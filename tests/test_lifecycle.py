from datetime import datetime

import pytest

from hotline.lifecycle import DispatchState, InvalidEvent, TransitionError, next_state
from hotline.models import TicketEvent
from hotline.timestamps import SHANGHAI

WAITING = DispatchState(status="pending_review", domain="城乡建设", lead_unit="housing")


def event(kind, **data):
    return TicketEvent(event_id="e", ticket_id="t", kind=kind, at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
                       actor="d", data=data)


def test_confirming_the_suggestion_is_not_a_correction():
    state = next_state(WAITING, event("dispatched", lead_unit="housing", co_units=["a1-gov"]), 2)
    assert (state.status, state.co_units, state.corrected) == ("dispatched", ("a1-gov",), False)


def test_changing_domain_or_unit_is_a_correction():
    assert next_state(WAITING, event("dispatched", lead_unit="urban-management"), 2).corrected
    assert next_state(WAITING, event("dispatched", domain="环境保护", lead_unit="housing"), 2).corrected


def test_returns_count_and_flag_past_the_limit():
    state = next_state(WAITING, event("dispatched", lead_unit="housing"), 1)
    state = next_state(state, event("returned", reason="不归我们"), 1)
    assert (state.status, state.returns, state.flagged) == ("pending_review", 1, None)
    state = next_state(next_state(state, event("dispatched", lead_unit="housing"), 1), event("returned", reason="再退"), 1)
    assert state.returns == 2 and "needs a supervisor" in state.flagged


@pytest.mark.parametrize("state, ev, error", [
    (WAITING, event("returned", reason="x"), TransitionError),
    (DispatchState(status="dispatched", domain="a", lead_unit="b"), event("dispatched", lead_unit="b"), TransitionError),
    (WAITING, event("dispatched"), InvalidEvent),
    (DispatchState(status="dispatched", domain="a", lead_unit="b"), event("returned", reason=" "), InvalidEvent),
])
def test_impossible_events_are_refused(state, ev, error):
    with pytest.raises(error):
        next_state(state, ev, 2)
