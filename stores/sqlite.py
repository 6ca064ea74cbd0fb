"""The embedded default store: one SQLite file in WAL mode, FTS5 over the segmented text."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from hotline.alerts import Alert, still_applies
from hotline.surges import Surge, topic_key
from hotline.topics import Assignment, Merge, Topic
from hotline.lifecycle import AWAITING_DISPATCH, OPEN_STATUSES, STATE_FIELDS, Lifecycle, TransitionError, state_of
from hotline.models import DispatchedTicket, Rejection, TicketEvent
from hotline.timestamps import SHANGHAI
from stores.base import FILTERS, TICKET_FIELDS, TicketQuery

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    source_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_at_source TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    caller TEXT,
    phone TEXT,
    district TEXT,
    ticket_type TEXT,
    ticket_type_source TEXT,
    urgency TEXT NOT NULL,
    likes INTEGER,
    content_hash TEXT NOT NULL,
    domain TEXT NOT NULL,
    confidence REAL NOT NULL,
    top TEXT NOT NULL,
    model_version TEXT NOT NULL,
    type_confidence REAL,
    lead_unit TEXT NOT NULL,
    co_units TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    routing_explanation TEXT NOT NULL,
    status TEXT NOT NULL,
    personal TEXT NOT NULL,
    returns INTEGER NOT NULL DEFAULT 0,
    returned_by TEXT NOT NULL DEFAULT '[]',
    last_return_reason TEXT,
    flagged TEXT,
    corrected INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT,
    accept_due TEXT,
    reply_due TEXT,
    deadline_policy TEXT,
    deadline_warnings TEXT NOT NULL DEFAULT '[]',
    subdomain TEXT,
    accepted_at TEXT,
    replied_at TEXT,
    reply_seconds REAL,
    reply_working_days REAL,
    on_time INTEGER,
    paused_since TEXT,
    paused_hours REAL NOT NULL DEFAULT 0,
    extension_pending INTEGER,
    extensions INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT,
    satisfaction TEXT,
    reopened INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT,
    callback_due TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    accepted_on_time INTEGER,
    urged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tickets_received ON tickets(received_at);
CREATE INDEX IF NOT EXISTS tickets_domain ON tickets(domain);
CREATE INDEX IF NOT EXISTS tickets_unit ON tickets(lead_unit);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status);
CREATE INDEX IF NOT EXISTS tickets_reply_due ON tickets(reply_due);
CREATE VIRTUAL TABLE IF NOT EXISTS ticket_words USING fts5(words, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS ticket_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_events_ticket ON ticket_events(ticket_id);
CREATE TABLE IF NOT EXISTS corrections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    domain TEXT NOT NULL,
    predicted_domain TEXT NOT NULL,
    lead_unit TEXT NOT NULL,
    predicted_unit TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    level INTEGER NOT NULL,
    to_whom TEXT NOT NULL,
    unit TEXT NOT NULL,
    reply_due TEXT NOT NULL,
    due_at TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    message TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_ticket ON alerts(ticket_id);
CREATE INDEX IF NOT EXISTS alerts_unpublished ON alerts(published) WHERE published = 0;
CREATE TABLE IF NOT EXISTS topics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id TEXT NOT NULL UNIQUE,
    terms TEXT NOT NULL,
    size INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    representative TEXT NOT NULL,
    representative_similarity REAL NOT NULL,
    updated_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS topics_last_seen ON topics(last_seen);
CREATE TABLE IF NOT EXISTS topic_members (
    ticket_id TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL,
    similarity REAL NOT NULL,
    duplicate_of TEXT,
    negative INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS topic_members_topic ON topic_members(topic_id);
CREATE TABLE IF NOT EXISTS arrival_counts (
    key TEXT NOT NULL,
    hour TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, hour)
);
CREATE TABLE IF NOT EXISTS opinion_alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    observed INTEGER NOT NULL,
    expected REAL NOT NULL,
    p_value REAL NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    examples TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    raised_at TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    assigned_to TEXT,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rejection_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_encoding TEXT NOT NULL,
    payload_size INTEGER NOT NULL,
    payload_truncated INTEGER NOT NULL,
    rejected_at TEXT NOT NULL,
    resent_as TEXT,
    resent_by TEXT,
    resent_at TEXT
);
"""

_JSON_COLUMNS = ("top", "co_units", "personal", "deadline_warnings", "returned_by", "late_acceptances")
# the tickets dispatched to a unit, as lead or co-unit (two parameters: the unit, twice); one waiting for a
# dispatcher is not with any unit yet, whatever its suggestion (or the unit that returned it) says
_HELD_CLAUSE = "(t.status != 'pending_review' AND t.lead_unit = ?)"  # the tickets a unit answers for now
# the tickets the centre answers for (hotline.lifecycle.holder): waiting for a dispatcher, or merged while waiting
_AWAITING_CLAUSE = "(t.status = 'pending_review' OR t.lead_unit = '')"
_UNIT_CLAUSE = ("(t.status != 'pending_review' AND "
                "(t.lead_unit = ? OR EXISTS (SELECT 1 FROM json_each(t.co_units) WHERE value = ?)))")
# Columns added after the first version of the schema: (name, type) for ALTER TABLE.
MIGRATIONS = (
    ("ticket_type_source", "TEXT"), ("type_confidence", "REAL"), ("returns", "INTEGER NOT NULL DEFAULT 0"),
    ("last_return_reason", "TEXT"), ("flagged", "TEXT"), ("corrected", "INTEGER NOT NULL DEFAULT 0"),
    ("updated_at", "TEXT"), ("accept_due", "TEXT"), ("reply_due", "TEXT"), ("deadline_policy", "TEXT"),
    ("deadline_warnings", "TEXT NOT NULL DEFAULT '[]'"), ("subdomain", "TEXT"), ("accepted_at", "TEXT"),
    ("replied_at", "TEXT"), ("reply_seconds", "REAL"), ("reply_working_days", "REAL"), ("on_time", "INTEGER"),
    ("paused_since", "TEXT"), ("paused_hours", "REAL NOT NULL DEFAULT 0"), ("extension_pending", "INTEGER"),
    ("extensions", "INTEGER NOT NULL DEFAULT 0"), ("closed_at", "TEXT"), ("satisfaction", "TEXT"),
    ("reopened", "INTEGER NOT NULL DEFAULT 0"), ("merged_into", "TEXT"), ("returned_by", "TEXT NOT NULL DEFAULT '[]'"),
    ("callback_due", "TEXT"), ("callback_attempts", "INTEGER NOT NULL DEFAULT 0"), ("accepted_on_time", "INTEGER"),
    ("urged", "INTEGER NOT NULL DEFAULT 0"), ("late_acceptances", "TEXT NOT NULL DEFAULT '[]'"),
    ("watch_at", "TEXT NOT NULL DEFAULT ''"),  # the deadline watch's next look: '' now, _NEVER never
)
_NEVER = "9999-12-31"  # a watch_at after every moment (moments are ISO 8601 text, compared as text)
# Columns added to the dead letters after the first version: a person's corrected record sent again.
REJECTION_MIGRATIONS = (("resent_as", "TEXT"), ("resent_by", "TEXT"), ("resent_at", "TEXT"))
# Ticket fields the lifecycle changes (hotline.lifecycle.DispatchState less what intake sets).
_EVENT_COLUMNS = tuple(f for f in STATE_FIELDS if f not in ("received_at", "ticket_type", "urgency"))


def _column_value(value):
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return _json(list(value))
    return value


# json.dumps makes an encoder for every call with options; one made once writes the same text
_json = json.JSONEncoder(ensure_ascii=False).encode


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


# TicketQuery.order: newest stored first; earliest reply deadline first (those without one last; of one
# deadline, the earliest received first); earliest acceptance deadline first (likewise); earliest callback
# deadline first (then the earliest replied)
_ORDER_BY = {"newest": "t.seq DESC", "due": "t.reply_due IS NULL, t.reply_due, t.received_at, t.seq",
             "accept": "t.accept_due IS NULL, t.accept_due, t.received_at, t.seq",
             "callback": "t.callback_due IS NULL, t.callback_due, t.replied_at, t.seq"}

class SQLiteStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self._connect()
        db.executescript(SCHEMA)
        self._migrate(db)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Add the columns a store file made by an earlier version lacks."""
        for table, added in (("tickets", MIGRATIONS), ("rejections", REJECTION_MIGRATIONS)):
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column, kind in added:
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        db.execute("CREATE INDEX IF NOT EXISTS tickets_callback_due ON tickets(callback_due) WHERE callback_due IS NOT NULL")
        db.execute("CREATE INDEX IF NOT EXISTS tickets_merged_into ON tickets(merged_into) WHERE merged_into IS NOT NULL")
        db.execute("CREATE INDEX IF NOT EXISTS tickets_watch_at ON tickets(watch_at)")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writes ---------------------------------------------------------------------------------
    def write_tickets(self, tickets: list[DispatchedTicket]) -> int:
        if not tickets:
            return 0
        db = self._connect()
        now = _local(datetime.now(SHANGHAI))
        new = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for t in tickets:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO tickets (ticket_id, channel, source_id, received_at,
                    received_at_source, ingested_at, stored_at, title, text, caller, phone, district,
                    ticket_type, ticket_type_source, urgency, likes, content_hash, domain, confidence, top,
                    model_version, type_confidence, lead_unit, co_units, rule_id, routing_explanation, status,
                    personal, accept_due, reply_due, deadline_policy, deadline_warnings, subdomain)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        t.ticket_id, t.channel, t.source_id, _local(t.received_at), t.received_at_source,
                        _local(t.ingested_at), now, t.title, t.text, t.caller, t.phone, t.district,
                        t.ticket_type, t.ticket_type_source, t.urgency, t.likes, t.content_hash, t.domain,
                        t.confidence, _json(t.top), t.model_version, t.type_confidence,
                        t.lead_unit,
                        _json(t.co_units), t.rule_id, t.routing_explanation,
                        t.status, t.personal.model_dump_json(),
                        _local(t.accept_due) if t.accept_due else None,
                        _local(t.reply_due) if t.reply_due else None,
                        t.deadline_policy, _json(t.deadline_warnings), t.subdomain,
                    ),
                )
                if cursor.rowcount:
                    new += 1
                    db.execute("INSERT INTO ticket_words(rowid, words) VALUES (?, ?)", (cursor.lastrowid, t.segmented))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    def write_rejections(self, rejections: list[Rejection]) -> int:
        if not rejections:
            return 0
        db = self._connect()
        new = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for r in rejections:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO rejections (rejection_id, channel, source_ref, stage, reason,
                    payload, payload_encoding, payload_size, payload_truncated, rejected_at)
                    VALUES (?,?,?,?,?,?,?,?,?,?)""",
                    (r.rejection_id, r.channel, r.source_ref, r.stage, r.reason, r.payload,
                     r.payload_encoding, r.payload_size, int(r.payload_truncated), _local(r.rejected_at)),
                )
                new += cursor.rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    # -- reads ----------------------------------------------------------------------------------
    @staticmethod
    def _ticket(row: sqlite3.Row, fields: tuple[str, ...] | None = None) -> dict:
        record = dict(row)
        record.pop("watch_at", None)  # the deadline watch's own bookkeeping, not a ticket's field
        if fields and "seq" not in fields:
            del record["seq"]  # read for paging (iter_tickets): the fields asked for are the other columns
        for column in _JSON_COLUMNS:
            if column in record:  # most lists are empty: not parsed (a figure reads every ticket of a period)
                record[column] = [] if record[column] == "[]" else json.loads(record[column])
        if "top" in record:
            record["top"] = [tuple(pair) for pair in record["top"]]
        if "corrected" in record:
            record["corrected"] = bool(record["corrected"])
        for flag in ("on_time", "accepted_on_time"):
            if record.get(flag) is not None:
                record[flag] = bool(record[flag])
        return record

    # -- ticket events --------------------------------------------------------------------------
    def apply_event(self, event: TicketEvent, lifecycle: Lifecycle) -> tuple[str, str]:
        """Apply a ticket event: ("applied", ""), ("duplicate", "") or ("refused", reason)."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM ticket_events WHERE event_id = ?", (event.event_id,)).fetchone():
                db.execute("ROLLBACK")
                return "duplicate", ""
            row = db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (event.ticket_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return "refused", f"no ticket {event.ticket_id}"
            ticket = self._ticket(row)
            state = state_of(ticket)
            try:
                new = lifecycle.apply(state, event)
            except TransitionError as exc:
                db.execute("ROLLBACK")
                return "refused", str(exc)
            at = _local(event.at)
            db.execute(
                "INSERT INTO ticket_events (event_id, ticket_id, kind, at, actor, data) VALUES (?,?,?,?,?,?)",
                (event.event_id, event.ticket_id, event.kind, at, event.actor, _json(event.data)),
            )
            subdomain = event.data.get("subdomain") if event.kind == "dispatched" else ticket["subdomain"]
            assignments = ", ".join(f"{c}=?" for c in _EVENT_COLUMNS)
            db.execute(
                f"UPDATE tickets SET {assignments}, subdomain=?, updated_at=?, watch_at='' WHERE ticket_id=?",
                (*(_column_value(getattr(new, c)) for c in _EVENT_COLUMNS), subdomain, at, event.ticket_id),
            )
            if event.kind == "dispatched" and (new.domain != state.domain or new.lead_unit != state.lead_unit):
                db.execute(
                    """INSERT INTO corrections (event_id, ticket_id, title, text, domain, predicted_domain,
                    lead_unit, predicted_unit, actor, at) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                    (event.event_id, event.ticket_id, ticket["title"], ticket["text"], new.domain, state.domain,
                     new.lead_unit, state.lead_unit, event.actor, at),
                )
            db.execute("COMMIT")
            return "applied", ""
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def ticket_events(self, ticket_id: str) -> list[dict]:
        rows = self._connect().execute(
            "SELECT event_id, ticket_id, kind, at, actor, data FROM ticket_events WHERE ticket_id = ? ORDER BY seq",
            (ticket_id,),
        ).fetchall()
        return [{**dict(r), "data": json.loads(r["data"])} for r in rows]

    def events_by_ticket(self, ticket_ids: list[str]) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        db = self._connect()
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start:start + 500]
            rows = db.execute(
                f"""SELECT event_id, ticket_id, kind, at, actor, data FROM ticket_events
                WHERE ticket_id IN ({",".join("?" * len(chunk))}) ORDER BY seq""", chunk,
            ).fetchall()
            for r in rows:
                found.setdefault(r["ticket_id"], []).append({**dict(r), "data": json.loads(r["data"])})
        return found

    def corrections(self) -> list[dict]:
        """Dispatchers' corrections, the latest per ticket: labelled examples for training."""
        rows = self._connect().execute(
            """SELECT * FROM corrections WHERE seq IN (SELECT max(seq) FROM corrections GROUP BY ticket_id)
            ORDER BY seq"""
        ).fetchall()
        return [dict(r) for r in rows]

    def tickets_to_watch(self, due_since: datetime, due_before: datetime, now: datetime | None) -> list[dict]:
        since, before = _local(due_since), _local(due_before)
        # by the index on watch_at when the next look counts: without it SQLite reads every open ticket by status
        source, due = ("tickets", "") if now is None else ("tickets INDEXED BY tickets_watch_at", "watch_at <= ? AND")
        rows = self._connect().execute(
            f"""SELECT ticket_id, status, lead_unit, reply_due, accept_due FROM {source}
            WHERE {due} status IN ({",".join("?" * len(OPEN_STATUSES))})
            AND ((reply_due >= ? AND reply_due < ?) OR (status = 'dispatched' AND accept_due >= ? AND accept_due < ?))
            ORDER BY reply_due""", (*([] if now is None else [_local(now)]), *OPEN_STATUSES, since, before, since, before),
        ).fetchall()
        return [dict(r) for r in rows]

    def set_watch_at(self, looks: list[tuple[dict, datetime | None]]) -> None:
        # only where the ticket is still as it was read (an event since sets watch_at to '')
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                """UPDATE tickets SET watch_at = ? WHERE ticket_id = ? AND status = ? AND lead_unit IS ?
                AND reply_due IS ? AND accept_due IS ?""",
                [(_NEVER if at is None else _local(at), t["ticket_id"], t["status"], t["lead_unit"], t["reply_due"],
                  t["accept_due"]) for t, at in looks])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- alerts ---------------------------------------------------------------------------------
    def write_alerts(self, alerts: list[Alert]) -> list[Alert]:
        """Keep alerts not kept before (by alert id); returns those that are new."""
        if not alerts:
            return []
        db = self._connect()
        new = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for a in alerts:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO alerts (alert_id, ticket_id, kind, level, to_whom, unit, reply_due, due_at,
                    raised_at, message) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                    (a.alert_id, a.ticket_id, a.kind, a.level, a.to, a.unit, _local(a.reply_due), _local(a.due_at),
                     _local(a.raised_at), a.message),
                )
                if cursor.rowcount:
                    new.append(a)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    def alerts(self, ticket_id: str | None = None, open_at: datetime | None = None, limit: int = 500,
               unit: str | None = None, to: str | None = None) -> list[dict]:
        where, args = [], []
        if to is not None:
            where.append("a.to_whom = ?")
            args.append(to)
        if ticket_id is not None:
            where.append("a.ticket_id = ?")
            args.append(ticket_id)
        if unit is not None:
            where.append("a.unit = ?")
            args.append(unit)
        if open_at is not None:
            where.append(f"a.acknowledged_at IS NULL AND t.status IN ({','.join('?' * len(OPEN_STATUSES))})")
            args.extend(OPEN_STATUSES)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._connect().execute(
            f"""SELECT a.*, t.title AS title, t.status AS status, t.lead_unit AS lead_unit, t.reply_due AS ticket_reply_due,
            t.accept_due AS ticket_accept_due FROM alerts a JOIN tickets t USING (ticket_id) {clause} ORDER BY a.seq DESC""", args)
        out = []
        for row in rows:  # open ones are few: those of open tickets not yet acknowledged
            alert = {**dict(row), "to": row["to_whom"]}
            ticket = {"status": alert["status"], "lead_unit": alert.pop("lead_unit"),
                      "reply_due": alert.pop("ticket_reply_due"), "accept_due": alert.pop("ticket_accept_due")}
            if open_at is None or still_applies(alert, ticket, open_at):
                out.append(alert)
                if len(out) == limit:
                    break
        return out

    def unpublished_alerts(self, limit: int = 1000) -> list[Alert]:
        """Alerts kept but not yet confirmed on the alerts topic (the outbox), oldest first."""
        rows = self._connect().execute(
            "SELECT * FROM alerts WHERE published = 0 ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Alert(alert_id=r["alert_id"], ticket_id=r["ticket_id"], kind=r["kind"], level=r["level"], to=r["to_whom"],
                      unit=r["unit"], reply_due=r["reply_due"], due_at=r["due_at"], raised_at=r["raised_at"],
                      message=r["message"]) for r in rows]

    def mark_alerts_published(self, alert_ids: list[str]) -> None:
        db = self._connect()
        for start in range(0, len(alert_ids), 500):
            chunk = alert_ids[start:start + 500]
            db.execute(f"UPDATE alerts SET published = 1 WHERE alert_id IN ({','.join('?' * len(chunk))})", chunk)

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        cursor = self._connect().execute(
            "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_id = ? AND acknowledged_at IS NULL",
            (by, _local(at), alert_id),
        )
        return cursor.rowcount == 1

    # -- opinion monitoring: topics, arrival counts, surge alerts --------------------------------
    def write_topics(self, assignments: list[Assignment], topics: list[Topic], counts: list[tuple[str, datetime]],
                     merges: list[Merge] = ()) -> None:
        """Keep a batch's topic assignments, the topics they touched and the hourly arrival counts, then apply
        the batch's topic merges in order (members and counts move to the topic kept), at once."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR IGNORE INTO topic_members (ticket_id, topic_id, similarity, duplicate_of, negative) VALUES (?,?,?,?,?)",
                [(a.ticket_id, a.topic_id, a.similarity, a.duplicate_of, int(a.negative)) for a in assignments])
            latest = db.execute("SELECT coalesce(max(updated_seq), 0) FROM topics").fetchone()[0]
            db.executemany(
                """INSERT INTO topics (topic_id, terms, size, first_seen, last_seen, representative, representative_similarity,
                updated_seq) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(topic_id) DO UPDATE SET terms=excluded.terms,
                size=excluded.size, first_seen=excluded.first_seen, last_seen=excluded.last_seen,
                representative=excluded.representative, representative_similarity=excluded.representative_similarity,
                updated_seq=excluded.updated_seq""",
                [(t.topic_id, _json(t.centroid), t.size, _local(t.first_seen), _local(t.last_seen),
                  t.representative, t.representative_similarity, latest + 1) for t in topics])
            db.executemany(
                """INSERT INTO arrival_counts (key, hour, count) VALUES (?,?,1)
                ON CONFLICT(key, hour) DO UPDATE SET count = count + 1""",
                [(key, _local(hour)) for key, hour in counts])
            for merge in merges:
                db.execute("UPDATE topic_members SET topic_id = ? WHERE topic_id = ?", (merge.into, merge.topic_id))
                db.execute("DELETE FROM topics WHERE topic_id = ?", (merge.topic_id,))
                db.execute(
                    """INSERT INTO arrival_counts (key, hour, count) SELECT ?, hour, count FROM arrival_counts WHERE key = ?
                    ON CONFLICT(key, hour) DO UPDATE SET count = count + excluded.count""",
                    (topic_key(merge.into), topic_key(merge.topic_id)))
                db.execute("DELETE FROM arrival_counts WHERE key = ?", (topic_key(merge.topic_id),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def recent_topics(self, since: datetime) -> list[Topic]:
        rows = self._connect().execute("SELECT * FROM topics WHERE last_seen >= ?", (_local(since),)).fetchall()
        return [Topic(r["topic_id"], json.loads(r["terms"]), r["size"], datetime.fromisoformat(r["first_seen"]),
                      datetime.fromisoformat(r["last_seen"]), r["representative"], r["representative_similarity"])
                for r in rows]

    def arrival_counts(self, since: datetime) -> list[tuple[str, datetime, int]]:
        rows = self._connect().execute("SELECT key, hour, count FROM arrival_counts WHERE hour >= ?", (_local(since),))
        return [(r[0], datetime.fromisoformat(r[1]), r[2]) for r in rows]

    def recent_segmented(self, since: datetime) -> list[str]:
        """Segmented texts of tickets received since then (to relearn document frequencies)."""
        rows = self._connect().execute(
            "SELECT w.words FROM tickets t JOIN ticket_words w ON w.rowid = t.seq WHERE t.received_at >= ?",
            (_local(since),))
        return [r[0] for r in rows]

    def latest_received(self) -> datetime | None:
        row = self._connect().execute("SELECT max(received_at) FROM tickets").fetchone()
        return datetime.fromisoformat(row[0]) if row[0] else None

    def hot_topics(self, since: datetime, limit: int = 200) -> list[dict]:
        """Topics with members received since then, biggest first, with those members (received_at, likes,
        district, negative, domain, channel, title)."""
        db = self._connect()
        topics = db.execute(
            """SELECT tp.*, count(*) AS recent FROM topics tp JOIN topic_members m ON m.topic_id = tp.topic_id
            JOIN tickets t ON t.ticket_id = m.ticket_id WHERE t.received_at >= ?
            GROUP BY tp.topic_id HAVING recent >= 2 ORDER BY recent DESC LIMIT ?""", (_local(since), limit)).fetchall()
        out = []
        for topic in topics:
            members = db.execute(
                """SELECT t.ticket_id, t.received_at, t.likes, t.district, t.domain, t.channel, t.title, m.negative,
                m.duplicate_of, m.similarity FROM topic_members m JOIN tickets t ON t.ticket_id = m.ticket_id
                WHERE m.topic_id = ? ORDER BY t.received_at DESC""", (topic["topic_id"],)).fetchall()
            out.append({**dict(topic), "terms": json.loads(topic["terms"]), "members": [dict(m) for m in members]})
        return out

    def volume(self, since: datetime) -> list[dict]:
        """Tickets received since then per hour, domain, channel and district (for the monitors' charts)."""
        rows = self._connect().execute(
            """SELECT substr(received_at, 1, 13) AS hour, domain, channel, district, count(*) AS count FROM tickets
            WHERE received_at >= ? GROUP BY hour, domain, channel, district ORDER BY hour""", (_local(since),))
        return [dict(r) for r in rows]

    def metrics(self, now: datetime) -> dict:
        """Counts for monitoring (/metrics): tickets by channel and status, events by kind, dead letters, open
        alerts, open tickets overdue or due within a day, dispatched tickets not accepted by their acceptance
        deadline, and the classifier's confidence distribution."""
        db = self._connect()
        at, day = _local(now), _local(now + timedelta(days=1))
        open_marks = ",".join("?" * len(OPEN_STATUSES))
        return {
            "tickets": [tuple(r) for r in db.execute("SELECT channel, status, count(*) FROM tickets GROUP BY channel, status")],
            "events": [tuple(r) for r in db.execute("SELECT kind, count(*) FROM ticket_events GROUP BY kind")],
            "dead_letters": db.execute("SELECT count(*) FROM rejections").fetchone()[0],
            "alerts_open": [tuple(r) for r in db.execute(
                "SELECT kind, count(*) FROM alerts WHERE acknowledged_at IS NULL GROUP BY kind")]
            + [tuple(r) for r in db.execute(
                "SELECT kind, count(*) FROM opinion_alerts WHERE acknowledged_at IS NULL GROUP BY kind")],
            "overdue": db.execute(f"SELECT count(*) FROM tickets WHERE status IN ({open_marks}) AND reply_due < ?",
                                  (*OPEN_STATUSES, at)).fetchone()[0],
            "due_within_day": db.execute(
                f"SELECT count(*) FROM tickets WHERE status IN ({open_marks}) AND reply_due >= ? AND reply_due < ?",
                (*OPEN_STATUSES, at, day)).fetchone()[0],
            "accept_overdue": db.execute(  # hotline.statistics.accept_overdue
                "SELECT count(*) FROM tickets WHERE status = 'dispatched' AND accept_due < ?", (at,)).fetchone()[0],
            "confidence": [tuple(r) for r in db.execute(
                "SELECT CAST(confidence * 10 AS INTEGER), count(*), sum(confidence) FROM tickets GROUP BY 1")],
        }

    def topic_of(self, ticket_id: str) -> dict | None:
        row = self._connect().execute(
            """SELECT m.*, tp.terms, tp.size, t.title AS representative_title FROM topic_members m
            LEFT JOIN topics tp ON tp.topic_id = m.topic_id LEFT JOIN tickets t ON t.ticket_id = tp.representative
            WHERE m.ticket_id = ?""", (ticket_id,)).fetchone()
        return {**dict(row), "terms": json.loads(row["terms"] or "{}")} if row else None

    def write_opinion_alerts(self, surges: list[Surge], raised_at: datetime) -> list[Surge]:
        if not surges:
            return []
        db = self._connect()
        new = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for s in surges:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO opinion_alerts (alert_id, kind, key, observed, expected, p_value, window_start,
                    window_end, examples, label, raised_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    (s.alert_id, s.kind, s.key, s.observed, s.expected, s.p_value, _local(s.window_start),
                     _local(s.window_end), json.dumps(list(s.examples)), s.label, _local(raised_at)))
                if cursor.rowcount:
                    new.append(s)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    def opinion_alerts(self, open_only: bool = False, limit: int = 200, unpublished: bool = False) -> list[dict]:
        where = []
        if open_only:
            where.append("acknowledged_at IS NULL")
        if unpublished:
            where.append("published = 0")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "seq" if unpublished else "seq DESC"
        rows = self._connect().execute(f"SELECT * FROM opinion_alerts {clause} ORDER BY {order} LIMIT ?", (limit,))
        return [{**dict(r), "examples": json.loads(r["examples"])} for r in rows]

    def mark_opinion_alerts_published(self, alert_ids: list[str]) -> None:
        db = self._connect()
        for start in range(0, len(alert_ids), 500):
            chunk = alert_ids[start:start + 500]
            db.execute(f"UPDATE opinion_alerts SET published = 1 WHERE alert_id IN ({','.join('?' * len(chunk))})", chunk)

    def update_opinion_alert(self, alert_id: str, by: str, at: datetime, assign_to: str | None = None) -> bool:
        """Acknowledge (assign_to None) or assign an opinion alert; False if there is no such alert."""
        db = self._connect()
        if assign_to is None:
            cursor = db.execute("UPDATE opinion_alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_id = ?",
                                (by, _local(at), alert_id))
        else:
            cursor = db.execute("UPDATE opinion_alerts SET assigned_to = ? WHERE alert_id = ?", (assign_to, alert_id))
        return cursor.rowcount == 1

    def queue(self, limit: int = 100) -> list[dict]:
        """Tickets waiting for a dispatcher: flagged ones first, then the oldest."""
        rows = self._connect().execute(
            """SELECT * FROM tickets WHERE status = 'pending_review'
            ORDER BY flagged IS NULL, received_at, seq LIMIT ?""", (limit,),
        ).fetchall()
        return [self._ticket(r) for r in rows]

    def similar(self, ticket_id: str, words: list[str], limit: int = 5) -> list[dict]:
        """Tickets that went to a unit (dispatched, and since handled or not) sharing the most telling of these
        words, best match first."""
        words = [w for w in dict.fromkeys(words) if len(w) > 1][:24]
        if not words:
            return []
        rows = self._connect().execute(
            f"""SELECT t.* FROM ticket_words w JOIN tickets t ON t.seq = w.rowid
            WHERE ticket_words MATCH ? AND t.ticket_id != ? AND NOT {_AWAITING_CLAUSE}
            ORDER BY bm25(ticket_words) LIMIT ?""",
            (" OR ".join(_fts_phrase(w) for w in words), ticket_id, limit),
        ).fetchall()
        return [self._ticket(r) for r in rows]

    def segmented_text(self, ticket_id: str) -> str:
        row = self._connect().execute(
            "SELECT w.words FROM ticket_words w JOIN tickets t ON t.seq = w.rowid WHERE t.ticket_id = ?", (ticket_id,)
        ).fetchone()
        return row[0] if row else ""

    @staticmethod
    def _rejection(row: sqlite3.Row) -> dict:
        record = dict(row)
        record["payload_truncated"] = bool(record["payload_truncated"])
        return record

    def content_hashes(self, ticket_ids: list[str]) -> dict[str, str]:
        found = {}
        db = self._connect()
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT ticket_id, content_hash FROM tickets WHERE ticket_id IN ({marks})", chunk):
                found[row[0]] = row[1]
        return found

    def topic_member_ids(self, ticket_ids: list[str]) -> set[str]:
        """Those of these tickets the opinion monitor has already counted (they have a topic)."""
        return self._present("topic_members", "ticket_id", ticket_ids)

    def near_copies(self, ticket_ids: list[str]) -> dict[str, str]:
        found = {}
        db = self._connect()
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start:start + 500]
            found.update(db.execute(f"""SELECT ticket_id, duplicate_of FROM topic_members
                WHERE duplicate_of IS NOT NULL AND ticket_id IN ({",".join("?" * len(chunk))})""", chunk).fetchall())
        return found

    def stored_event_ids(self, event_ids: list[str]) -> set[str]:
        return self._present("ticket_events", "event_id", event_ids)

    def stored_rejection_ids(self, rejection_ids: list[str]) -> set[str]:
        return self._present("rejections", "rejection_id", rejection_ids)

    def _present(self, table: str, column: str, ids: list[str]) -> set[str]:
        """Those of `ids` found in table.column, asked 500 at a time."""
        found = set()
        db = self._connect()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in db.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk))
        return found

    def get_ticket(self, ticket_id: str) -> dict | None:
        row = self._connect().execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
        return self._ticket(row) if row else None

    @staticmethod
    def _where(query: TicketQuery) -> tuple[str, list]:
        """The WHERE clause (over `tickets t`) of the tickets a query selects, and its parameters."""
        where, params = [], []
        for name, value in query.filters().items():
            where.append(f"t.{name} = ?")
            params.append(value)
        if query.unit is not None:
            where.append(_UNIT_CLAUSE)
            params += [query.unit, query.unit]
        if query.held_by == AWAITING_DISPATCH:
            where.append(_AWAITING_CLAUSE)
        elif query.held_by is not None:
            where.append(_HELD_CLAUSE)
            params.append(query.held_by)
        if query.figures_of is not None:
            where.append(f"({_HELD_CLAUSE} OR EXISTS (SELECT 1 FROM json_each(t.returned_by) WHERE value = ?)"
                         " OR EXISTS (SELECT 1 FROM json_each(t.late_acceptances) WHERE value = ?))")
            params += [query.figures_of] * 3
        if query.topic is not None:
            where.append("t.ticket_id IN (SELECT ticket_id FROM topic_members WHERE topic_id = ?)")
            params.append(query.topic)
        if query.alert is not None:
            where.append("t.ticket_id IN (SELECT e.value FROM opinion_alerts a, json_each(a.examples) e WHERE a.alert_id = ?)")
            params.append(query.alert)
        if query.merged_into:
            where.append(f"t.merged_into IN ({','.join('?' * len(query.merged_into))})")
            params += list(query.merged_into)
        if query.overdue_at is not None:
            where.append(f"t.status IN ({','.join('?' * len(OPEN_STATUSES))}) AND t.reply_due < ?")
            params += [*OPEN_STATUSES, _local(query.overdue_at)]
        if query.awaiting_callback:
            where.append("t.callback_due IS NOT NULL")
        if query.callback_given_up:  # hotline.lifecycle.callback_given_up
            where.append("t.status IN ('replied', 'closed') AND t.callback_due IS NULL AND t.callback_attempts > 0")
        if query.accepted_late_at is not None:  # hotline.statistics.late_to_accept
            late_now = "(t.accepted_on_time = 0 OR (t.status = 'dispatched' AND t.accept_due < ?))"
            if query.accepted_late_by is None:
                where.append(f"({late_now} OR t.late_acceptances != '[]')")
                params.append(_local(query.accepted_late_at))
            else:
                where.append(f"(({_HELD_CLAUSE} AND {late_now})"
                             " OR EXISTS (SELECT 1 FROM json_each(t.late_acceptances) WHERE value = ?))")
                params += [query.accepted_late_by, _local(query.accepted_late_at), query.accepted_late_by]
        if query.replied:
            where.append("t.replied_at IS NOT NULL")
        if query.called_back:
            where.append("t.satisfaction IS NOT NULL")  # one of hotline.lifecycle.SATISFACTION, or none
        if query.reopened:
            where.append("t.reopened > 0")
        if query.urged:
            where.append("t.urged > 0")
        if query.open:
            where.append(f"t.status IN ({','.join('?' * len(OPEN_STATUSES))})")
            params += list(OPEN_STATUSES)
        if query.returned:
            where.append("t.returns > 0")
        if query.returned_by is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(t.returned_by) WHERE value = ?)")
            params.append(query.returned_by)
        if query.received.start is not None:
            where.append("t.received_at >= ?")
            params.append(_local(query.received.start))
        if query.received.end is not None:
            where.append("t.received_at < ?")
            params.append(_local(query.received.end))
        if query.after_seq is not None:
            where.append("t.seq > ?")
            params.append(query.after_seq)
        words = [w for w in query.words if w.strip()]
        if words:
            where.append("t.seq IN (SELECT rowid FROM ticket_words WHERE ticket_words MATCH ?)")
            params.append(" AND ".join(_fts_phrase(w) for w in words))
        return (("WHERE " + " AND ".join(where)) if where else ""), params

    def search(self, query: TicketQuery) -> tuple[list[dict], int]:
        """The page of tickets the query selects, in its order, and how many it selects."""
        clause, params = self._where(query)
        db = self._connect()
        total = db.execute(f"SELECT count(*) FROM tickets t {clause}", params).fetchone()[0]
        rows = db.execute(
            f"SELECT t.* FROM tickets t {clause} ORDER BY {_ORDER_BY[query.order]} LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        ).fetchall()
        return [self._ticket(r) for r in rows], total

    def facets(self, query: TicketQuery | None = None) -> dict[str, dict[str, int]]:
        db = self._connect()
        out = {}
        for name in FILTERS:
            clause, params = self._where(replace(query or TicketQuery(), **{name: None}))
            rows = db.execute(
                f"SELECT t.{name}, count(*) FROM tickets t {clause} {'AND' if clause else 'WHERE'} t.{name} IS NOT NULL "
                f"GROUP BY t.{name} ORDER BY count(*) DESC", params,
            ).fetchall()
            out[name] = {row[0]: row[1] for row in rows}
        return out

    def _iterate(self, table: str, convert) -> Iterator[dict]:
        """Every row of a table in stored order, read a thousand at a time."""
        last = 0
        while True:
            rows = self._connect().execute(f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT 1000", (last,)).fetchall()
            if not rows:
                return
            for row in rows:
                yield convert(row)
            last = rows[-1]["seq"]

    def iter_tickets(self, query: TicketQuery | None = None, fields: tuple[str, ...] | None = None) -> Iterator[dict]:
        clause, params = self._where(query or TicketQuery())
        unknown = set(fields or ()) - set(TICKET_FIELDS)
        if unknown:
            raise ValueError(f"no such ticket fields: {', '.join(sorted(unknown))}")
        columns = ", ".join(f"t.{name}" for name in dict.fromkeys(("seq", *fields))) if fields else "t.*"
        last = 0
        while True:  # each page on the connection of the thread reading it (a response may read from several)
            rows = self._connect().execute(f"SELECT {columns} FROM tickets t {clause} {'AND' if clause else 'WHERE'} "
                                           "t.seq > ? ORDER BY t.seq LIMIT 1000", [*params, last]).fetchall()
            for row in rows:
                yield self._ticket(row, fields)
            if len(rows) < 1000:
                return
            last = rows[-1]["seq"]

    def recent_rejections(self, limit: int = 500) -> list[dict]:
        rows = self._connect().execute("SELECT * FROM rejections ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [self._rejection(r) for r in rows]

    def iter_rejections(self) -> Iterator[dict]:
        return self._iterate("rejections", self._rejection)

    def get_rejection(self, rejection_id: str) -> dict | None:
        row = self._connect().execute("SELECT * FROM rejections WHERE rejection_id = ?", (rejection_id,)).fetchone()
        return self._rejection(row) if row else None

    def mark_rejection_resent(self, rejection_id: str, ticket_id: str, by: str, at: datetime) -> bool:
        cursor = self._connect().execute(
            "UPDATE rejections SET resent_as = ?, resent_by = ?, resent_at = ? WHERE rejection_id = ? AND resent_as IS NULL",
            (ticket_id, by, _local(at), rejection_id),
        )
        return cursor.rowcount == 1

    def _count(self, table: str, column: str, ids: list[str] | None) -> int:
        db = self._connect()
        if ids is None:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        total = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            total += db.execute(f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})", chunk).fetchone()[0]
        return total

    def count_tickets(self, ticket_ids: list[str] | None = None) -> int:
        return self._count("tickets", "ticket_id", ticket_ids)

    def count_rejections(self, rejection_ids: list[str] | None = None) -> int:
        return self._count("rejections", "rejection_id", rejection_ids)

    def latest_seq(self) -> int:
        row = self._connect().execute("SELECT max(seq) FROM tickets").fetchone()
        return row[0] or 0

    def latest_change(self) -> tuple[int, int, int, int, int]:
        row = self._connect().execute(
            """SELECT (SELECT max(seq) FROM tickets), (SELECT max(seq) FROM ticket_events), (SELECT max(seq) FROM alerts),
            (SELECT max(updated_seq) FROM topics), (SELECT max(seq) FROM opinion_alerts)"""
        ).fetchone()
        return tuple(value or 0 for value in row)
