"""The production store: Elasticsearch (8.x), through the official client's documented API.

It keeps the store contract of stores/base.py, and tests/test_store_contract.py runs the same tests on it
whenever HOTLINE_ES_URL names a server (none can be installed on the development machines).

- Index templates, mappings and the monthly lifecycle policy: stores/es_schema.py, put at start.
- Every write is idempotent by id: tickets, dead letters, events and alerts are bulk-created with their own
  ids, so a batch written twice (a worker died before committing its offsets) keeps one copy.
- Writes wait for the refresh (`refresh="wait_for"`): what a worker stored is visible to the next batch's
  duplicate check and to the dashboards, at the cost of up to a second per batch.
- A ticket event updates the ticket with optimistic concurrency (if_seq_no/if_primary_term) and records its
  event id in the ticket itself, in the same write, so an event is applied once.
- The dashboards' figures are aggregations (terms, composite, histogram, max) over the indices.
- Sequence numbers (`seq`, for live pages and iteration) are microseconds since the epoch at the write, with
  the position in the batch added: increasing within a writer, and across writers as far as clocks agree.
- Not transactional across documents: a monitor that dies in the middle of writing a batch's topics may count
  that batch's hourly arrivals twice when Kafka delivers the batch again (the hourly baselines then run high).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterator

from hotline.alerts import Alert
from hotline.lifecycle import AWAITING_DISPATCH, OPEN_STATUSES, STATE_FIELDS, Lifecycle, TransitionError, state_of
from hotline.models import DispatchedTicket, Rejection, TicketEvent
from hotline.surges import Surge, topic_key
from hotline.timestamps import SHANGHAI
from hotline.topics import Assignment, Merge, Topic
from stores import es_schema
from stores.base import FILTERS, TICKET_FIELDS, TicketQuery

_EVENT_FIELDS = tuple(f for f in STATE_FIELDS if f not in ("received_at", "ticket_type", "urgency"))
_PAGE = 1000
_NEVER = "9999-12-31T00:00:00+08:00"  # the deadline watch's next look for a ticket it never needs to look at again
# TicketQuery.order, as the SQLite store orders (stores/sqlite.py, _ORDER_BY)
_SORTS = {
    "newest": [{"seq": "desc"}],
    "due": [{"reply_due": {"order": "asc", "missing": "_last"}}, {"received_at": "asc"}, {"seq": "asc"}],
    "accept": [{"accept_due": {"order": "asc", "missing": "_last"}}, {"received_at": "asc"}, {"seq": "asc"}],
    "callback": [{"callback_due": {"order": "asc", "missing": "_last"}}, {"replied_at": "asc"}, {"seq": "asc"}],
}


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def _month(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y.%m")


def _value(value):
    """A lifecycle value as the SQLite store returns it (times as ISO text, flags as 0/1, tuples as lists)."""
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return list(value)
    return value


class ElasticsearchStore:
    def __init__(self, url: str, prefix: str = "hotline", client=None):
        from elasticsearch import Elasticsearch

        self.prefix = prefix
        self.es = client or Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=5)
        self._last_seq = 0
        self.ensure_schema()

    # -- names and setup ---------------------------------------------------------------------
    def _index(self, name: str, month: str | None = None) -> str:
        """A concrete index (monthly ones need the month) ..."""
        return f"{self.prefix}-{name}-{month}" if month else f"{self.prefix}-{name}"

    def _read(self, name: str) -> str:
        """... and what to read: a monthly kind through its pattern."""
        return f"{self.prefix}-{name}-*" if es_schema.INDICES[name][1] else f"{self.prefix}-{name}"

    def ensure_schema(self) -> None:
        """The lifecycle policy and index templates; indices made by an earlier version gain the fields added
        since (a mapping only ever gains fields)."""
        self.es.ilm.put_lifecycle(name=es_schema.LIFECYCLE_POLICY, policy=es_schema.POLICY)
        for name, (properties, monthly) in es_schema.INDICES.items():
            self.es.indices.put_index_template(**es_schema.template(self.prefix, name))
            if not monthly and not self.es.indices.exists(index=self._index(name)):
                self.es.indices.create(index=self._index(name))
            else:
                self.es.indices.put_mapping(index=self._read(name), properties=properties, allow_no_indices=True)

    def close(self) -> None:
        self.es.close()

    def _seqs(self, count: int) -> range:
        start = max(time.time_ns() // 1000, self._last_seq + 1)
        self._last_seq = start + count - 1
        return range(start, start + count)

    # -- low-level helpers --------------------------------------------------------------------
    def _create(self, docs: list[tuple[str, str, dict]]) -> list[int]:
        """Bulk-create (index, id, document); returns the positions of those that were new. An id already
        there (or earlier in the same list) is left as it is."""
        new, failed = [], []
        for start in range(0, len(docs), _PAGE):
            chunk = docs[start:start + _PAGE]
            operations = []
            for index, doc_id, doc in chunk:
                operations += [{"create": {"_index": index, "_id": doc_id}}, doc]
            response = self.es.bulk(operations=operations, refresh="wait_for")
            for position, item in enumerate(response["items"], start):
                result = item["create"]
                if result["status"] in (200, 201):
                    new.append(position)
                elif result["status"] != 409:
                    failed.append(result)
        if failed:
            raise RuntimeError(f"Elasticsearch refused {len(failed)} documents, first: {failed[0]}")
        return new

    def _update(self, index: str, updates: list[tuple[str, dict]]) -> None:
        """Bulk partial updates (id, fields) to documents of one index or pattern-located documents."""
        from elasticsearch import helpers

        if updates:
            helpers.bulk(self.es, [{"_op_type": "update", "_index": index, "_id": i, "doc": doc} for i, doc in updates],
                         refresh="wait_for")

    def _search(self, name: str, query: dict, sort=None, size: int = 10, source=True, **extra) -> list[dict]:
        response = self.es.search(index=self._read(name), query=query, sort=sort, size=size, source=source,
                                  ignore_unavailable=True, allow_no_indices=True, **extra)
        return response["hits"]["hits"]

    def _scan(self, name: str, query: dict, sort: list, source=True, **options) -> Iterator[dict]:
        """Every matching document in sort order, a page at a time (search_after); `options` go to each search."""
        after = None
        while True:
            extra = {"search_after": after} if after else {}
            hits = self._search(name, query, sort=sort, size=_PAGE, source=source, **options, **extra)
            yield from hits
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _by_ids(self, name: str, ids: list[str], source=True, **extra) -> list[dict]:
        out = []
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start:start + _PAGE]
            out += self._search(name, {"ids": {"values": chunk}}, size=len(chunk), source=source, **extra)
        return out

    def _present(self, name: str, ids: list[str]) -> set[str]:
        return {hit["_id"] for hit in self._by_ids(name, ids, source=False)}

    def _count(self, name: str, query: dict | None = None) -> int:
        return self.es.count(index=self._read(name), query=query or {"match_all": {}},
                             ignore_unavailable=True, allow_no_indices=True)["count"]

    def _max(self, name: str, field: str) -> int:
        response = self.es.search(index=self._read(name), size=0, aggs={"top": {"max": {"field": field}}},
                                  ignore_unavailable=True, allow_no_indices=True)
        value = response["aggregations"]["top"]["value"]
        return int(value) if value is not None else 0

    def _terms(self, name: str, field: str, query: dict | None = None, size: int = 1000) -> list[tuple[str, int]]:
        response = self.es.search(index=self._read(name), size=0, query=query or {"match_all": {}},
                                  aggs={"values": {"terms": {"field": field, "size": size}}},
                                  ignore_unavailable=True, allow_no_indices=True)
        return [(b["key"], b["doc_count"]) for b in response["aggregations"]["values"]["buckets"]]

    # -- tickets ------------------------------------------------------------------------------
    def write_tickets(self, tickets: list[DispatchedTicket]) -> int:
        now = _local(datetime.now(SHANGHAI))
        docs = []
        for t, seq in zip(tickets, self._seqs(len(tickets))):
            doc = {name: None for name in TICKET_FIELDS}
            doc.update(t.model_dump(mode="json", exclude={"segmented"}))
            doc.update(seq=seq, stored_at=now, received_at=_local(t.received_at), ingested_at=_local(t.ingested_at),
                       accept_due=_local(t.accept_due) if t.accept_due else None,
                       reply_due=_local(t.reply_due) if t.reply_due else None,
                       returns=0, returned_by=[], late_acceptances=[], corrected=False, paused_hours=0.0,
                       extensions=0, reopened=0, callback_attempts=0, urged=0, words=t.segmented, topic_id=None,
                       event_ids=[])
            docs.append((self._index("tickets", _month(t.received_at)), t.ticket_id, doc))
        return len(self._create(docs))

    @staticmethod
    def _ticket(hit: dict, fields: tuple[str, ...] | None = None) -> dict:
        source = hit["_source"]
        record = {name: source.get(name) for name in fields or TICKET_FIELDS}
        if "top" in record:
            record["top"] = [tuple(pair) for pair in record["top"] or []]
        for name in ("co_units", "returned_by", "late_acceptances", "deadline_warnings"):
            if name in record:
                record[name] = record[name] or []
        if "corrected" in record:
            record["corrected"] = bool(record["corrected"])
        return record

    def get_ticket(self, ticket_id: str) -> dict | None:
        hits = self._by_ids("tickets", [ticket_id])
        return self._ticket(hits[0]) if hits else None

    def content_hashes(self, ticket_ids: list[str]) -> dict[str, str]:
        return {h["_id"]: h["_source"]["content_hash"] for h in self._by_ids("tickets", ticket_ids, source=["content_hash"])}

    def segmented_text(self, ticket_id: str) -> str:
        hits = self._by_ids("tickets", [ticket_id], source=["words"])
        return hits[0]["_source"]["words"] if hits else ""

    @staticmethod
    def _where(query: TicketQuery) -> dict:
        """The query of the tickets a TicketQuery selects."""
        must = [{"term": {name: value}} for name, value in query.filters().items()]
        if query.unit is not None:
            must.append(_unit_filter(query.unit))
        if query.held_by == AWAITING_DISPATCH:  # waiting for a dispatcher, or merged while waiting (no unit)
            must.append(_AWAITING_FILTER)
        elif query.held_by is not None:
            must.append(_held_filter(query.held_by))
        if query.figures_of is not None:
            must.append({"bool": {"should": [_held_filter(query.figures_of),
                                             {"term": {"returned_by": query.figures_of}},
                                             {"term": {"late_acceptances": query.figures_of}}],
                                  "minimum_should_match": 1}})
        if query.topic is not None:
            must.append({"term": {"topic_id": query.topic}})
        if query.alert is not None:  # a terms lookup: the ticket ids listed in the alert's document
            must.append({"terms": {"ticket_id": {"index": self._index("opinion-alerts"), "id": query.alert,
                                                 "path": "examples"}}})
        if query.merged_into:
            must.append({"terms": {"merged_into": list(query.merged_into)}})
        if query.overdue_at is not None:
            must += [{"terms": {"status": list(OPEN_STATUSES)}}, {"range": {"reply_due": {"lt": _local(query.overdue_at)}}}]
        if query.awaiting_callback:
            must.append({"exists": {"field": "callback_due"}})
        if query.callback_given_up:  # hotline.lifecycle.callback_given_up
            must += [{"terms": {"status": ["replied", "closed"]}}, {"range": {"callback_attempts": {"gt": 0}}},
                     {"bool": {"must_not": {"exists": {"field": "callback_due"}}}}]
        if query.accepted_late_at is not None:  # hotline.statistics.late_to_accept
            unaccepted = {"bool": {"filter": [{"term": {"status": "dispatched"}},
                                              {"range": {"accept_due": {"lt": _local(query.accepted_late_at)}}}]}}
            late_now = {"bool": {"should": [{"term": {"accepted_on_time": False}}, unaccepted],
                                 "minimum_should_match": 1}}
            if query.accepted_late_by is None:
                late = [late_now, {"exists": {"field": "late_acceptances"}}]  # an empty list is not indexed
            else:
                late = [{"bool": {"filter": [_held_filter(query.accepted_late_by), late_now]}},
                        {"term": {"late_acceptances": query.accepted_late_by}}]
            must.append({"bool": {"should": late, "minimum_should_match": 1}})
        if query.replied:
            must.append({"exists": {"field": "replied_at"}})
        if query.called_back:  # a satisfaction is one of hotline.lifecycle.SATISFACTION, or none
            must.append({"exists": {"field": "satisfaction"}})
        if query.reopened:
            must.append({"range": {"reopened": {"gt": 0}}})
        if query.urged:
            must.append({"range": {"urged": {"gt": 0}}})
        if query.open:
            must.append({"terms": {"status": list(OPEN_STATUSES)}})
        if query.returned:
            must.append({"range": {"returns": {"gt": 0}}})
        if query.returned_by is not None:
            must.append({"term": {"returned_by": query.returned_by}})
        received = {key: _local(moment) for key, moment in (("gte", query.received.start), ("lt", query.received.end))
                    if moment is not None}
        if received:
            must.append({"range": {"received_at": received}})
        if query.after_seq is not None:
            must.append({"range": {"seq": {"gt": query.after_seq}}})
        must += [{"match_phrase": {"words": word}} for word in query.words if word.strip()]
        return {"bool": {"filter": must}}

    def search(self, query: TicketQuery) -> tuple[list[dict], int]:
        sort = _SORTS[query.order]
        response = self.es.search(index=self._read("tickets"), query=self._where(query),
                                  sort=sort, size=query.limit, from_=query.offset,
                                  track_total_hits=True, ignore_unavailable=True, allow_no_indices=True)
        return [self._ticket(h) for h in response["hits"]["hits"]], response["hits"]["total"]["value"]

    def facets(self, query: TicketQuery | None = None) -> dict[str, dict[str, int]]:
        query = query or TicketQuery()
        # one filter aggregation a field: the query's selection less that field's own filter
        aggs = {name: {"filter": self._where(replace(query, **{name: None})),
                       "aggs": {"values": {"terms": {"field": name, "size": 1000}}}} for name in FILTERS}
        response = self.es.search(index=self._read("tickets"), size=0, query={"match_all": {}}, aggs=aggs,
                                  ignore_unavailable=True, allow_no_indices=True)
        found = response.get("aggregations", {})
        return {name: {b["key"]: b["doc_count"] for b in found.get(name, {}).get("values", {}).get("buckets", [])}
                for name in FILTERS}

    def iter_tickets(self, query: TicketQuery | None = None, fields: tuple[str, ...] | None = None) -> Iterator[dict]:
        unknown = set(fields or ()) - set(TICKET_FIELDS)
        if unknown:
            raise ValueError(f"no such ticket fields: {', '.join(sorted(unknown))}")
        hits = self._scan("tickets", self._where(query or TicketQuery()), [{"seq": "asc"}, {"ticket_id": "asc"}],
                          source=list(fields) if fields else True)
        return (self._ticket(h, fields) for h in hits)

    def count_tickets(self, ticket_ids: list[str] | None = None) -> int:
        return self._count("tickets") if ticket_ids is None else len(self._present("tickets", ticket_ids))

    def latest_seq(self) -> int:
        return self._max("tickets", "seq")

    def latest_change(self) -> tuple[int, ...]:
        return (self._max("tickets", "seq"), self._max("events", "seq"), self._max("alerts", "seq"),
                self._max("topics", "updated_seq"), self._max("opinion-alerts", "seq"))

    def queue(self, limit: int = 100) -> list[dict]:
        """Tickets waiting for a dispatcher: flagged ones first, then the oldest."""
        pending = {"term": {"status": "pending_review"}}
        flagged = self._search("tickets", {"bool": {"filter": [pending, {"exists": {"field": "flagged"}}]}},
                               sort=[{"received_at": "asc"}, {"seq": "asc"}], size=limit)
        rest = self._search("tickets", {"bool": {"filter": [pending], "must_not": [{"exists": {"field": "flagged"}}]}},
                            sort=[{"received_at": "asc"}, {"seq": "asc"}], size=max(0, limit - len(flagged)))
        return [self._ticket(h) for h in flagged + rest]

    def similar(self, ticket_id: str, words: list[str], limit: int = 5) -> list[dict]:
        """Tickets that went to a unit (dispatched, and since handled or not) sharing the most telling of these
        words, best match first (BM25)."""
        words = [w for w in dict.fromkeys(words) if len(w) > 1][:24]
        if not words:
            return []
        query = {"bool": {"should": [{"match_phrase": {"words": w}} for w in words], "minimum_should_match": 1,
                          "must_not": [{"ids": {"values": [ticket_id]}}, _AWAITING_FILTER]}}
        return [self._ticket(h) for h in self._search("tickets", query, size=limit)]

    # -- dead letters -------------------------------------------------------------------------
    def write_rejections(self, rejections: list[Rejection]) -> int:
        docs = [(self._index("rejections", _month(r.rejected_at)), r.rejection_id,
                 {**r.model_dump(mode="json"), "seq": seq, "rejected_at": _local(r.rejected_at)})
                for r, seq in zip(rejections, self._seqs(len(rejections)))]
        return len(self._create(docs))

    def stored_rejection_ids(self, rejection_ids: list[str]) -> set[str]:
        return self._present("rejections", rejection_ids)

    @staticmethod
    def _rejection(hit: dict) -> dict:
        return {"resent_as": None, "resent_by": None, "resent_at": None, **hit["_source"]}

    def get_rejection(self, rejection_id: str) -> dict | None:
        hits = self._by_ids("rejections", [rejection_id])
        return self._rejection(hits[0]) if hits else None

    def mark_rejection_resent(self, rejection_id: str, ticket_id: str, by: str, at: datetime) -> bool:
        hits = self._by_ids("rejections", [rejection_id], source=False)  # its month's index
        return bool(hits) and self._set_once(hits[0]["_index"], rejection_id,
                                             {"resent_as": ticket_id, "resent_by": by, "resent_at": _local(at)})

    def recent_rejections(self, limit: int = 500) -> list[dict]:
        return [self._rejection(h) for h in self._search("rejections", {"match_all": {}}, sort=[{"seq": "desc"}], size=limit)]

    def iter_rejections(self) -> Iterator[dict]:
        return (self._rejection(h) for h in self._scan("rejections", {"match_all": {}}, [{"seq": "asc"}, {"rejection_id": "asc"}]))

    def count_rejections(self, rejection_ids: list[str] | None = None) -> int:
        return self._count("rejections") if rejection_ids is None else len(self._present("rejections", rejection_ids))

    # -- ticket events ------------------------------------------------------------------------
    def apply_event(self, event: TicketEvent, lifecycle: Lifecycle) -> tuple[str, str]:
        from elasticsearch import ConflictError

        for _ in range(20):  # another writer changed the ticket between our read and write: read again
            hits = self._by_ids("tickets", [event.ticket_id], seq_no_primary_term=True)
            if not hits:
                return "refused", f"no ticket {event.ticket_id}"
            hit = hits[0]
            if event.event_id in (hit["_source"].get("event_ids") or []):
                return "duplicate", ""
            ticket = self._ticket(hit)
            state = state_of(ticket)
            try:
                new = lifecycle.apply(state, event)
            except TransitionError as exc:
                return "refused", str(exc)
            at = _local(event.at)
            changes = {name: _value(getattr(new, name)) for name in _EVENT_FIELDS}
            for flag in ("corrected", "on_time", "accepted_on_time"):  # boolean in the mapping, as SQLite returns them
                changes[flag] = None if changes[flag] is None else bool(changes[flag])
            changes["subdomain"] = event.data.get("subdomain") if event.kind == "dispatched" else ticket["subdomain"]
            changes["updated_at"] = at
            changes["watch_at"] = None  # changed: the deadline watch looks at it again
            changes["event_ids"] = [*(hit["_source"].get("event_ids") or []), event.event_id]
            try:
                self.es.index(index=hit["_index"], id=event.ticket_id, document={**hit["_source"], **changes},
                              if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"], refresh="wait_for")
            except ConflictError:
                continue
            seq = self._seqs(1)[0]
            self.es.index(index=self._index("events", _month(event.at)), id=event.event_id, refresh="wait_for",
                          document={"seq": seq, "event_id": event.event_id, "ticket_id": event.ticket_id,
                                    "kind": event.kind, "at": at, "actor": event.actor, "data": event.data})
            if event.kind == "dispatched" and (new.domain != state.domain or new.lead_unit != state.lead_unit):
                self.es.index(index=self._index("corrections"), id=event.event_id, refresh="wait_for", document={
                    "seq": seq, "event_id": event.event_id, "ticket_id": event.ticket_id, "title": ticket["title"],
                    "text": ticket["text"], "domain": new.domain, "predicted_domain": state.domain,
                    "lead_unit": new.lead_unit, "predicted_unit": state.lead_unit, "actor": event.actor, "at": at})
            return "applied", ""
        raise RuntimeError(f"ticket {event.ticket_id} kept changing while event {event.event_id} was applied")

    def ticket_events(self, ticket_id: str) -> list[dict]:
        return self.events_by_ticket([ticket_id]).get(ticket_id, [])

    def events_by_ticket(self, ticket_ids: list[str]) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for start in range(0, len(ticket_ids), _PAGE):
            query = {"terms": {"ticket_id": ticket_ids[start:start + _PAGE]}}
            for hit in self._scan("events", query, [{"seq": "asc"}, {"event_id": "asc"}]):
                event = {k: hit["_source"][k] for k in ("event_id", "ticket_id", "kind", "at", "actor", "data")}
                found.setdefault(event["ticket_id"], []).append(event)
        return found

    def stored_event_ids(self, event_ids: list[str]) -> set[str]:
        return self._present("events", event_ids)

    def corrections(self) -> list[dict]:
        """Dispatchers' corrections, the latest per ticket, in the order they were made."""
        latest = {}
        for hit in self._scan("corrections", {"match_all": {}}, [{"seq": "asc"}, {"event_id": "asc"}]):
            latest[hit["_source"]["ticket_id"]] = hit["_source"]
        return sorted(latest.values(), key=lambda c: c["seq"])

    def tickets_to_watch(self, due_since: datetime, due_before: datetime, now: datetime | None) -> list[dict]:
        window = {"gte": _local(due_since), "lt": _local(due_before)}
        unaccepted = {"bool": {"filter": [{"term": {"status": "dispatched"}}, {"range": {"accept_due": window}}]}}
        filters = [{"terms": {"status": list(OPEN_STATUSES)}}]
        if now is not None:  # the next look has come, or the ticket has none (new, or changed since)
            filters.append({"bool": {"should": [{"range": {"watch_at": {"lte": _local(now)}}},
                                                {"bool": {"must_not": [{"exists": {"field": "watch_at"}}]}}],
                                     "minimum_should_match": 1}})
        query = {"bool": {"filter": filters,
                          "should": [{"range": {"reply_due": window}}, unaccepted], "minimum_should_match": 1}}
        fields = ["ticket_id", "status", "lead_unit", "reply_due", "accept_due"]
        # each with its document's sequence number and primary term: set_watch_at writes only if unchanged
        return [{**{f: h["_source"].get(f) for f in fields}, "_index": h["_index"], "_seq_no": h["_seq_no"],
                 "_primary_term": h["_primary_term"]}
                for h in self._scan("tickets", query, [{"reply_due": "asc"}, {"ticket_id": "asc"}], source=fields,
                                    seq_no_primary_term=True)]

    def set_watch_at(self, looks: list[tuple[dict, datetime | None]]) -> None:
        for start in range(0, len(looks), _PAGE):
            operations = []
            for ticket, at in looks[start:start + _PAGE]:
                operations += [{"update": {"_index": ticket["_index"], "_id": ticket["ticket_id"],
                                           "if_seq_no": ticket["_seq_no"], "if_primary_term": ticket["_primary_term"]}},
                               {"doc": {"watch_at": _NEVER if at is None else _local(at)}}]
            response = self.es.bulk(operations=operations, refresh="wait_for")
            failed = [item["update"] for item in response["items"] if item["update"]["status"] not in (200, 409)]
            if failed:  # 409: changed since it was read, and so to be looked at again anyway
                raise RuntimeError(f"Elasticsearch refused {len(failed)} watch updates, first: {failed[0]}")

    # -- alerts -------------------------------------------------------------------------------
    def write_alerts(self, alerts: list[Alert]) -> list[Alert]:
        docs = [(self._index("alerts"), a.alert_id, {
            "seq": seq, "alert_id": a.alert_id, "ticket_id": a.ticket_id, "kind": a.kind, "level": a.level,
            "to_whom": a.to, "unit": a.unit, "reply_due": _local(a.reply_due), "due_at": _local(a.due_at),
            "raised_at": _local(a.raised_at), "message": a.message, "acknowledged_by": None, "acknowledged_at": None,
            "published": False}) for a, seq in zip(alerts, self._seqs(len(alerts)))]
        return [alerts[i] for i in self._create(docs)]

    def alerts(self, ticket_id: str | None = None, open_at: datetime | None = None, limit: int = 500,
               unit: str | None = None, to: str | None = None) -> list[dict]:
        filters = [{"term": {"ticket_id": ticket_id}}] if ticket_id is not None else []
        if to is not None:
            filters.append({"term": {"to_whom": to}})
        if unit is not None:
            filters.append({"term": {"unit": unit}})
        must_not = [{"exists": {"field": "acknowledged_at"}}] if open_at is not None else []
        out, after = [], None
        while len(out) < limit:
            extra = {"search_after": after} if after else {}
            hits = self._search("alerts", {"bool": {"filter": filters, "must_not": must_not}},
                                sort=[{"seq": "desc"}, {"alert_id": "asc"}], size=_PAGE, **extra)
            tickets = {h["_id"]: h["_source"] for h in self._by_ids(
                "tickets", sorted({h["_source"]["ticket_id"] for h in hits}),
                source=["title", "status", "lead_unit", "reply_due", "accept_due"])}
            for hit in hits:
                ticket = tickets.get(hit["_source"]["ticket_id"])
                alert = {k: v for k, v in hit["_source"].items() if k != "published"}
                if ticket is None or (open_at is not None
                                      and not still_applies({**alert, "to": alert["to_whom"]}, ticket, open_at)):
                    continue
                out.append({**alert, "published": int(hit["_source"]["published"]), "title": ticket["title"],
                            "status": ticket["status"], "to": alert["to_whom"]})
            if len(hits) < _PAGE:
                break
            after = hits[-1]["sort"]
        return out[:limit]

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        return self._set_once(self._index("alerts"), alert_id, {"acknowledged_by": by, "acknowledged_at": _local(at)})

    def _set_once(self, index: str, doc_id: str, fields: dict) -> bool:
        """Set these fields unless the last of them is already set; False if no such document or already set."""
        from elasticsearch import NotFoundError

        try:
            response = self.es.update(index=index, id=doc_id, refresh="wait_for", script={
                "lang": "painless", "params": {"fields": fields, "guard": list(fields)[-1]},
                "source": "if (ctx._source[params.guard] != null) { ctx.op = 'noop' } "
                          "else { for (e in params.fields.entrySet()) { ctx._source[e.getKey()] = e.getValue() } }"})
        except NotFoundError:
            return False
        return response["result"] == "updated"

    def unpublished_alerts(self, limit: int = 1000) -> list[Alert]:
        hits = self._search("alerts", {"term": {"published": False}}, sort=[{"seq": "asc"}], size=limit)
        return [Alert(alert_id=s["alert_id"], ticket_id=s["ticket_id"], kind=s["kind"], level=s["level"], to=s["to_whom"],
                      unit=s["unit"], reply_due=s["reply_due"], due_at=s["due_at"], raised_at=s["raised_at"],
                      message=s["message"]) for s in (h["_source"] for h in hits)]

    def mark_alerts_published(self, alert_ids: list[str]) -> None:
        self._update(self._index("alerts"), [(i, {"published": True}) for i in alert_ids])

    # -- opinion monitoring -------------------------------------------------------------------
    def write_topics(self, assignments: list[Assignment], topics: list[Topic], counts: list[tuple[str, datetime]],
                     merges: list[Merge] = ()) -> None:
        """Keep a batch's topic assignments (also on the tickets, for dashboards), the topics it touched and
        the hourly arrival counts. The batch's merges are applied first: this batch's assignments and counts
        are written under the topic kept, and what earlier batches stored under a merged topic is moved."""
        from elasticsearch import helpers

        into = {}
        for merge in merges:
            into = {old: (merge.into if new == merge.topic_id else new) for old, new in into.items()}
            into[merge.topic_id] = merge.into
        for old, new in into.items():
            self._move_topic(old, new)
        assignments = [replace(a, topic_id=into.get(a.topic_id, a.topic_id)) for a in assignments]
        renamed = {topic_key(old): topic_key(new) for old, new in into.items()}
        counts = [(renamed.get(key, key), hour) for key, hour in counts]

        updated_seq = self._seqs(1)[0]
        actions = [{"_op_type": "index", "_index": self._index("topics"), "_id": t.topic_id, "_source": {
            "topic_id": t.topic_id, "terms": t.centroid, "label": "、".join(t.label_terms(4)), "size": t.size,
            "first_seen": _local(t.first_seen), "last_seen": _local(t.last_seen), "representative": t.representative,
            "representative_similarity": t.representative_similarity, "updated_seq": updated_seq}} for t in topics]
        hours = {}
        for key, hour in counts:
            hours[(key, _local(hour))] = hours.get((key, _local(hour)), 0) + 1
        actions += [self._count_upsert(key, hour, n) for (key, hour), n in hours.items()]
        helpers.bulk(self.es, actions, refresh="wait_for")
        if assignments:
            self.es.update_by_query(
                index=self._read("tickets"), query={"ids": {"values": [a.ticket_id for a in assignments]}},
                conflicts="proceed", refresh=True,
                script={"lang": "painless", "source": "ctx._source.topic_id = params.topics[ctx._id]",
                        "params": {"topics": {a.ticket_id: a.topic_id for a in assignments}}})
        # members last: a ticket with a member document has been counted (see topic_member_ids)
        self._create([(self._index("topic-members"), a.ticket_id, {
            "ticket_id": a.ticket_id, "topic_id": a.topic_id, "similarity": a.similarity, "duplicate_of": a.duplicate_of,
            "negative": int(a.negative)}) for a in assignments])

    def _count_upsert(self, key: str, hour: str, n: int) -> dict:
        return {"_op_type": "update", "_index": self._index("arrival-counts"), "_id": f"{key}|{hour}",
                "script": {"lang": "painless", "source": "ctx._source.count += params.n", "params": {"n": n}},
                "upsert": {"key": key, "hour": hour, "count": n}}

    def _move_topic(self, old: str, new: str) -> None:
        """What is stored under topic `old` (members, tickets' topic, hourly counts) goes to topic `new`."""
        from elasticsearch import helpers

        script = {"lang": "painless", "source": "ctx._source.topic_id = params.into", "params": {"into": new}}
        for name in ("topic-members", "tickets"):
            self.es.update_by_query(index=self._read(name), query={"term": {"topic_id": old}}, script=script,
                                    conflicts="proceed", refresh=True)
        moved = list(self._scan("arrival-counts", {"term": {"key": topic_key(old)}}, [{"hour": "asc"}]))
        helpers.bulk(self.es, [self._count_upsert(topic_key(new), h["_source"]["hour"], h["_source"]["count"]) for h in moved]
                     + [{"_op_type": "delete", "_index": self._index("arrival-counts"), "_id": h["_id"]} for h in moved]
                     + [{"_op_type": "delete", "_index": self._index("topics"), "_id": old}],
                     refresh="wait_for", ignore_status=404)  # the topic may not have been stored yet

    def topic_member_ids(self, ticket_ids: list[str]) -> set[str]:
        return self._present("topic-members", ticket_ids)

    def near_copies(self, ticket_ids: list[str]) -> dict[str, str]:
        members = self._by_ids("topic-members", ticket_ids, source=["duplicate_of"])
        return {h["_id"]: h["_source"]["duplicate_of"] for h in members if h["_source"].get("duplicate_of")}

    def topic_of(self, ticket_id: str) -> dict | None:
        hits = self._by_ids("topic-members", [ticket_id])
        if not hits:
            return None
        member = dict(hits[0]["_source"])
        topics = self._by_ids("topics", [member["topic_id"]], source=["terms", "size", "representative"])
        topic = topics[0]["_source"] if topics else {}
        titles = self._by_ids("tickets", [topic["representative"]], source=["title"]) if topic else []
        return {**member, "terms": topic.get("terms", {}), "size": topic.get("size"),
                "representative_title": titles[0]["_source"]["title"] if titles else None}

    @staticmethod
    def _topic(source: dict) -> Topic:
        return Topic(source["topic_id"], source["terms"], source["size"], datetime.fromisoformat(source["first_seen"]),
                     datetime.fromisoformat(source["last_seen"]), source["representative"],
                     source["representative_similarity"])

    def recent_topics(self, since: datetime) -> list[Topic]:
        return [self._topic(h["_source"]) for h in self._scan(
            "topics", {"range": {"last_seen": {"gte": _local(since)}}}, [{"topic_id": "asc"}])]

    def arrival_counts(self, since: datetime) -> list[tuple[str, datetime, int]]:
        hits = self._scan("arrival-counts", {"range": {"hour": {"gte": _local(since)}}}, [{"hour": "asc"}, {"key": "asc"}])
        return [(h["_source"]["key"], datetime.fromisoformat(h["_source"]["hour"]), h["_source"]["count"]) for h in hits]

    def recent_segmented(self, since: datetime) -> list[str]:
        hits = self._scan("tickets", {"range": {"received_at": {"gte": _local(since)}}},
                          [{"received_at": "asc"}, {"ticket_id": "asc"}], source=["words"])
        return [h["_source"]["words"] for h in hits]

    def latest_received(self) -> datetime | None:
        hits = self._search("tickets", {"match_all": {}}, sort=[{"received_at": "desc"}], size=1, source=["received_at"])
        return datetime.fromisoformat(hits[0]["_source"]["received_at"]) if hits else None

    def hot_topics(self, since: datetime, limit: int = 200) -> list[dict]:
        """Topics with at least two members received since then, biggest first, with their members."""
        response = self.es.search(
            index=self._read("tickets"), size=0, query={"range": {"received_at": {"gte": _local(since)}}},
            aggs={"topics": {"terms": {"field": "topic_id", "size": limit, "min_doc_count": 2}}},
            ignore_unavailable=True, allow_no_indices=True)
        buckets = response["aggregations"]["topics"]["buckets"]
        topics = {h["_id"]: h["_source"] for h in self._by_ids("topics", [b["key"] for b in buckets])}
        out = []
        fields = ["ticket_id", "received_at", "likes", "district", "domain", "channel", "title"]
        for bucket in buckets:
            topic = topics.get(bucket["key"])
            if topic is None:
                continue
            tickets = [h["_source"] for h in self._scan("tickets", {"term": {"topic_id": bucket["key"]}},
                                                        [{"received_at": "desc"}, {"ticket_id": "asc"}], source=fields)]
            members = {h["_id"]: h["_source"] for h in self._by_ids("topic-members", [t["ticket_id"] for t in tickets])}
            out.append({**{k: v for k, v in topic.items() if k != "label"}, "recent": bucket["doc_count"], "members": [
                {**{f: t.get(f) for f in fields}, **{k: members.get(t["ticket_id"], {}).get(k)
                                                     for k in ("negative", "duplicate_of", "similarity")}}
                for t in tickets]})
        return out

    def volume(self, since: datetime) -> list[dict]:
        """Tickets received since then per hour, domain, channel and district (a composite aggregation)."""
        sources = [
            {"hour": {"date_histogram": {"field": "received_at", "calendar_interval": "hour", "time_zone": "Asia/Shanghai",
                                         "format": "yyyy-MM-dd'T'HH"}}},
            {"domain": {"terms": {"field": "domain", "missing_bucket": True}}},
            {"channel": {"terms": {"field": "channel", "missing_bucket": True}}},
            {"district": {"terms": {"field": "district", "missing_bucket": True}}},
        ]
        out, after = [], None
        while True:
            composite = {"sources": sources, "size": _PAGE, **({"after": after} if after else {})}
            response = self.es.search(index=self._read("tickets"), size=0,
                                      query={"range": {"received_at": {"gte": _local(since)}}},
                                      aggs={"volume": {"composite": composite}},
                                      ignore_unavailable=True, allow_no_indices=True)
            agg = response.get("aggregations", {}).get("volume", {"buckets": []})
            out += [{"hour": b["key"]["hour"], "domain": b["key"]["domain"], "channel": b["key"]["channel"],
                     "district": b["key"]["district"], "count": b["doc_count"]} for b in agg["buckets"]]
            if len(agg["buckets"]) < _PAGE or "after_key" not in agg:
                return out
            after = agg["after_key"]

    def metrics(self, now: datetime) -> dict:
        at, day = _local(now), _local(now + timedelta(days=1))
        open_ = {"terms": {"status": list(OPEN_STATUSES)}}
        response = self.es.search(index=self._read("tickets"), size=0, ignore_unavailable=True, allow_no_indices=True, aggs={
            "tickets": {"composite": {"size": _PAGE, "sources": [{"channel": {"terms": {"field": "channel"}}},
                                                                  {"status": {"terms": {"field": "status"}}}]}},
            "overdue": {"filter": {"bool": {"filter": [open_, {"range": {"reply_due": {"lt": at}}}]}}},
            "due_within_day": {"filter": {"bool": {"filter": [open_, {"range": {"reply_due": {"gte": at, "lt": day}}}]}}},
            "accept_overdue": {"filter": {"bool": {"filter": [{"term": {"status": "dispatched"}},
                                                              {"range": {"accept_due": {"lt": at}}}]}}},
            "confidence": {"histogram": {"field": "confidence", "interval": 0.1}, "aggs": {"sum": {"sum": {"field": "confidence"}}}},
        })
        aggs = response.get("aggregations", {})
        unacknowledged = {"bool": {"must_not": [{"exists": {"field": "acknowledged_at"}}]}}
        return {
            "tickets": [(b["key"]["channel"], b["key"]["status"], b["doc_count"])
                        for b in aggs.get("tickets", {}).get("buckets", [])],
            "events": self._terms("events", "kind"),
            "dead_letters": self._count("rejections"),
            "alerts_open": self._terms("alerts", "kind", unacknowledged) + self._terms("opinion-alerts", "kind", unacknowledged),
            "overdue": aggs.get("overdue", {}).get("doc_count", 0),
            "due_within_day": aggs.get("due_within_day", {}).get("doc_count", 0),
            "accept_overdue": aggs.get("accept_overdue", {}).get("doc_count", 0),
            "confidence": [(round(b["key"] * 10), b["doc_count"], b["sum"]["value"])
                           for b in aggs.get("confidence", {}).get("buckets", []) if b["doc_count"]],
        }

    def write_opinion_alerts(self, surges: list[Surge], raised_at: datetime) -> list[Surge]:
        docs = [(self._index("opinion-alerts"), s.alert_id, {
            "seq": seq, "alert_id": s.alert_id, "kind": s.kind, "key": s.key, "observed": s.observed, "expected": s.expected,
            "p_value": s.p_value, "window_start": _local(s.window_start), "window_end": _local(s.window_end),
            "examples": list(s.examples), "label": s.label, "raised_at": _local(raised_at), "acknowledged_by": None,
            "acknowledged_at": None, "assigned_to": None, "published": False})
            for s, seq in zip(surges, self._seqs(len(surges)))]
        return [surges[i] for i in self._create(docs)]

    def opinion_alerts(self, open_only: bool = False, limit: int = 200, unpublished: bool = False) -> list[dict]:
        filters = [{"term": {"published": False}}] if unpublished else []
        must_not = [{"exists": {"field": "acknowledged_at"}}] if open_only else []
        hits = self._search("opinion-alerts", {"bool": {"filter": filters, "must_not": must_not}},
                            sort=[{"seq": "asc" if unpublished else "desc"}], size=limit)
        return [{**h["_source"], "published": int(h["_source"]["published"])} for h in hits]

    def mark_opinion_alerts_published(self, alert_ids: list[str]) -> None:
        self._update(self._index("opinion-alerts"), [(i, {"published": True}) for i in alert_ids])

    def update_opinion_alert(self, alert_id: str, by: str, at: datetime, assign_to: str | None = None) -> bool:
        from elasticsearch import NotFoundError

        fields = {"acknowledged_by": by, "acknowledged_at": _local(at)} if assign_to is None else {"assigned_to": assign_to}
        try:
            self.es.update(index=self._index("opinion-alerts"), id=alert_id, doc=fields, refresh="wait_for")
        except NotFoundError:
            return False
        return True


# the tickets the centre answers for (hotline.lifecycle.holder): waiting for a dispatcher, or merged while waiting
_AWAITING_FILTER = {"bool": {"should": [{"term": {"status": "pending_review"}}, {"term": {"lead_unit": ""}}],
                             "minimum_should_match": 1}}


def _held_filter(unit: str) -> dict:
    """The tickets a unit answers for now: it leads them and they do not wait for a dispatcher."""
    return {"bool": {"filter": [{"term": {"lead_unit": unit}}], "must_not": [{"term": {"status": "pending_review"}}]}}


def _unit_filter(unit: str) -> dict:
    """The tickets dispatched to a unit, as lead or co-unit (not those waiting for a dispatcher)."""
    return {"bool": {"should": [{"term": {"lead_unit": unit}}, {"term": {"co_units": unit}}], "minimum_should_match": 1,
                     "must_not": [{"term": {"status": "pending_review"}}]}}
