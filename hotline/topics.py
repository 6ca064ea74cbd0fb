"""Hot topics (舆情热点): messages about the same issue grouped as they stream in, and a heat score.

Two steps per message, over its jieba tokens:
1. near-duplicates: a 64-bit SimHash of the message's tokens weighted by their counts (1 + ln count: not by
   the stream's document frequencies, which change as messages arrive, so that the same text always has the
   same fingerprint); a recent message within `duplicate_distance` bits is a near-copy (the same text posted
   again, lightly edited) and the new one joins its topic, marked as its duplicate (a dispatcher may merge
   them into one ticket, 并单);
2. topics: otherwise, single-pass clustering: the message's TF-IDF vector (document frequencies learnt
   from the stream itself) is compared with the centroids of topics active within `window_days` that share
   one of its telling terms; it joins the most similar one at cosine >= `similarity`, else starts a topic;
3. merges: single-pass clustering depends on the order messages arrive in, and the first few messages of
   one issue, worded differently, can start two topics that then grow side by side. So the topic a message
   went to is compared with the active topics sharing its telling terms; at centroid cosine >=
   `merge_similarity` the smaller is folded into the larger (its members move, `merges` says which).

A topic's label is its heaviest centroid terms and the title of its most central message.

Heat (`heat`) over a window (the last hour, day or week), documented in the README:
    heat = 10·ln(1 + n) + 5·ln(1 + likes) + 3·(districts − 1) + 10·negative + 10·max(0, ln(growth))
n members received in the window, likes their 点赞数 summed, districts the distinct districts among them
(at most 10 counted), negative the share of members with negative wording, growth the members in the last
quarter of the window against the quarter-average before it (each +1).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from hotline.timestamps import stored_moment

# Words that say little about which issue a message raises (board boilerplate, courtesy, pronouns).
STOPWORDS = frozenset("""
的 了 是 在 我 我们 你 你们 他 她 它 他们 这 那 这个 那个 这些 那些 有 和 与 及 或 也 都 就 还 又 很 非常 请 请问 希望 能够 能
可以 可能 已经 没有 不 没 一个 一些 什么 怎么 如何 为什么 因为 所以 但是 但 而且 如果 以及 对于 关于 进行 相关 部门 领导 您好 你好
谢谢 感谢 问题 情况 反映 反应 现在 目前 今年 去年 一直 经常 我们小区 小区业主 业主 市民 居民 群众 政府 有关 尽快 解决 处理 要求
给予 予以 一下 这样 那样 这里 那里 时候 时间 多次 每天 一天 几天 大家 自己 其他 其中 以上 以下 之后 之前 然后 同时 通过 根据
""".split())

# Words of complaint, danger and anger: a message with one of them counts as negative in the heat score.
NEGATIVE_WORDS = (
    "投诉", "不满", "愤怒", "气愤", "无奈", "失望", "严重", "危险", "隐患", "拖欠", "欠薪", "欺骗", "欺诈", "诈骗",
    "曝光", "恶劣", "强烈", "无人管", "没人管", "不作为", "乱收费", "违法", "违规", "扰民", "污染", "恶臭",
    "事故", "受伤", "死亡", "堵塞", "瘫痪", "积水", "被淹", "倒塌", "坑", "骗", "黑心", "霸王",
)

_WORDLIKE = re.compile(r"^[\u4e00-\u9fff]{2,}$|^[A-Za-z]{3,}$")


def terms(segmented: str) -> list[str]:
    """The telling tokens of a segmented text: Chinese words of two or more characters, Latin words of
    three or more letters, without stopwords."""
    return [t for t in segmented.split() if _WORDLIKE.match(t) and t not in STOPWORDS]


def is_negative(text: str) -> bool:
    return any(word in text for word in NEGATIVE_WORDS)


_TERM_SIGNS: dict[str, np.ndarray] = {}
_BIT_VALUES = np.array([1 << bit for bit in range(64)], dtype=object)


def _signs(term: str) -> np.ndarray:
    signs = _TERM_SIGNS.get(term)
    if signs is None:
        if len(_TERM_SIGNS) > 500_000:
            _TERM_SIGNS.clear()
        digest = np.frombuffer(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), dtype=np.uint8)
        signs = _TERM_SIGNS[term] = np.unpackbits(digest, bitorder="little").astype(np.float64) * 2 - 1
    return signs


def simhash(weights: dict[str, float]) -> int:
    """64-bit SimHash of weighted terms."""
    if not weights:
        return 0
    totals = np.stack([_signs(t) for t in weights]).T @ np.fromiter(weights.values(), dtype=np.float64)
    return int(sum(_BIT_VALUES[totals > 0]))


def _bands(fingerprint: int) -> list[tuple[int, int]]:
    """Four 16-bit bands: two fingerprints at most 3 bits apart agree on at least one band."""
    return [(band, fingerprint >> (16 * band) & 0xFFFF) for band in range(4)]


@dataclass(frozen=True)
class TopicSettings:
    similarity: float = 0.25         # cosine with a topic's centroid to join it
    duplicate_distance: int = 3      # SimHash bits: at most this many apart is a near-copy
    window_days: float = 7.0         # a topic quiet for longer takes no new members
    centroid_terms: int = 40         # terms kept per centroid
    candidate_terms: int = 8         # a message's heaviest terms used to find candidate topics
    recent_hashes: int = 50_000      # SimHashes kept for near-duplicate search
    merge_similarity: float = 0.35   # centroid cosine at which two topics are one

    @classmethod
    def from_config(cls, data: dict) -> "TopicSettings":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown topic setting(s): {', '.join(sorted(unknown))}")
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in data.items()})


@dataclass
class Topic:
    topic_id: str
    centroid: dict[str, float]
    size: int
    first_seen: datetime
    last_seen: datetime
    representative: str  # ticket id of the most central member so far
    representative_similarity: float = 0.0

    def label_terms(self, count: int = 5) -> list[str]:
        return [t for t, _ in sorted(self.centroid.items(), key=lambda kv: -kv[1])[:count]]


@dataclass(frozen=True)
class Assignment:
    ticket_id: str
    topic_id: str
    similarity: float
    duplicate_of: str | None
    new_topic: bool
    negative: bool


@dataclass(frozen=True)
class Merge:
    """Topic `topic_id` was folded into topic `into`: its members belong to `into` from now on."""
    topic_id: str
    into: str


@dataclass
class TopicTracker:
    """Streaming topic assignment; feed messages in event-time order (roughly). `merges` lists the merges
    done since the caller last emptied it (see `take_merges`)."""

    settings: TopicSettings = field(default_factory=TopicSettings)
    document_frequency: Counter = field(default_factory=Counter)
    documents: int = 0
    topics: dict[str, Topic] = field(default_factory=dict)
    _index: dict[str, set[str]] = field(default_factory=dict)
    _hashes: deque = field(default_factory=deque)  # (simhash, ticket id, topic id), oldest first
    _bands: dict[tuple[int, int], list[tuple[int, str, str]]] = field(default_factory=dict)
    _merged: dict[str, str] = field(default_factory=dict)  # topic merged away -> the topic it went into
    merges: list[Merge] = field(default_factory=list)

    def take_merges(self) -> list[Merge]:
        merges, self.merges = self.merges, []
        return merges

    def current(self, topic_id: str) -> str:
        """The topic a topic id now stands for (itself, or where it was merged)."""
        while topic_id in self._merged:
            topic_id = self._merged[topic_id]
        return topic_id

    def _vector(self, counts: Counter) -> dict[str, float]:
        vector = {t: (1 + math.log(c)) * math.log((self.documents + 1) / (self.document_frequency[t] + 1) + 1)
                  for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {t: v / norm for t, v in vector.items()}

    def add(self, ticket_id: str, segmented: str, text: str, at: datetime) -> Assignment:
        counts = Counter(terms(segmented))
        self.documents += 1
        self.document_frequency.update(counts.keys())
        vector = self._vector(counts)
        negative = is_negative(text)
        fingerprint = simhash({t: 1 + math.log(c) for t, c in counts.items()}) if vector else None

        if fingerprint is not None:
            candidates = {entry for band in _bands(fingerprint) for entry in self._bands.get(band, ())}
            for other, other_ticket, topic_id in sorted(candidates, key=lambda e: e[1]):
                topic_id = self.current(topic_id)
                if bin(fingerprint ^ other).count("1") <= self.settings.duplicate_distance and topic_id in self.topics:
                    topic = self.topics[topic_id]
                    similarity = _cosine(vector, topic.centroid)
                    self._join(topic, vector, at, ticket_id, similarity)
                    self._remember(fingerprint, ticket_id, topic_id)
                    topic_id = self._merge_similar(topic, at)
                    return Assignment(ticket_id, topic_id, round(similarity, 4), other_ticket, False, negative)

        best, best_similarity = None, 0.0
        horizon = at - timedelta(days=self.settings.window_days)
        telling = sorted(vector, key=lambda t: -vector[t])[:self.settings.candidate_terms]
        candidates = set().union(*(self._index.get(t, ()) for t in telling)) if telling else set()
        for topic_id in candidates:
            topic = self.topics.get(topic_id)
            if topic is None or topic.last_seen < horizon:
                continue
            similarity = _cosine(vector, topic.centroid)
            if similarity > best_similarity:
                best, best_similarity = topic, similarity
        if best is not None and best_similarity >= self.settings.similarity:
            self._join(best, vector, at, ticket_id, best_similarity)
            topic_id, new = best.topic_id, False
        else:
            topic_id, new = f"topic-{ticket_id}", True
            self.topics[topic_id] = Topic(topic_id, dict(vector), 1, at, at, ticket_id, 1.0)
            self._reindex(self.topics[topic_id], {})
            best_similarity = 1.0
        if fingerprint is not None:
            self._remember(fingerprint, ticket_id, topic_id)
        topic_id = self._merge_similar(self.topics[topic_id], at)
        return Assignment(ticket_id, topic_id, round(best_similarity, 4), None, new, negative)

    def _merge_similar(self, topic: Topic, at: datetime) -> str:
        """Fold `topic` and the most similar active topic into one at cosine >= `merge_similarity`: the
        smaller (the younger on a tie) goes into the larger. Returns the id of the topic that remains."""
        horizon = at - timedelta(days=self.settings.window_days)
        telling = topic.label_terms(self.settings.candidate_terms)
        best, best_similarity = None, 0.0
        for other_id in set().union(*(self._index.get(t, ()) for t in telling)) - {topic.topic_id}:
            other = self.topics.get(other_id)
            if other is None or other.last_seen < horizon:
                continue
            similarity = _cosine(topic.centroid, other.centroid)
            if similarity > best_similarity:
                best, best_similarity = other, similarity
        if best is None or best_similarity < self.settings.merge_similarity:
            return topic.topic_id
        keep, fold = sorted((topic, best), key=lambda t: (-t.size, t.first_seen, t.topic_id))
        before = dict(keep.centroid)
        keep.centroid = self._mean(keep.centroid, keep.size, fold.centroid, fold.size)
        keep.size += fold.size
        keep.first_seen = min(keep.first_seen, fold.first_seen)
        keep.last_seen = max(keep.last_seen, fold.last_seen)
        self._drop(fold.topic_id)
        self._reindex(keep, before)
        self._merged[fold.topic_id] = keep.topic_id
        self.merges.append(Merge(fold.topic_id, keep.topic_id))
        return keep.topic_id

    def _join(self, topic: Topic, vector: dict[str, float], at: datetime, ticket_id: str, similarity: float) -> None:
        before = dict(topic.centroid)
        topic.centroid = self._mean(topic.centroid, topic.size, vector, 1)
        topic.size += 1
        topic.first_seen = min(topic.first_seen, at)
        topic.last_seen = max(topic.last_seen, at)
        if similarity > topic.representative_similarity:
            topic.representative, topic.representative_similarity = ticket_id, similarity
        self._reindex(topic, before)

    def _mean(self, a: dict[str, float], a_size: int, b: dict[str, float], b_size: int) -> dict[str, float]:
        """The centroid of a and b weighted by their sizes: its heaviest `centroid_terms` terms, unit length."""
        summed = Counter({t: w * a_size for t, w in a.items()})
        summed.update({t: w * b_size for t, w in b.items()})
        top = dict(summed.most_common(self.settings.centroid_terms))
        norm = math.sqrt(sum(v * v for v in top.values())) or 1.0
        return {t: v / norm for t, v in top.items()}

    def _reindex(self, topic: Topic, before: dict[str, float]) -> None:
        for term in set(before) - set(topic.centroid):
            self._index.get(term, set()).discard(topic.topic_id)
        for term in topic.centroid:
            self._index.setdefault(term, set()).add(topic.topic_id)

    def _remember(self, fingerprint: int, ticket_id: str, topic_id: str) -> None:
        entry = (fingerprint, ticket_id, topic_id)
        self._hashes.append(entry)
        for band in _bands(fingerprint):
            self._bands.setdefault(band, []).append(entry)
        while len(self._hashes) > self.settings.recent_hashes:
            old = self._hashes.popleft()
            for band in _bands(old[0]):
                bucket = self._bands.get(band)
                if bucket:
                    bucket.remove(old)
                    if not bucket:
                        del self._bands[band]

    def forget(self, now: datetime) -> None:
        """Drop topics quiet for longer than the window: they take no new members, so they need no memory."""
        horizon = now - timedelta(days=self.settings.window_days)
        for topic_id in [t for t, topic in self.topics.items() if topic.last_seen < horizon]:
            self._drop(topic_id)
        self._merged = {old: into for old, into in self._merged.items() if self.current(into) in self.topics}

    def _drop(self, topic_id: str) -> None:
        for term in self.topics.pop(topic_id).centroid:
            postings = self._index.get(term)
            if postings is not None:
                postings.discard(topic_id)
                if not postings:
                    del self._index[term]

    def restore(self, topic: Topic) -> None:
        """Put back a topic kept in the store (after a restart)."""
        self.topics[topic.topic_id] = topic
        self._reindex(topic, {})


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


@dataclass(frozen=True)
class Heat:
    score: float
    members: int
    likes: int
    districts: int
    negative: float
    growth: float


def heat(members: list[dict], now: datetime, window: timedelta) -> Heat:
    """Heat of a topic from its members (dicts with received_at, likes, district, negative) in the window
    ending at `now` (see the module's documentation for the formula)."""
    start = now - window
    inside = [m for m in members if start < stored_moment(m["received_at"]) <= now]
    n = len(inside)
    if not n:
        return Heat(0.0, 0, 0, 0, 0.0, 1.0)
    likes = sum(int(m.get("likes") or 0) for m in inside)
    districts = len({m["district"] for m in inside if m.get("district")})
    negative = sum(1 for m in inside if m.get("negative")) / n
    quarter = window / 4
    recent = sum(1 for m in inside if stored_moment(m["received_at"]) > now - quarter)
    growth = (recent + 1) / ((n - recent) / 3 + 1)
    score = (10 * math.log1p(n) + 5 * math.log1p(likes) + 3 * max(0, min(districts, 10) - 1) + 10 * negative
             + 10 * max(0.0, math.log(growth)))
    return Heat(round(score, 2), n, likes, districts, round(negative, 3), round(growth, 3))


WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}


def topic_label(terms: dict[str, float], title: str) -> str:
    """A topic as people read it: its three heaviest terms, then the title of its most central message."""
    heaviest = sorted(terms.items(), key=lambda kv: -kv[1])[:3]
    return "、".join(term for term, _ in heaviest) + f"：{title}"


def hot_topics(rows: list[dict], now: datetime, window: timedelta, limit: int = 20) -> list[dict]:
    """Topics as the dashboards and `hotline hotspots` show them, hottest first: label, heat and its parts,
    trend (members per sixth of the window), districts, domains, first/last seen and the member tickets.
    `rows` are the store's topics with their members (stores' hot_topics)."""
    out = []
    for row in rows:
        members = row["members"]
        score = heat(members, now, window)
        if not score.members:
            continue
        inside = [m for m in members if now - window < stored_moment(m["received_at"]) <= now]
        step = window / 6
        trend = [sum(1 for m in inside if now - window + step * i < stored_moment(m["received_at"]) <= now - window + step * (i + 1))
                 for i in range(6)]
        representative = next((m for m in members if m["ticket_id"] == row["representative"]), members[0])
        top_terms = [t for t, _ in sorted(row["terms"].items(), key=lambda kv: -kv[1])[:5]]
        out.append({
            "topic_id": row["topic_id"],
            "label": topic_label(row["terms"], representative["title"]),
            "terms": top_terms,
            "title": representative["title"],
            "heat": score.score, "members_in_window": score.members, "likes": score.likes,
            "districts_count": score.districts, "negative_share": score.negative, "growth": score.growth,
            "trend": trend,
            "size": row["size"],
            "districts": dict(Counter(m["district"] for m in inside if m.get("district")).most_common()),
            "domains": dict(Counter(m["domain"] for m in inside if m.get("domain")).most_common()),
            "first_seen": row["first_seen"], "last_seen": row["last_seen"],
            "members": [{"ticket_id": m["ticket_id"], "title": m["title"], "received_at": m["received_at"],
                         "district": m["district"], "duplicate_of": m["duplicate_of"]} for m in inside],
        })
    out.sort(key=lambda t: -t["heat"])
    return out[:limit]
