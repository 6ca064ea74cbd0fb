"""One batch of raw intake records through normalise -> classify -> route -> store.

Free of Kafka so the agents stay thin and the benchmark can measure the work alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from classifiers.estimator import document
from classifiers.model_file import ModelFile, TrainedModel
from hotline.calendar import WorkCalendar
from hotline.clock import Clock, system_clock
from hotline.deadlines import DeadlinePolicy
from hotline.deadletters import make_rejection
from hotline.models import DispatchedTicket, Rejection, Ticket
from hotline.records import Limits, RecordError, decode, to_ticket
from hotline.routing import Router
from stores.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawRecord:
    channel: str
    key: bytes | None
    payload: bytes

    @property
    def source_ref(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key else "(no key)"


@dataclass
class BatchResult:
    dispatched: list[DispatchedTicket] = field(default_factory=list)  # stored by this batch
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    stored: int = 0
    # Tickets already stored with the same content, dispatched again: a worker that stored them may have
    # died before it passed them on, so they go on to tickets.dispatched again (its readers skip repeats).
    redelivered: list[DispatchedTicket] = field(default_factory=list)


class Pipeline:
    def __init__(self, model: TrainedModel | ModelFile, router: Router, store: Store,
                 limits: Limits = Limits(), clock: Clock = system_clock,
                 type_model: TrainedModel | ModelFile | None = None,
                 deadlines: tuple[DeadlinePolicy, WorkCalendar] | None = None):
        self._model = model
        self._type_model = type_model
        self.deadlines = deadlines
        self.router = router
        self.store = store
        self.limits = limits
        self.clock = clock

    @property
    def model(self) -> TrainedModel:
        """The domain model; a ModelFile is checked for a newer file on disk."""
        return self._model.current()

    @property
    def type_model(self) -> TrainedModel | None:
        return self._type_model.current() if self._type_model else None

    def process(self, records: list[RawRecord]) -> BatchResult:
        now = self.clock()
        result = BatchResult()
        accepted: dict[str, tuple[Ticket, RawRecord]] = {}

        def reject(record: RawRecord, reason: str) -> None:
            result.rejections.append(
                make_rejection(record.channel, record.source_ref, "normalise", reason, record.payload, now)
            )

        for record in records:
            try:
                ticket = to_ticket(record.channel, decode(record.payload), now, self.limits)
            except RecordError as exc:
                reject(record, str(exc))
                continue
            except Exception as exc:  # a bug must cost one record, never the worker
                log.exception("unexpected error normalising %s", record.source_ref)
                reject(record, f"internal error while normalising: {type(exc).__name__}: {exc}")
                continue
            earlier = accepted.get(ticket.ticket_id)
            if earlier is None:
                accepted[ticket.ticket_id] = (ticket, record)
            elif earlier[0].content_hash == ticket.content_hash:
                result.duplicates += 1
            else:
                reject(record, f"duplicate source id {ticket.source_id!r} with different content in the same batch")

        stored_hashes = self.store.content_hashes(list(accepted))
        fresh: list[Ticket] = []
        again: list[Ticket] = []
        for ticket_id, (ticket, record) in accepted.items():
            stored = stored_hashes.get(ticket_id)
            if stored is None:
                fresh.append(ticket)
            elif stored == ticket.content_hash:
                result.duplicates += 1
                again.append(ticket)
            else:
                reject(record, f"duplicate source id {ticket.source_id!r}: ticket {ticket_id} is already stored with different content")

        if fresh or again:
            dispatched = self._dispatch(fresh + again)
            result.dispatched, result.redelivered = dispatched[:len(fresh)], dispatched[len(fresh):]
            result.stored = self.store.write_tickets(result.dispatched)
        return result

    def _dispatch(self, tickets: list[Ticket]) -> list[DispatchedTicket]:
        """Classify, route and start the deadline clock of each ticket."""
        model, type_model = self.model, self.type_model
        titles = model.segmenter.segment_many([t.title for t in tickets])
        texts = model.segmenter.segment_many([t.text for t in tickets])
        documents = [document(title, text) for title, text in zip(titles, texts)]
        predictions = model.predict_documents(documents)
        types = self._predict_types(type_model, tickets, documents)
        out = []
        for ticket, title, text, prediction, typed in zip(tickets, titles, texts, predictions, types):
            decision, district = self.router.route(ticket, prediction)
            ticket_type = typed.label if typed else ticket.ticket_type
            due = self._deadlines(ticket, ticket_type)
            out.append(DispatchedTicket(
                **ticket.model_dump(exclude={"district", "ticket_type", "ticket_type_source"}),
                district=district or ticket.district,
                ticket_type=ticket_type,
                ticket_type_source="model" if typed else ticket.ticket_type_source,
                type_confidence=typed.confidence if typed else None,
                domain=prediction.label,
                subdomain=decision.subdomain,
                confidence=prediction.confidence,
                top=prediction.top,
                model_version=prediction.model_version,
                lead_unit=decision.lead_unit,
                co_units=decision.co_units,
                rule_id=decision.rule_id,
                routing_explanation=decision.explanation,
                status="pending_review" if decision.needs_review else "dispatched",
                segmented=f"{title} {text}".strip(),
                accept_due=due.accept_due if due and not decision.needs_review else None,  # none to accept yet
                reply_due=due.reply_due if due else None,
                deadline_policy=due.policy if due else None,
                deadline_warnings=list(due.warnings) if due else [],
            ))
        return out

    def _deadlines(self, ticket: Ticket, ticket_type: str | None):
        """Deadlines counted from receipt under the policy in force now (None without a policy)."""
        if self.deadlines is None:
            return None
        policy, calendar = self.deadlines
        return policy.deadlines(ticket.received_at, ticket_type, ticket.urgency, calendar)

    @staticmethod
    def _predict_types(type_model, tickets: list[Ticket], documents: list[str]) -> list:
        """The ticket type for tickets whose form did not carry one (None where it did, or with no type model)."""
        out = [None] * len(tickets)
        if type_model is None:
            return out
        missing = [i for i, t in enumerate(tickets) if t.ticket_type is None]
        for i, prediction in zip(missing, type_model.predict_documents([documents[i] for i in missing])):
            out[i] = prediction
        return out
