"""Opinion monitoring for each arriving ticket: its topic (hotline.topics) and the surges it may complete
(hotline.surges). The opinion monitor process feeds tickets in; the store keeps what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hotline.surges import TOPIC_KEY, Surge, SurgeDetector, key_label, keys_of, topic_key
from hotline.topics import Assignment, Merge, TopicTracker


@dataclass(frozen=True)
class Arrival:
    ticket_id: str
    segmented: str
    text: str
    received_at: datetime
    domain: str | None
    district: str | None


@dataclass(frozen=True)
class Observation:
    """What a batch of arrivals changed: each arrival's topic, the (key, hour) counts to keep, the topics
    merged (in the order done; earlier assignments may name a topic merged since) and the surges found."""
    assignments: list[Assignment]
    counts: list[tuple[str, datetime]]
    merges: list[Merge]
    surges: list[Surge]


@dataclass
class OpinionMonitor:
    topics: TopicTracker = field(default_factory=TopicTracker)
    surges: SurgeDetector = field(default_factory=SurgeDetector)
    _forgot_at: datetime | None = None

    def observe(self, arrivals: list[Arrival]) -> Observation:
        """Assign topics, count arrivals, then test every key the batch touched."""
        assignments, counted, merges, touched = [], [], [], []
        for arrival in arrivals:
            assignment = self.topics.add(arrival.ticket_id, arrival.segmented, arrival.text, arrival.received_at)
            for merge in self.topics.take_merges():
                self.surges.merge(topic_key(merge.topic_id), topic_key(merge.into))
                touched = [topic_key(merge.into) if k == topic_key(merge.topic_id) else k for k in touched]
                merges.append(merge)
            keys = keys_of(arrival.domain, arrival.district, assignment.topic_id)
            counted += self.surges.observe(keys, arrival.ticket_id, arrival.received_at)
            assignments.append(assignment)
            touched += keys
        surges = [self._labelled(s) for s in self.surges.check(list(dict.fromkeys(touched)))]  # each key once
        self._forget()
        return Observation(assignments, counted, merges, surges)

    def _labelled(self, surge: Surge) -> Surge:
        if not surge.key.startswith(TOPIC_KEY):
            return replace(surge, label=key_label(surge.key))
        topic = self.topics.topics.get(surge.key.removeprefix(TOPIC_KEY))
        return replace(surge, label="、".join(topic.label_terms(4))) if topic else surge

    def _forget(self) -> None:
        """Once an hour of event time, drop topics and counts no window needs any more (memory stays bounded)."""
        now = self.surges.now
        if now is None or (self._forgot_at is not None and now - self._forgot_at < timedelta(hours=1)):
            return
        self._forgot_at = now
        self.topics.forget(now)
        self.surges.forget()
