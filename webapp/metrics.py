"""`/metrics` for Prometheus: throughput (tickets, events and dead letters stored, as counters), consumer lag
of the workers' and the opinion monitor's groups, classification confidence, deadlines due and overdue, open alerts. Aggregate counts
only, no ticket content, so it is served without logging in (like most exporters); keep it on the
internal network."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from hotline.clock import Clock
from stores.base import Store
from streams import topics

log = logging.getLogger(__name__)
GROUPS = (topics.WORKER_GROUP, topics.MONITOR_GROUP)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, value, **labels) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


def exposition(counts: dict, lag: dict[tuple[str, str, int], int] | None) -> str:
    out = [
        "# HELP hotline_tickets_stored_total Tickets stored, by channel and current status.",
        "# TYPE hotline_tickets_stored_total counter",
        *(_line("hotline_tickets_stored_total", n, channel=c, status=s) for c, s, n in counts["tickets"]),
        "# HELP hotline_ticket_events_total Ticket events applied, by kind.",
        "# TYPE hotline_ticket_events_total counter",
        *(_line("hotline_ticket_events_total", n, kind=k) for k, n in counts["events"]),
        "# HELP hotline_dead_letters_total Records kept as dead letters.",
        "# TYPE hotline_dead_letters_total counter",
        _line("hotline_dead_letters_total", counts["dead_letters"]),
        "# HELP hotline_open_tickets_deadline Open tickets past their reply deadline or due within a day, and "
        "dispatched tickets not accepted by their acceptance deadline.",
        "# TYPE hotline_open_tickets_deadline gauge",
        _line("hotline_open_tickets_deadline", counts["overdue"], state="overdue"),
        _line("hotline_open_tickets_deadline", counts["due_within_day"], state="due_within_day"),
        _line("hotline_open_tickets_deadline", counts["accept_overdue"], state="accept_overdue"),
        "# HELP hotline_alerts_open Alerts not acknowledged, by kind.",
        "# TYPE hotline_alerts_open gauge",
        *(_line("hotline_alerts_open", n, kind=k) for k, n in counts["alerts_open"]),
        "# HELP hotline_classification_confidence Classifier confidence of stored tickets.",
        "# TYPE hotline_classification_confidence histogram",
    ]
    by_decile = {int(d): (n, s) for d, n, s in counts["confidence"]}
    cumulative = 0
    for decile in range(10):
        cumulative += by_decile.get(decile, (0, 0.0))[0]
        out.append(_line("hotline_classification_confidence_bucket", cumulative, le=f"{(decile + 1) / 10:.1f}"))
    total = sum(n for n, _ in by_decile.values())
    out.append(_line("hotline_classification_confidence_bucket", total, le="+Inf"))
    out.append(_line("hotline_classification_confidence_sum", round(sum(s or 0.0 for _, s in by_decile.values()), 4)))
    out.append(_line("hotline_classification_confidence_count", total))
    if lag is not None:
        out += ["# HELP hotline_consumer_lag Records not yet consumed, per consumer group and partition.",
                "# TYPE hotline_consumer_lag gauge",
                *(_line("hotline_consumer_lag", n, group=g, topic=t, partition=p) for (g, t, p), n in sorted(lag.items()))]
    return "\n".join(out) + "\n"


def consumer_lag(bootstrap: str) -> dict[tuple[str, str, int], int] | None:
    """End offset minus each group's committed offset for every partition the group has committed."""
    from kafka import KafkaAdminClient, KafkaConsumer

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            committed = {group: admin.list_group_offsets(group).get(group, {}) for group in GROUPS}
        finally:
            admin.close()
        partitions = sorted({tp for offsets in committed.values() for tp in offsets})
        if not partitions:
            return {}
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            ends = consumer.end_offsets(partitions)
        finally:
            consumer.close()
        return {(group, tp.topic, tp.partition): max(0, ends[tp] - meta.offset)
                for group, offsets in committed.items() for tp, meta in offsets.items() if tp in ends}
    except Exception as exc:  # Kafka down: the store's figures are still worth serving
        log.warning("consumer lag unavailable: %s", exc)
        return None


def metrics_routes(store: Store, clock: Clock, bootstrap: str | None) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics():
        counts = await run_in_threadpool(store.metrics, clock())
        lag = await run_in_threadpool(consumer_lag, bootstrap) if bootstrap else None
        return PlainTextResponse(exposition(counts, lag), media_type="text/plain; version=0.0.4")

    return router
