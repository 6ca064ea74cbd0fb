"""Surge detection (舆情突增): arrivals per domain, district, domain+district and topic against their own
baseline, with the evidence.

Counts are in event time (each message's received time); "now" is the latest event time seen, so a replay
at any speed gives the same alerts. For a key, the baseline rate for the coming hour is learnt from its
hourly counts before the current window: by hour of week once two weeks are known, else by hour of day,
smoothed toward the key's flat hourly rate; an hour of the day not yet in the history (it began later in
the day) expects as many as the key's busiest hour so far, so a daily rhythm is no surge. An alert is
raised when the window (`window_minutes`) holds at least `min_count` arrivals (`topic_min_count` for a
topic) and the Poisson probability of that many or more under the baseline is below `p_value`; nothing is
raised before `warmup_hours` of history, and a key alerted is quiet for `cooldown_minutes`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scipy.stats import poisson


@dataclass(frozen=True)
class SurgeSettings:
    window_minutes: float = 60.0
    min_count: int = 10
    topic_min_count: int = 12
    p_value: float = 1e-5
    warmup_hours: float = 24.0
    cooldown_minutes: float = 180.0
    history_days: float = 28.0
    topic_prior_per_hour: float = 0.2   # a new topic's baseline before it has history of its own

    @classmethod
    def from_config(cls, data: dict) -> "SurgeSettings":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown surge setting(s): {', '.join(sorted(unknown))}")
        values = {k: type(getattr(cls(), k))(v) for k, v in data.items()}
        settings = cls(**values)
        if not 0 < settings.p_value < 1 or settings.window_minutes <= 0 or settings.min_count < 1:
            raise ValueError("p_value must be in (0, 1), window_minutes positive, min_count at least 1")
        return settings


TOPIC_KEY = "topic="  # keys of topics; other keys name a domain and/or a district
# An alert lists the tickets it counted, the newest this many: so its count can be checked ticket by ticket,
# while it stays a small Kafka message (about 250 KB at most) within Elasticsearch's terms lookup (65,536).
ALERT_TICKETS = 10_000


@dataclass(frozen=True)
class Surge:
    alert_id: str
    key: str             # e.g. "domain=城乡建设", "district=A3区", "domain=城乡建设|district=A3区", "topic=topic-…"
    observed: int
    expected: float
    p_value: float
    window_start: datetime
    window_end: datetime
    examples: tuple[str, ...]  # the tickets counted, newest first (all, up to ALERT_TICKETS)
    label: str = ""            # for people: a topic's key terms, or the domain and district (key_label)

    @property
    def kind(self) -> str:
        return "topic_surge" if self.key.startswith(TOPIC_KEY) else "surge"


KEY_NAMES = {"domain": "领域", "district": "区县"}


def key_label(key: str) -> str:
    """A domain/district key as people read it: "domain=城乡建设|district=A3区" → "领域 城乡建设 · 区县 A3区"."""
    parts = [part.partition("=") for part in key.split("|")]
    return " · ".join(f"{KEY_NAMES.get(name, name)} {value}" for name, _, value in parts)


PRIOR_WEIGHT = 0.25  # the flat hourly rate counts as a quarter of one observed period


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class SurgeDetector:
    settings: SurgeSettings = field(default_factory=SurgeSettings)
    hourly: dict[str, Counter] = field(default_factory=dict)        # key -> hour start -> count
    recent: dict[str, deque] = field(default_factory=dict)          # key -> (time, ticket id) in the window
    first_seen: datetime | None = None
    now: datetime | None = None
    quiet_until: dict[str, datetime] = field(default_factory=dict)

    def restore(self, key: str, hour: datetime, count: int) -> None:
        """Put back an hourly count kept in the store (after a restart)."""
        self.hourly.setdefault(key, Counter())[hour] += count
        self.first_seen = hour if self.first_seen is None else min(self.first_seen, hour)

    def observe(self, keys: list[str], ticket_id: str, at: datetime) -> list[tuple[str, datetime]]:
        """Count one arrival under each key; returns the (key, hour) counts to keep."""
        self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
        self.now = at if self.now is None else max(self.now, at)
        recent = at > self.now - timedelta(minutes=self.settings.window_minutes)  # a late arrival only counts in history
        for key in keys:
            self.hourly.setdefault(key, Counter())[_hour(at)] += 1
            if recent:
                self.recent.setdefault(key, deque()).append((at, ticket_id))
        return [(key, _hour(at)) for key in keys]

    def expected(self, key: str, start: datetime, end: datetime) -> float:
        """Baseline arrivals under `key` between start and end, from its hours before `start`."""
        history_start = max(self.first_seen, start - timedelta(days=self.settings.history_days))
        hours_known = max((start - history_start).total_seconds() / 3600, 1.0)
        counts = {h: c for h, c in self.hourly.get(key, Counter()).items() if history_start <= h < _hour(start)}
        flat = sum(counts.values()) / hours_known
        if key.startswith(TOPIC_KEY):
            flat = max(flat, self.settings.topic_prior_per_hour)
        peak = max(counts.values(), default=0)
        by_week = hours_known >= 14 * 24
        history_end = _hour(start)
        expected, moment = 0.0, start
        while moment < end:
            slot_end = min(_hour(moment) + timedelta(hours=1), end)
            fraction = (slot_end - moment).total_seconds() / 3600
            if by_week:
                same = [c for h, c in counts.items() if h.weekday() == moment.weekday() and h.hour == moment.hour]
                periods = _occurrences(history_start, history_end, moment, timedelta(days=7))
            else:
                same = [c for h, c in counts.items() if h.hour == moment.hour]
                periods = _occurrences(history_start, history_end, moment, timedelta(days=1))
            if periods:
                rate = (sum(same) + PRIOR_WEIGHT * flat) / (periods + PRIOR_WEIGHT)
            else:  # this hour not seen yet (history began later in the day): the busiest hour so far
                rate = max(flat, peak)
            expected += rate * fraction
            moment = slot_end
        return expected

    def check(self, keys: list[str]) -> list[Surge]:
        """Test these keys at the current event time; returns the surges found."""
        if self.now is None or self.first_seen is None:
            return []
        window = timedelta(minutes=self.settings.window_minutes)
        start = self.now - window
        warm = (self.now - self.first_seen) >= timedelta(hours=self.settings.warmup_hours)
        found = []
        for key in keys:
            arrivals = self.recent.get(key)
            if not arrivals:
                continue
            if any(moment <= start for moment, _ in arrivals):  # arrivals come roughly, not strictly, in order
                arrivals = self.recent[key] = deque(sorted(a for a in arrivals if a[0] > start))
            observed = len(arrivals)
            minimum = self.settings.topic_min_count if key.startswith(TOPIC_KEY) else self.settings.min_count
            if not warm or observed < minimum or self.quiet_until.get(key, start) > self.now:
                continue
            expected = self.expected(key, start, self.now)
            probability = float(poisson.sf(observed - 1, max(expected, 1e-9)))
            if probability < self.settings.p_value:
                self.quiet_until[key] = self.now + timedelta(minutes=self.settings.cooldown_minutes)
                digest = hashlib.sha256(f"{key}\0{_hour(self.now).isoformat()}".encode()).hexdigest()[:24]
                examples = tuple(ticket for _, ticket in reversed(arrivals))[:ALERT_TICKETS]
                found.append(Surge(digest, key, observed, round(expected, 3), probability, start, self.now, examples))
        return found

    def merge(self, key: str, into: str) -> None:
        """Count what was counted under `key` under `into` from now on (two topics found to be one); `into`
        stays quiet as long as either was, so one issue is not alerted twice."""
        counts = self.hourly.pop(key, None)
        if counts:
            self.hourly.setdefault(into, Counter()).update(counts)
        recent = self.recent.pop(key, None)
        if recent:
            self.recent[into] = deque(sorted([*self.recent.get(into, ()), *recent]))
        quiet = self.quiet_until.pop(key, None)
        if quiet is not None:
            self.quiet_until[into] = max(quiet, self.quiet_until.get(into, quiet))

    def forget(self) -> None:
        """Drop hourly counts older than the history the baseline uses, and keys with nothing left."""
        if self.now is None:
            return
        horizon = self.now - timedelta(days=self.settings.history_days)
        for key in list(self.hourly):
            counts = self.hourly[key]
            for hour in [h for h in counts if h < horizon]:
                del counts[hour]
            if not counts:
                del self.hourly[key]
                self.recent.pop(key, None)
                self.quiet_until.pop(key, None)


def _occurrences(start: datetime, end: datetime, like: datetime, period: timedelta) -> int:
    """How many hours in [start, end) fall at the same place in the period (day or week) as `like`."""
    first = _hour(like)
    while first >= start:
        first -= period
    while first < start:
        first += period
    return max(0, int((end - first) / period) + (1 if (end - first) % period else 0)) if first < end else 0


def keys_of(domain: str | None, district: str | None, topic_id: str | None) -> list[str]:
    keys = []
    if domain:
        keys.append(f"domain={domain}")
    if district:
        keys.append(f"district={district}")
    if domain and district:
        keys.append(f"domain={domain}|district={district}")
    if topic_id:
        keys.append(topic_key(topic_id))
    return keys


def topic_key(topic_id: str) -> str:
    return f"{TOPIC_KEY}{topic_id}"
