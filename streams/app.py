"""The Faust apps.

- The worker (`build_app`, any number of processes in one consumer group): intake batches through the
  pipeline, ticket events applied to the store, dead letters kept, and a timer (the deadline watch).
- The opinion monitor (`build_monitor_app`, its own consumer group): dispatched tickets followed for topics
  and surges. `tickets.dispatched` has one partition, so one monitor process holds one set of topics; it runs
  apart from the workers so that its work does not share their interpreter lock.

Per-record cost in Faust is high, so each agent takes whole batches (take_events) and does the work of a
batch in one call off the event loop; the intake agent crosses Kafka again only for the streams other
consumers read: dispatched tickets and dead letters.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import faust

from hotline.alerts import AlertPolicy
from hotline.calendar import WorkCalendar
from hotline.clock import Clock, system_clock
from hotline.deadletters import make_rejection
from hotline.lifecycle import Lifecycle
from hotline.models import Rejection, TicketEvent
from hotline.surges import SurgeSettings
from hotline.topics import TopicSettings
from stores.base import Store
from streams import faust_transport, topics
from streams.opinion import load_monitor, observe_batch
from streams.pipeline import Pipeline, RawRecord
from streams.watch import DeadlineWatch

log = logging.getLogger(__name__)


def _faust_app(app_id: str, bootstrap: str, datadir: Path, partitions: int, batch_size: int) -> faust.App:
    Path(datadir).mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"{faust_transport.SCHEME}://{bootstrap}",  # Faust's aiokafka transport, a short fetch wait
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=partitions,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        # Tansu makes a joining consumer wait for the whole rebalance timeout: keep these short.
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
        stream_buffer_maxsize=max(4096, batch_size * 4),
    )


def run_worker(app: faust.App, loglevel: str) -> None:
    """Run a Faust app in this process until it is stopped. Faust's terminal spinner is left out: to spin on
    every log message it sets the root logger to DEBUG, so every debug call in aiokafka and Faust (several
    per record sent) built a log record nobody reads."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


def _alerts_publisher(app: faust.App):
    """publish(outbox, mark): send (id, key, value) alerts kept in the store to the alerts topic, then mark
    them published once Kafka acknowledged all. A failure leaves them in the outbox for the next round."""
    alerts_topic = app.topic(topics.ALERTS, key_type=bytes, value_type=bytes)

    async def publish(outbox: list[tuple[str, str, bytes]], mark) -> None:
        try:
            sent = [await alerts_topic.send(key=key.encode(), value=value) for _, key, value in outbox]
            await asyncio.gather(*sent)
            await asyncio.get_running_loop().run_in_executor(None, mark, [alert_id for alert_id, _, _ in outbox])
        except Exception:
            log.exception("publishing %d alerts failed; they stay in the outbox", len(outbox))

    return publish


def build_app(
    bootstrap: str, pipeline: Pipeline, store: Store, datadir: Path, lifecycle: Lifecycle,
    batch_size: int = 500, batch_within: float = 0.2, partitions: int = 4,
    app_id: str = topics.WORKER_GROUP, clock: Clock = system_clock,
    watch: tuple[AlertPolicy, WorkCalendar] | None = None,
) -> faust.App:
    app = _faust_app(app_id, bootstrap, datadir, partitions, batch_size)
    publish = _alerts_publisher(app)
    intake = app.topic(*topics.INTAKE.values(), key_type=bytes, value_type=bytes)
    dispatched = app.topic(topics.DISPATCHED, key_type=bytes, value_type=bytes)
    rejected = app.topic(topics.REJECTED, key_type=bytes, value_type=bytes)
    events_topic = app.topic(topics.EVENTS, key_type=bytes, value_type=bytes)

    @app.agent(intake)
    async def process_intake(stream):
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(batch_size, within=batch_within):
            records = [
                RawRecord(topics.channel_of(e.message.topic) or e.message.topic, e.message.key, e.message.value or b"")
                for e in events
            ]
            result = await _with_retries(loop, pipeline.process, records)
            sent = [await dispatched.send(key=t.ticket_id.encode(), value=t.model_dump_json(exclude={"personal"}).encode())
                    for t in result.dispatched + result.redelivered]
            sent += [await rejected.send(key=r.rejection_id.encode(), value=r.model_dump_json().encode())
                     for r in result.rejections]
            await asyncio.gather(*sent)  # acknowledged by Kafka before this batch's offsets can be committed

    @app.agent(events_topic)
    async def apply_events(stream):
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(batch_size, within=batch_within):
            letters = await _with_retries(loop, _apply_events, [(e.message.key, e.message.value or b"") for e in events])
            await asyncio.gather(*[await rejected.send(key=letter.rejection_id.encode(), value=letter.model_dump_json().encode())
                                   for letter in letters])

    def _apply_events(batch: list[tuple[bytes | None, bytes]]) -> list[Rejection]:
        """Apply each event to the store; refused and malformed ones become dead letters."""
        letters = []
        for key, value in batch:
            ref = key.decode("utf-8", "replace") if key else "(no key)"
            try:
                event = TicketEvent.model_validate_json(value)
            except ValueError as exc:
                letters.append(make_rejection(topics.EVENTS, ref, "event", f"malformed ticket event: {str(exc).splitlines()[0]}", value, clock()))
                continue
            status, reason = store.apply_event(event, lifecycle)
            if status == "refused":
                letters.append(make_rejection(topics.EVENTS, event.event_id, "event", reason, value, clock()))
        return letters

    if watch is not None:
        policy, calendar = watch
        deadline_watch = DeadlineWatch(store, policy, calendar)

        @app.timer(interval=policy.scan_seconds, on_leader=True)
        async def watch_deadlines():
            """Due-soon warnings and overdue escalations, on time even when no event arrives. One worker of the
            group (the leader) scans, so the outbox is published by one process."""
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, deadline_watch.scan, clock())
                outbox = await loop.run_in_executor(None, store.unpublished_alerts)
            except Exception:
                log.exception("deadline scan failed; the next scan tries again")
                return
            await publish([(a.alert_id, a.ticket_id, a.model_dump_json().encode()) for a in outbox],
                          store.mark_alerts_published)

    @app.agent(rejected)
    async def keep_dead_letters(stream):
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(batch_size, within=batch_within):
            letters = [_dead_letter(e.message.key, e.message.value or b"", clock) for e in events]
            await _with_retries(loop, store.write_rejections, letters)

    return app


def build_monitor_app(
    bootstrap: str, store: Store, datadir: Path, opinion: tuple[TopicSettings, SurgeSettings],
    batch_size: int = 500, batch_within: float = 0.2, app_id: str = topics.MONITOR_GROUP, clock: Clock = system_clock,
) -> faust.App:
    """The opinion monitor: topics and surges over every dispatched ticket.

    Its state is rebuilt from the store whenever it is given the dispatched partition (at start, and after a
    rebalance hands the partition over from a monitor that stopped), so a second monitor process can stand by.
    Tickets the store already counted (Kafka delivers again what was not committed) are left out."""
    app = _faust_app(app_id, bootstrap, datadir, 1, batch_size)
    publish = _alerts_publisher(app)
    dispatched = app.topic(topics.DISPATCHED, key_type=bytes, value_type=bytes)
    state = {"monitor": None}
    lock = asyncio.Lock()

    @app.on_partitions_assigned.connect
    async def reload(app, assigned, **kwargs):
        if any(tp.topic == topics.DISPATCHED for tp in assigned):
            async with lock:
                state["monitor"] = await asyncio.get_running_loop().run_in_executor(None, load_monitor, store, *opinion)
            log.info("opinion monitor state loaded from the store")

    @app.agent(dispatched)
    async def monitor_opinion(stream):
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(batch_size, within=batch_within):
            payloads = [e.message.value or b"" for e in events]
            async with lock:
                if state["monitor"] is None:
                    state["monitor"] = await loop.run_in_executor(None, load_monitor, store, *opinion)
                monitor = state["monitor"]
                await _with_retries(loop, lambda batch: observe_batch(store, monitor, batch, clock), payloads)
            outbox = await loop.run_in_executor(None, lambda: store.opinion_alerts(unpublished=True))
            await publish([(a["alert_id"], a["key"], json.dumps(
                {k: v for k, v in a.items() if k not in ("seq", "published")}, ensure_ascii=False).encode())
                for a in outbox], store.mark_opinion_alerts_published)

    return app


async def _with_retries(loop, work, batch, first_delay: float = 0.5, max_delay: float = 30.0):
    """Run a batch off the event loop; on failure (a locked or unreachable store) retry with back-off, never drop."""
    delay = first_delay
    while True:
        try:
            return await loop.run_in_executor(None, work, batch)
        except Exception:
            log.exception("a batch of %d records failed; retrying in %.1f s", len(batch), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


def _dead_letter(key: bytes | None, value: bytes, clock: Clock) -> Rejection:
    """A record on the dead-letter topic; one that is not a valid dead letter is kept as one itself."""
    try:
        return Rejection.model_validate_json(value)
    except ValueError as exc:
        reason = f"malformed dead letter on {topics.REJECTED}: {str(exc).splitlines()[0]}"
        ref = key.decode("utf-8", "replace") if key else "(no key)"
        return make_rejection(topics.REJECTED, ref, "intake", reason, value, clock())

