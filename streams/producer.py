"""Producing to the project's topics: raw records to intake, dead letters, ticket events.

The CLI, the demo replay and the web app (HTTP intake, dispatcher actions) use this. `flush()` returns only
when Kafka has acknowledged every record sent since the last flush, and raises DeliveryError naming what it
did not: a caller never reports as accepted what was lost. Sending again is safe (the pipeline keeps a
ticket, event or dead letter once by its id).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hotline.clock import Clock, system_clock
from hotline.deadletters import make_rejection, rejection_id
from hotline.models import TicketEvent
from hotline.records import encode, ticket_id_of
from streams import topics


class DeliveryError(RuntimeError):
    """Records that Kafka did not acknowledge (the producer is unusable afterwards: make a new one)."""


@dataclass(frozen=True)
class Sent:
    """Where one record will end up: as a ticket with ticket_id, or as the dead letter rejection_id."""

    ticket_id: str | None
    rejection_id: str
    rejected_at_intake: bool


class HotlineProducer:
    def __init__(self, bootstrap: str, max_record_bytes: int = 900_000, clock: Clock = system_clock,
                 delivery_timeout: float = 30.0):
        """delivery_timeout: seconds after which a record Kafka has not acknowledged counts as failed (and
        the longest a send waits for the broker's metadata)."""
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self.max_record_bytes = max_record_bytes
        self.clock = clock
        self._delivery_timeout = delivery_timeout
        self._pending: list = []  # futures of the records sent since the last flush
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, client_id="hotline-intake", acks="all", linger_ms=5,
                max_request_size=max(1_048_576, max_record_bytes + 65_536),
                # No idempotent producer: a restarted in-memory broker has forgotten its producer id, which
                # left the producer in a fatal state. A retry may write a record twice; the pipeline keeps it once.
                enable_idempotence=False,
                delivery_timeout_ms=int(delivery_timeout * 1000),
                request_timeout_ms=int(delivery_timeout * 1000 * 2 / 3),
                max_block_ms=int(delivery_timeout * 1000),
            )
        except KafkaError as exc:
            raise DeliveryError(f"Kafka at {bootstrap} unreachable: {exc}") from exc

    def send(self, channel: str, record: dict, ref: str) -> Sent:
        if channel not in topics.INTAKE:
            raise ValueError(f"unknown channel {channel!r} (expected {' or '.join(topics.INTAKE)})")
        payload = encode(record)
        source_id = str(record.get("id", "")).strip()
        key = source_id.encode("utf-8") if source_id else ref.encode("utf-8")
        ticket_id = ticket_id_of(channel, source_id) if source_id else None
        if len(payload) > self.max_record_bytes:
            reason = f"record is {len(payload)} bytes, over the intake limit of {self.max_record_bytes}"
            return Sent(ticket_id, self.reject(channel, source_id or ref, reason, payload), True)
        self._send(topics.INTAKE[channel], key, payload)
        return Sent(ticket_id, rejection_id(channel, payload), False)

    def reject(self, channel: str, ref: str, reason: str, original: bytes) -> str:
        """Put a record that cannot even be sent on the dead-letter topic; returns its rejection id."""
        letter = make_rejection(channel, ref, "intake", reason, original, self.clock())
        self._send(topics.REJECTED, letter.rejection_id.encode(), letter.model_dump_json().encode())
        return letter.rejection_id

    def send_event(self, event: TicketEvent) -> None:
        self._send(topics.EVENTS, event.ticket_id.encode("utf-8"), event.model_dump_json().encode())

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        from kafka.errors import KafkaTimeoutError

        try:
            self._pending.append(self._producer.send(topic, key=key, value=value))
        except KafkaTimeoutError as exc:  # no metadata from the broker in time
            raise DeliveryError(f"Kafka unreachable, record not sent: {exc}") from exc

    def flush(self, timeout: float = 60) -> None:
        """Wait until Kafka has acknowledged everything sent since the last flush; DeliveryError if not."""
        pending, self._pending = self._pending, []
        try:
            self._producer.flush(timeout)
        except Exception as exc:  # kafka-python raises KafkaTimeoutError when the wait runs out
            raise DeliveryError(f"{len(pending)} records not acknowledged by Kafka: {exc}") from exc
        failed = [f for f in pending if not f.succeeded()]
        if failed:
            first = next((f.exception for f in failed if f.exception is not None), "no answer")
            raise DeliveryError(f"{len(failed)} of {len(pending)} records not acknowledged by Kafka: {first}")

    def discard(self) -> None:
        """Give the producer up without waiting (after a DeliveryError). Its unanswered records fail by
        themselves within the delivery timeout; a background thread closes it then."""
        self._pending = []
        threading.Thread(target=self._producer.close, args=(self._delivery_timeout + 5,), daemon=True,
                         name="hotline-producer-discarded").start()

    def close(self, timeout: float = 30) -> None:
        """Flush (DeliveryError if that fails), then close; the connection is closed either way."""
        try:
            self.flush(timeout)
        finally:
            self._producer.close(10)
