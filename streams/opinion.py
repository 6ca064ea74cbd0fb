"""The opinion monitor inside a worker: restored from the store at start, fed the dispatched tickets in
batches, its topics, counts and surge alerts kept in the store (which is also the alerts topic's outbox).

`tickets.dispatched` has one partition, so one monitor process follows every ticket: one set of topics.
Kafka delivers again what was not committed when a process stops; tickets the store already counted are left
out, so a ticket counts once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from hotline.clock import Clock
from hotline.models import DispatchedTicket
from hotline.monitoring import Arrival, OpinionMonitor
from hotline.surges import Surge, SurgeDetector, SurgeSettings
from hotline.topics import TopicSettings, TopicTracker, terms
from stores.base import Store
from streams import topics

log = logging.getLogger(__name__)


def load_monitor(store: Store, topic_settings: TopicSettings, surge_settings: SurgeSettings) -> OpinionMonitor:
    """A monitor with the topics, document frequencies and hourly counts the store holds."""
    monitor = OpinionMonitor(TopicTracker(topic_settings), SurgeDetector(surge_settings))
    latest = store.latest_received()
    if latest is None:
        return monitor
    since = latest - timedelta(days=topic_settings.window_days)
    for segmented in store.recent_segmented(since):
        monitor.topics.documents += 1
        monitor.topics.document_frequency.update(set(terms(segmented)))
    for topic in store.recent_topics(since):
        monitor.topics.restore(topic)
    for key, hour, count in store.arrival_counts(latest - timedelta(days=surge_settings.history_days)):
        monitor.surges.restore(key, hour, count)
    return monitor


def observe_batch(store: Store, monitor: OpinionMonitor, payloads: list[bytes], clock: Clock) -> list[Surge]:
    """Topics and surges for a batch of dispatched tickets (JSON); returns the surge alerts that are new."""
    arrivals, seen = [], set()
    for payload in payloads:
        try:
            ticket = DispatchedTicket.model_validate_json(payload)
        except ValueError as exc:  # only the pipeline writes this topic: say so loudly, the ticket itself is stored
            log.error("not a dispatched ticket on %s, left out of topics: %s", topics.DISPATCHED, str(exc).splitlines()[0])
            continue
        if ticket.ticket_id in seen:
            continue
        seen.add(ticket.ticket_id)
        arrivals.append(Arrival(ticket.ticket_id, ticket.segmented, f"{ticket.title}\n{ticket.text}",
                                ticket.received_at, ticket.domain, ticket.district))
    counted = store.topic_member_ids([a.ticket_id for a in arrivals])
    arrivals = [a for a in arrivals if a.ticket_id not in counted]
    if not arrivals:
        return []
    observed = monitor.observe(arrivals)
    touched = {monitor.topics.current(t) for t in [a.topic_id for a in observed.assignments]
               + [m.into for m in observed.merges]}
    kept = monitor.topics.topics  # a late arrival's topic may already be forgotten (quiet for the whole window)
    store.write_topics(observed.assignments, [kept[t] for t in sorted(touched) if t in kept],
                       observed.counts, observed.merges)
    return store.write_opinion_alerts(observed.surges, clock())
