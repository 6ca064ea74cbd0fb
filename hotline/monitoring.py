"""Opinion monitoring for each arriving ticket: its topic (hotline.topics) and the surges it may complete
(hotline.surges). The stream agent feeds tickets in; the store keeps what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from hotline.surges import Surge, SurgeDetector, keys_of
from hotline.topics import Assignment, TopicTracker


@dataclass(frozen=True)
class Arrival:
    ticket_id: str
    segmented: str
    text: str
    received_at: datetime
    domain: str | None
    district: str | None


@dataclass
class OpinionMonitor:
    topics: TopicTracker = field(default_factory=TopicTracker)
    surges: SurgeDetector = field(default_factory=SurgeDetector)

    def observe(self, arrivals: list[Arrival]) -> tuple[list[Assignment], list[tuple[str, datetime]], list[Surge]]:
        """Assign topics, count arrivals, then test every key the batch touched. Returns the assignments,
        the (key, hour) counts to keep, and the surges found."""
        assignments, counted, touched = [], [], []
        for arrival in arrivals:
            assignment = self.topics.add(arrival.ticket_id, arrival.segmented, arrival.text, arrival.received_at)
            keys = keys_of(arrival.domain, arrival.district, assignment.topic_id)
            counted += self.surges.observe(keys, arrival.ticket_id, arrival.received_at)
            assignments.append(assignment)
            touched += [k for k in keys if k not in touched]
        surges = [replace(s, label="、".join(self.topics.topics[s.key[6:]].label_terms(4)))
                  if s.key.startswith("topic=") and s.key[6:] in self.topics.topics else s
                  for s in self.surges.check(touched)]
        return assignments, counted, surges
