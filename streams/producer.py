"""Producing to the project's topics: raw records to intake, dead letters, ticket events.

The CLI, the demo replay and the web app (HTTP intake, dispatcher actions) use this.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.clock import Clock, system_clock
from hotline.deadletters import make_rejection, rejection_id
from hotline.models import TicketEvent
from streams import topics
from hotline.records import encode


@dataclass(frozen=True)
class Sent:
    """Where one record will end up: as a ticket with ticket_id, or as the dead letter rejection_id."""

    ticket_id: str | None
    rejection_id: str
    rejected_at_intake: bool


class HotlineProducer:
    def __init__(self, bootstrap: str, max_record_bytes: int = 900_000, clock: Clock = system_clock):
        from kafka import KafkaProducer

        self.max_record_bytes = max_record_bytes
        self.clock = clock
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap, client_id="hotline-intake", acks="all", linger_ms=5,
            max_request_size=max(1_048_576, max_record_bytes + 65_536),
        )

    def send(self, channel: str, record: dict, ref: str) -> Sent:
        if channel not in topics.INTAKE:
            raise ValueError(f"unknown channel {channel!r} (expected {' or '.join(topics.INTAKE)})")
        payload = encode(record)
        source_id = str(record.get("id", "")).strip()
        key = source_id.encode("utf-8") if source_id else ref.encode("utf-8")
        ticket_id = f"{channel}-{source_id}" if source_id else None
        if len(payload) > self.max_record_bytes:
            reason = f"record is {len(payload)} bytes, over the intake limit of {self.max_record_bytes}"
            return Sent(ticket_id, self.reject(channel, source_id or ref, reason, payload), True)
        self._producer.send(topics.INTAKE[channel], key=key, value=payload)
        return Sent(ticket_id, rejection_id(channel, payload), False)

    def reject(self, channel: str, ref: str, reason: str, original: bytes) -> str:
        """Put a record that cannot even be sent on the dead-letter topic; returns its rejection id."""
        letter = make_rejection(channel, ref, "intake", reason, original, self.clock())
        self._producer.send(topics.REJECTED, key=letter.rejection_id.encode(), value=letter.model_dump_json().encode())
        return letter.rejection_id

    def send_event(self, event: TicketEvent) -> None:
        self._producer.send(topics.EVENTS, key=event.ticket_id.encode("utf-8"), value=event.model_dump_json().encode())

    def flush(self, timeout: float = 60) -> None:
        self._producer.flush(timeout)

    def close(self) -> None:
        self._producer.flush(30)
        self._producer.close(10)
