"""The worker and the opinion monitor: Faust apps whose records are read by `streams.batches.BatchReader`.

- The worker (`build_app`, any number of processes sharing the partitions of one consumer group): intake
  batches through the pipeline, ticket events applied to the store, dead letters kept; and a Faust timer,
  the deadline watch, run by one worker of the Faust app's own group (its leader).
- The opinion monitor (`build_monitor_app`, its own consumer group): dispatched tickets followed for topics
  and surges. `tickets.dispatched` has one partition, so one monitor process holds one set of topics; it runs
  apart from the workers so that its work does not share their interpreter lock.

Faust runs the process (start, stop, signals, logging), the timer and the election of its leader. The records
themselves are read in whole batches by a plain aiokafka consumer that commits a batch only once it is
handled (see streams/batches.py for why not a Faust agent); the work of a batch runs in one call off the
event loop, and the worker crosses Kafka again only for what other consumers read: dispatched tickets, dead
letters and alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from pathlib import Path

import faust

from hotline.alerts import AlertPolicy, urge_alert
from hotline.calendar import WorkCalendar
from hotline.clock import Clock, system_clock
from hotline.deadletters import make_rejection
from hotline.lifecycle import Lifecycle
from hotline.models import Rejection, TicketEvent
from hotline.process import settle_garbage_collector
from hotline.surges import SurgeSettings
from hotline.topics import TopicSettings
from stores.base import Store
from streams import faust_transport, topics
from streams.batches import BatchReader, Finish, Record, Sender
from streams.opinion import load_monitor, observe_batch
from streams.pipeline import Pipeline, RawRecord
from streams.watch import DeadlineWatch

log = logging.getLogger(__name__)


def _faust_app(app_id: str, bootstrap: str, datadir: Path) -> faust.App:
    Path(datadir).mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"{faust_transport.SCHEME}://{bootstrap}",  # Faust's aiokafka transport, a short fetch wait
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        # Tansu makes a joining consumer wait for the whole rebalance timeout: keep these short.
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
    )


def run_worker(app: faust.App, loglevel: str) -> None:
    """Run a Faust app in this process until it is stopped. Faust's terminal spinner is left out: to spin on
    every log message it sets the root logger to DEBUG, so every debug call in aiokafka and Faust (several
    per record sent) built a log record nobody reads. Everything is built by now: the garbage collector is
    settled (hotline.process)."""
    settle_garbage_collector()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


def _run_reader(app: faust.App, reader: BatchReader, sender: Sender) -> None:
    """Read from the app's start to its stop (Faust cancels the task); the sender lives as long. A reader that
    fails stops the process."""

    @app.task
    async def read() -> None:
        await sender.start()
        try:
            await reader.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the process stops rather than stay up reading nothing
            log.exception("reading %s stopped", ", ".join(reader.topics))
            await app.crash(exc)
        finally:
            await sender.stop()


async def _publish(sender: Sender, outbox: list[tuple[str, str, bytes]], mark) -> None:
    """Send (id, key, value) alerts kept in the store to the alerts topic, then mark them published once Kafka
    acknowledged all. A failure leaves them in the outbox for the next round."""
    if not outbox:
        return
    try:
        await sender.send_all([(topics.ALERTS, key.encode(), value) for _, key, value in outbox])
        await asyncio.get_running_loop().run_in_executor(None, mark, [alert_id for alert_id, _, _ in outbox])
    except Exception:
        log.exception("publishing %d alerts failed; they stay in the outbox", len(outbox))


def build_app(
    bootstrap: str, pipeline: Pipeline, store: Store, datadir: Path, lifecycle: Lifecycle,
    batch_size: int, batch_within: float, clock: Clock = system_clock,
    watch: tuple[AlertPolicy, WorkCalendar] | None = None,
) -> faust.App:
    app = _faust_app(topics.WORKER_APP, bootstrap, datadir)
    sender = Sender(bootstrap, client_id=topics.WORKER_GROUP)

    async def handle(records: list[Record]) -> Finish:
        """Intake through the pipeline, ticket events, and incoming dead letters into the store; then, while
        the next batch is handled, what they send out (acknowledged before the batch's offsets are committed)."""
        loop = asyncio.get_running_loop()
        intake = [RawRecord(channel, r.key, r.value) for r in records if (channel := topics.channel_of(r.topic))]
        events = [(r.key, r.value) for r in records if r.topic == topics.EVENTS]
        letters = [r for r in records if r.topic == topics.REJECTED]
        out: list[tuple[str, bytes | None, bytes]] = []
        if intake:
            result = await loop.run_in_executor(None, pipeline.process, intake)
            out += [(topics.DISPATCHED, t.ticket_id.encode(), t.model_dump_json(exclude={"personal"}).encode())
                    for t in result.dispatched + result.redelivered]
            out += [(topics.REJECTED, r.rejection_id.encode(), r.model_dump_json().encode()) for r in result.rejections]
        if events:
            out += [(topics.REJECTED, r.rejection_id.encode(), r.model_dump_json().encode())
                    for r in await loop.run_in_executor(None, _apply_events, events)]
        if letters:
            await loop.run_in_executor(None, store.write_rejections, [_dead_letter(r.key, r.value, clock) for r in letters])
        return partial(sender.send_all, out)

    def _apply_events(batch: list[tuple[bytes | None, bytes]]) -> list[Rejection]:
        """Apply each event to the store; refused and malformed ones become dead letters. An urging (催办)
        alerts the unit: kept once per event, also when the event was applied before (a batch read again after
        a worker died between the two)."""
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
            elif event.kind == "urged" and (alert := urge_alert(store.get_ticket(event.ticket_id), event)):
                store.write_alerts([alert])
        return letters

    _run_reader(app, BatchReader(bootstrap, topics.WORKER_GROUP, [*topics.INTAKE.values(), topics.EVENTS, topics.REJECTED],
                                 handle, batch_size, batch_within), sender)

    if watch is not None:
        policy, calendar = watch
        deadline_watch = DeadlineWatch(store, policy, calendar)

        @app.timer(interval=policy.scan_seconds, on_leader=True)
        async def watch_deadlines():
            """Due-soon warnings and overdue escalations, on time even when no event arrives. One worker (the
            leader of the Faust app's group) scans, so the outbox is published by one process."""
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, deadline_watch.scan, clock())
                outbox = await loop.run_in_executor(None, store.unpublished_alerts)
            except Exception:
                log.exception("deadline scan failed; the next scan tries again")
                return
            await _publish(sender, [(a.alert_id, a.ticket_id, a.model_dump_json().encode()) for a in outbox],
                           store.mark_alerts_published)

    return app


def build_monitor_app(
    bootstrap: str, store: Store, datadir: Path, opinion: tuple[TopicSettings, SurgeSettings],
    batch_size: int, batch_within: float, clock: Clock = system_clock,
) -> faust.App:
    """The opinion monitor: topics and surges over every dispatched ticket.

    Its state is rebuilt from the store whenever it is given the dispatched partition (at start, and after a
    rebalance hands the partition over from a monitor that stopped), so a second monitor process can stand by;
    and after a batch that failed, since the failed batch may have changed it without the store.
    Tickets the store already counted (Kafka delivers again what was not committed) are left out."""
    app = _faust_app(topics.MONITOR_APP, bootstrap, datadir)
    sender = Sender(bootstrap, client_id=topics.MONITOR_GROUP)
    state: dict = {"monitor": None}

    async def reload(assigned) -> None:
        if any(tp.topic == topics.DISPATCHED for tp in assigned):
            state["monitor"] = await asyncio.get_running_loop().run_in_executor(None, load_monitor, store, *opinion)
            log.info("opinion monitor state loaded from the store")

    async def handle(records: list[Record]) -> None:
        loop = asyncio.get_running_loop()
        if state["monitor"] is None:
            state["monitor"] = await loop.run_in_executor(None, load_monitor, store, *opinion)
        monitor = state["monitor"]
        try:
            await loop.run_in_executor(None, observe_batch, store, monitor, [r.value for r in records], clock)
        except Exception:
            state["monitor"] = None
            raise
        outbox = await loop.run_in_executor(None, lambda: store.opinion_alerts(unpublished=True))
        await _publish(sender, [(a["alert_id"], a["key"], json.dumps(
            {k: v for k, v in a.items() if k not in ("seq", "published")}, ensure_ascii=False).encode())
            for a in outbox], store.mark_opinion_alerts_published)

    _run_reader(app, BatchReader(bootstrap, topics.MONITOR_GROUP, [topics.DISPATCHED], handle, batch_size, batch_within,
                                 on_assigned=reload), sender)
    return app


def _dead_letter(key: bytes | None, value: bytes, clock: Clock) -> Rejection:
    """A record on the dead-letter topic; one that is not a valid dead letter is kept as one itself."""
    try:
        return Rejection.model_validate_json(value)
    except ValueError as exc:
        reason = f"malformed dead letter on {topics.REJECTED}: {str(exc).splitlines()[0]}"
        ref = key.decode("utf-8", "replace") if key else "(no key)"
        return make_rejection(topics.REJECTED, ref, "intake", reason, value, clock())
