"""The deadline watch: open tickets -> the due-soon warnings and overdue escalations not raised before.

Run by the workers on a timer with the one clock, so alerts come on time even when no event arrives; the
store keeps each alert once, so several workers, or a restarted one, never raise the same alert twice.
The store is also the outbox for the alerts topic: an alert is marked published only after Kafka has
acknowledged it, so a worker that dies in between publishes it at its next scan (consumers may see an
alert id twice then, never miss one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.alerts import WARNING_HORIZON, Alert, AlertPolicy, alerts_for
from hotline.calendar import WorkCalendar
from stores.base import Store


def scan_deadlines(store: Store, policy: AlertPolicy, calendar: WorkCalendar, now: datetime) -> list[Alert]:
    """Raise what is due at `now`; returns the alerts that are new."""
    since = now - timedelta(days=policy.max_overdue_days)
    due = [alert for ticket in store.open_tickets_with_deadlines(since, now + WARNING_HORIZON)
           for alert in alerts_for(ticket, now, policy, calendar)]
    return store.write_alerts(due)
