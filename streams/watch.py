"""The deadline watch: open tickets -> the due-soon warnings, overdue escalations and late acceptances not
raised before.

Run by the workers on a timer with the one clock, so alerts come on time even when no event arrives; the
store keeps each alert once, so several workers, or a restarted one, never raise the same alert twice.
The store is also the outbox for the alerts topic: an alert is marked published only after Kafka has
acknowledged it, so a worker that dies in between publishes it at its next scan (consumers may see an
alert id twice then, never miss one).

A scan looks again only at the tickets that may deserve something new: for each ticket it remembers the
moment of its next possible alert (for its status, unit and deadline of the time: a rerouted ticket
alerts its new unit), so tens of thousands of open
tickets cost a read of the store, not a calendar calculation each, every few seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.alerts import WARNING_HORIZON, Alert, AlertPolicy, alerts_for, next_alert_at
from hotline.calendar import WorkCalendar
from stores.base import Store


class DeadlineWatch:
    def __init__(self, store: Store, policy: AlertPolicy, calendar: WorkCalendar):
        self.store, self.policy, self.calendar = store, policy, calendar
        self._next: dict[str, tuple[tuple, datetime | None]] = {}  # ticket id -> ((status, unit, deadlines), next look)
        self.examined = 0  # tickets the last scan looked at again

    def scan(self, now: datetime) -> list[Alert]:
        """Raise what is due at `now`; returns the alerts that are new."""
        since = now - timedelta(days=self.policy.max_overdue_days)
        due, remembered, examined = [], {}, 0
        for ticket in self.store.open_tickets_with_deadlines(since, now + WARNING_HORIZON):
            state = (ticket["status"], ticket["lead_unit"], str(ticket["reply_due"]), str(ticket["accept_due"]))
            known = self._next.get(ticket["ticket_id"])
            if known is not None and known[0] == state and (known[1] is None or now < known[1]):
                remembered[ticket["ticket_id"]] = known
                continue
            examined += 1
            due += alerts_for(ticket, now, self.policy, self.calendar)
            remembered[ticket["ticket_id"]] = (state, next_alert_at(ticket, now, self.policy, self.calendar))
        new = self.store.write_alerts(due)
        self._next, self.examined = remembered, examined  # only once the alerts are kept
        return new
