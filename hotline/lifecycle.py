"""What each ticket event does to a ticket's dispatch state, and which events are impossible.

The state is the part of a ticket that events change; the store keeps it and applies next_state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hotline.models import TicketEvent


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
    last_return_reason: str | None = None
    flagged: str | None = None
    corrected: bool = False
    history: tuple[str, ...] = field(default=(), compare=False)


def state_of(ticket: dict) -> DispatchState:
    """The dispatch state of a stored ticket (a dict with the store's ticket fields)."""
    return DispatchState(
        status=ticket["status"], domain=ticket["domain"], lead_unit=ticket["lead_unit"],
        co_units=tuple(ticket["co_units"]), returns=ticket["returns"],
        last_return_reason=ticket["last_return_reason"], flagged=ticket["flagged"], corrected=ticket["corrected"],
    )


def next_state(state: DispatchState, event: TicketEvent, max_returns: int) -> DispatchState:
    """Apply one event. dispatched: a dispatcher sends the ticket to a unit (confirming or correcting the
    suggestion). returned (退单): the unit gives it back with a reason; it waits for a dispatcher again, and
    more than max_returns returns flag it to a supervisor."""
    if event.kind == "dispatched":
        if state.status != "pending_review":
            raise TransitionError(f"ticket {event.ticket_id} is {state.status}, not waiting for a dispatcher")
        lead = event.data.get("lead_unit")
        domain = event.data.get("domain") or state.domain
        if not lead:
            raise InvalidEvent("a dispatch needs a lead unit")
        return replace(
            state, status="dispatched", domain=domain, lead_unit=lead,
            co_units=tuple(event.data.get("co_units") or ()),
            corrected=state.corrected or domain != state.domain or lead != state.lead_unit,
        )
    if event.kind == "returned":
        if state.status != "dispatched":
            raise TransitionError(f"ticket {event.ticket_id} is {state.status}; only a dispatched ticket can be returned")
        reason = str(event.data.get("reason") or "").strip()
        if not reason:
            raise InvalidEvent("a return (退单) needs a reason")
        returns = state.returns + 1
        flagged = state.flagged
        if returns > max_returns:
            flagged = f"returned {returns} times (more than {max_returns}): needs a supervisor"
        return replace(state, status="pending_review", returns=returns, last_return_reason=reason, flagged=flagged)
    raise InvalidEvent(f"unknown event kind {event.kind!r}")
