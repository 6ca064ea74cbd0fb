"""The store contract every implementation passes (tests/test_store_contract.py runs it on each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Protocol

from hotline.alerts import Alert
from hotline.statistics import Period
from hotline.surges import Surge
from hotline.topics import Assignment, Merge, Topic
from hotline.lifecycle import Lifecycle
from hotline.models import DispatchedTicket, Rejection, TicketEvent

# Fields of a stored ticket as the store returns it (a plain dict; times as ISO 8601 in Asia/Shanghai).
TICKET_FIELDS = (
    "seq", "ticket_id", "channel", "source_id", "received_at", "received_at_source", "ingested_at",
    "stored_at", "title", "text", "caller", "phone", "district", "ticket_type", "ticket_type_source",
    "urgency", "likes", "content_hash", "domain", "confidence", "top", "model_version", "type_confidence",
    "lead_unit", "co_units", "rule_id", "routing_explanation", "status", "personal",
    "returns", "returned_by", "last_return_reason", "flagged", "corrected", "updated_at",
    "accept_due", "reply_due", "deadline_policy", "deadline_warnings", "subdomain",
    "accepted_at", "replied_at", "reply_seconds", "reply_working_days", "on_time", "paused_since", "paused_hours",
    "extension_pending", "extensions", "closed_at", "satisfaction", "reopened", "merged_into",
    "callback_due", "callback_attempts", "accepted_on_time", "urged", "late_acceptances",
)
REJECTION_FIELDS = (
    "seq", "rejection_id", "channel", "source_ref", "stage", "reason", "payload", "payload_encoding",
    "payload_size", "payload_truncated", "rejected_at", "resent_as", "resent_by", "resent_at",
)
FILTERS = ("channel", "domain", "subdomain", "lead_unit", "status", "district", "ticket_type")
ORDERS = ("newest", "due", "accept", "callback")  # TicketQuery.order


@dataclass
class TicketQuery:
    """A search over stored tickets: words (already segmented), equality filters, newest first."""

    words: list[str] = field(default_factory=list)
    channel: str | None = None
    domain: str | None = None
    subdomain: str | None = None
    lead_unit: str | None = None
    status: str | None = None
    district: str | None = None
    ticket_type: str | None = None
    # tickets dispatched to this unit now, as lead or co-unit (协办; hotline.lifecycle.dispatched_to): what a unit's
    # user lists and acts on
    unit: str | None = None
    held_by: str | None = None  # tickets this unit answers for now (hotline.lifecycle.holder; AWAITING_DISPATCH too)
    # held by this unit now, returned by it once (退单), or late to be accepted by it before it left it (签收超时):
    # the tickets its figures count (hotline.statistics)
    figures_of: str | None = None
    topic: str | None = None  # the tickets of this opinion topic (hotline.topics; merged topics' under the one kept)
    alert: str | None = None  # the tickets this opinion alert (舆情预警, hotline.surges) counted
    merged_into: tuple[str, ...] = ()  # the tickets merged (并单) into any of these tickets
    overdue_at: datetime | None = None  # open tickets past their reply deadline at this moment (statistics.overdue)
    awaiting_callback: bool = False  # replied tickets whose callback (回访) is due (hotline.lifecycle: callback_due)
    callback_given_up: bool = False  # tickets whose callback was given up (无法回访: hotline.lifecycle.callback_given_up)
    # accepted after the acceptance deadline, or dispatched and not accepted when it had passed at this moment,
    # now or by a unit it has left since (签收超时 against any unit: statistics.late_to_accept)
    accepted_late_at: datetime | None = None
    # with accepted_late_at: those counted against this unit (held by it and late so now, or in late_acceptances)
    accepted_late_by: str | None = None
    # what some counts of the supervisors' unit figures count (hotline.statistics: replied, called_back, reopened,
    # urged, is_open, was_returned, returned_by): replied, citizen reached by a callback, reopened (重办), urged
    # on (催办), open, returned (退单) by any unit, returned by this unit
    replied: bool = False
    called_back: bool = False
    reopened: bool = False
    urged: bool = False
    open: bool = False
    returned: bool = False
    returned_by: str | None = None
    received: Period = field(default_factory=Period)  # received in this period
    after_seq: int | None = None
    # search's order: "newest" stored first; "due": earliest reply deadline (then received) first; "accept":
    # earliest acceptance deadline (then received) first; "callback": earliest callback deadline (then replied)
    # first. Tickets without the deadline come last.
    order: str = "newest"
    limit: int = 50
    offset: int = 0

    def __post_init__(self):
        if self.accepted_late_by is not None and self.accepted_late_at is None:
            raise ValueError("accepted_late_by needs accepted_late_at (the moment deadlines are judged at)")

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}


class Store(Protocol):
    def write_tickets(self, tickets: list[DispatchedTicket]) -> int:
        """Insert tickets; a ticket id already stored is left as it is. Returns how many were new."""

    def content_hashes(self, ticket_ids: list[str]) -> dict[str, str]:
        """Content hash of each ticket id that is already stored."""

    def write_rejections(self, rejections: list[Rejection]) -> int:
        """Insert dead letters; a rejection id already stored is left as it is. Returns how many were new."""

    def stored_rejection_ids(self, rejection_ids: list[str]) -> set[str]:
        """Which of these dead-letter ids are stored."""

    def get_ticket(self, ticket_id: str) -> dict | None: ...

    def search(self, query: TicketQuery) -> tuple[list[dict], int]:
        """Matching tickets (newest first) and the total number that match."""

    def facets(self, query: TicketQuery | None = None) -> dict[str, dict[str, int]]:
        """Ticket counts per value of each filter field (FILTERS) among the tickets the query selects (all
        without one), each field counted with its own filter left out: a choice's count is how many tickets
        choosing it lists."""

    def iter_tickets(self, query: TicketQuery | None = None, fields: tuple[str, ...] | None = None) -> Iterator[dict]:
        """Every ticket the query selects (all without one; its limit and offset are the search's), in stored
        order, read a page at a time; with `fields`, only those fields of each (ValueError for an unknown one)."""

    def iter_rejections(self) -> Iterator[dict]: ...

    def get_rejection(self, rejection_id: str) -> dict | None: ...

    def mark_rejection_resent(self, rejection_id: str, ticket_id: str, by: str, at: datetime) -> bool:
        """Record that a person sent this dead letter's record again, corrected, as `ticket_id` (resent_as,
        resent_by, resent_at); False if there is no such dead letter or it was already resent."""

    def recent_rejections(self, limit: int = 500) -> list[dict]:
        """The newest dead letters first."""

    def count_tickets(self, ticket_ids: list[str] | None = None) -> int: ...

    def count_rejections(self, rejection_ids: list[str] | None = None) -> int: ...

    def latest_seq(self) -> int: ...

    def latest_change(self) -> tuple[int, ...]:
        """Sequence numbers (tickets, events, alerts, topics, opinion alerts) that change whenever a ticket
        arrives, an event is applied, an alert is raised or a topic grows."""

    def apply_event(self, event: TicketEvent, lifecycle: Lifecycle) -> tuple[str, str]:
        """Apply a ticket event by the lifecycle rules: ("applied", ""), ("duplicate", "") or ("refused", reason).
        A dispatch that changes the domain or the unit is kept as a correction."""

    def ticket_events(self, ticket_id: str) -> list[dict]:
        """A ticket's applied events, in the order they were applied."""

    def events_by_ticket(self, ticket_ids: list[str]) -> dict[str, list[dict]]:
        """The events of several tickets at once (as `ticket_events`); a ticket without events is left out."""

    def tickets_to_watch(self, due_since: datetime, due_before: datetime, now: datetime | None) -> list[dict]:
        """What the deadline watch looks at now: tickets still being handled whose reply deadline, or
        (dispatched, not yet accepted) acceptance deadline, falls in [due_since, due_before), and whose next
        look (`set_watch_at`) has come by `now`, or that are new or changed since the watch last looked (now
        None: all of them): ticket_id, status, lead_unit, reply_due, accept_due (and what `set_watch_at` needs
        of them)."""

    def set_watch_at(self, looks: list[tuple[dict, datetime | None]]) -> None:
        """Keep, for each ticket as `tickets_to_watch` gave it, the moment the watch is to look at it again
        (None: never, while it stays as it is). A ticket changed since it was read stays to be looked at."""

    def write_alerts(self, alerts: list[Alert]) -> list[Alert]:
        """Keep alerts not kept before (by alert id); returns the new ones."""

    def alerts(self, ticket_id: str | None = None, open_at: datetime | None = None, limit: int = 500,
               unit: str | None = None, to: str | None = None) -> list[dict]:
        """Kept alerts, newest first, with the ticket's title and status; open_at: only those open at that moment
        (not acknowledged, and still applying then: hotline.alerts.still_applies); unit: only those about that unit;
        to: only those to that recipient (Alert.to)."""

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool: ...

    def unpublished_alerts(self, limit: int = 1000) -> list[Alert]:
        """Alerts kept but not yet confirmed on the alerts topic (the outbox), oldest first."""

    def mark_alerts_published(self, alert_ids: list[str]) -> None: ...

    # opinion monitoring (see stores/sqlite.py for the details of each)
    def write_topics(self, assignments: list[Assignment], topics: list[Topic], counts: list[tuple[str, datetime]],
                     merges: list[Merge] = ()) -> None: ...
    def recent_topics(self, since: datetime) -> list[Topic]: ...
    def arrival_counts(self, since: datetime) -> list[tuple[str, datetime, int]]: ...
    def recent_segmented(self, since: datetime) -> list[str]: ...
    def latest_received(self) -> datetime | None: ...
    def hot_topics(self, since: datetime, limit: int = 200) -> list[dict]: ...
    def topic_of(self, ticket_id: str) -> dict | None:
        """The ticket's topic membership (topic_id, similarity, duplicate_of, negative) with the topic's terms,
        size and representative_title; None when the ticket is in no topic."""
    def topic_member_ids(self, ticket_ids: list[str]) -> set[str]: ...
    def near_copies(self, ticket_ids: list[str]) -> dict[str, str]:
        """Those of these tickets that are near-copies (重复件) of an earlier ticket, with that ticket's id."""
    def volume(self, since: datetime) -> list[dict]: ...
    def metrics(self, now: datetime) -> dict: ...
    def write_opinion_alerts(self, surges: list[Surge], raised_at: datetime) -> list[Surge]: ...
    def opinion_alerts(self, open_only: bool = False, limit: int = 200, unpublished: bool = False) -> list[dict]: ...
    def mark_opinion_alerts_published(self, alert_ids: list[str]) -> None: ...
    def update_opinion_alert(self, alert_id: str, by: str, at: datetime, assign_to: str | None = None) -> bool: ...

    def stored_event_ids(self, event_ids: list[str]) -> set[str]:
        """Those of these event ids that have been applied."""

    def corrections(self) -> list[dict]:
        """Dispatchers' corrections, the latest per ticket (title, text, domain, lead_unit, …)."""

    def queue(self, limit: int = 100) -> list[dict]:
        """Tickets waiting for a dispatcher: flagged first, then oldest first."""

    def similar(self, ticket_id: str, words: list[str], limit: int = 5) -> list[dict]:
        """Tickets that went to a unit (dispatched, and since handled or not; not those merged before dispatch)
        sharing these words, best match first."""

    def segmented_text(self, ticket_id: str) -> str: ...

    def close(self) -> None: ...
