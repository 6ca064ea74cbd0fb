"""The one ticket schema both channels are normalised into, and the records around it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Channel = Literal["hotline", "web"]
CHANNELS: tuple[str, ...] = ("hotline", "web")

TicketType = Literal["咨询", "求助", "投诉", "举报", "建议"]
TICKET_TYPES: tuple[str, ...] = ("咨询", "求助", "投诉", "举报", "建议")

Urgency = Literal["normal", "urgent"]
TimeSource = Literal["record", "intake"]


class PersonalData(BaseModel):
    """Unmasked personal data, shown only to roles allowed to see it."""

    caller: str | None = None
    phone: str | None = None
    title: str = ""
    text: str = ""


class Ticket(BaseModel):
    """A normalised ticket: Simplified Chinese, cleaned, personal data masked."""

    ticket_id: str
    channel: Channel
    source_id: str
    received_at: datetime
    received_at_source: TimeSource
    ingested_at: datetime
    title: str
    text: str
    caller: str | None = None
    phone: str | None = None
    district: str | None = None
    ticket_type: TicketType | None = None
    ticket_type_source: Literal["form", "model"] | None = None
    urgency: Urgency = "normal"
    likes: int | None = None
    content_hash: str
    personal: PersonalData = Field(default_factory=PersonalData)


class Prediction(BaseModel):
    """A classifier's answer for one ticket: the most likely label (a domain or a ticket type)."""

    label: str
    confidence: float
    top: list[tuple[str, float]]
    model_version: str


class RoutingDecision(BaseModel):
    """Where a ticket goes and why."""

    lead_unit: str
    co_units: list[str] = Field(default_factory=list)
    rule_id: str
    explanation: str
    needs_review: bool = False
    subdomain: str | None = None  # second-level topic (二级分类) within the domain, when one was found


class DispatchedTicket(Ticket):
    """A ticket with its domain, routing decision and status."""

    domain: str
    subdomain: str | None = None
    confidence: float
    top: list[tuple[str, float]]
    model_version: str
    type_confidence: float | None = None  # when the ticket type was predicted, not given on the form
    lead_unit: str
    co_units: list[str]
    rule_id: str
    routing_explanation: str
    status: Literal["dispatched", "pending_review"]
    accept_due: datetime | None = None
    reply_due: datetime | None = None
    deadline_policy: str | None = None
    deadline_warnings: list[str] = Field(default_factory=list)
    segmented: str = ""  # jieba tokens of the masked title and text, for full-text search


class Rejection(BaseModel):
    """A dead letter: the original payload and the reason it could not be accepted."""

    rejection_id: str
    channel: str
    source_ref: str
    stage: Literal["intake", "normalise", "event"]
    reason: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    payload_size: int
    payload_truncated: bool
    rejected_at: datetime


EventKind = Literal[
    "dispatched", "rerouted", "returned", "accepted", "paused", "resumed", "extension_requested",
    "extension_approved", "extension_refused", "replied", "closed", "callback", "callback_failed",
    "reopened", "merged", "urged",
]
EVENT_KINDS: tuple[str, ...] = EventKind.__args__


class TicketEvent(BaseModel):
    """Something that happened to a ticket after intake (ticket.events); idempotent by event_id."""

    event_id: str
    ticket_id: str
    kind: EventKind
    at: datetime
    actor: str
    data: dict = Field(default_factory=dict)
