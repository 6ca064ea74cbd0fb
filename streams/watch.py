"""The deadline watch: open tickets -> the due-soon warnings, overdue escalations and late acceptances not
raised before.

Run by the workers on a timer with the one clock, so alerts come on time even when no event arrives; the
store keeps each alert once, so several workers, or a restarted one, never raise the same alert twice.
The store is also the outbox for the alerts topic: an alert is marked published only after Kafka has
acknowledged it, so a worker that dies in between publishes it at its next scan (consumers may see an
alert id twice then, never miss one).

A scan looks only at the tickets that may deserve something new: for each ticket it looks at, the store keeps
the moment of its next possible alert (for its status, unit and deadlines of the time: a rerouted ticket
alerts its new unit), and any change to the ticket makes it due for a look again. So tens of thousands of open
tickets cost a scan nothing until one of them changes or reaches its moment. A watch's first scan looks at
every open ticket once: the moments kept were reckoned by the policy and calendar of their time, and a worker
starts (or takes the watch over) with those of config/ now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.alerts import WARNING_HORIZON, Alert, AlertPolicy, alerts_for, next_alert_at
from hotline.calendar import WorkCalendar
from stores.base import Store


class DeadlineWatch:
    def __init__(self, store: Store, policy: AlertPolicy, calendar: WorkCalendar):
        self.store, self.policy, self.calendar = store, policy, calendar
        self.examined = 0  # tickets the last scan looked at
        self._scanned = False  # the first scan looks at every open ticket (see the module's docstring)

    def scan(self, now: datetime) -> list[Alert]:
        """Raise what is due at `now`; returns the alerts that are new."""
        since = now - timedelta(days=self.policy.max_overdue_days)
        tickets = self.store.tickets_to_watch(since, now + WARNING_HORIZON, now if self._scanned else None)
        new = self.store.write_alerts([a for t in tickets for a in alerts_for(t, now, self.policy, self.calendar)])
        # only once the alerts are kept: a scan that fails before looks at the same tickets again
        self.store.set_watch_at([(t, next_alert_at(t, now, self.policy, self.calendar)) for t in tickets])
        self.examined, self._scanned = len(tickets), True
        return new
