"""Several workers, nothing lost: two workers share the intake partitions in one consumer group on the
embedded broker while one of them is killed with SIGKILL again and again (and the opinion monitor once).
Every ticket must be stored once, counted once by the monitor, carry its deadlines, and raise its alerts once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cli import services
from cli.settings import load_settings
from samples.demo import sample_records
from hotline.records import encode
from hotline.timestamps import SHANGHAI
from streams import topics
from streams.broker import EmbeddedBroker, create_topics

from conftest import PROJECT, hotline_command

TICKETS = 100_000
OVERDUE = 100  # tickets received long ago: each must raise its overdue alerts once


def _start(name: str, args: list[str], env: dict, logs: Path) -> subprocess.Popen:
    with open(logs / f"{name}.log", "ab") as log:
        return subprocess.Popen(hotline_command(*args), env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql).fetchone()[0]


def _records(now: datetime) -> list[tuple[str, bytes, bytes]]:
    sample = sample_records()
    out = []
    for i in range(TICKETS):
        channel, record = sample[i % len(sample)]
        received = now - (timedelta(days=40) if i < OVERDUE else timedelta(minutes=30))
        record = {**record, "id": f"kill-{i}", "time": received.isoformat()}
        out.append((topics.INTAKE[channel], record["id"].encode(), encode(record)))
    return out


@pytest.mark.timeout(1200)
def test_two_workers_killed_repeatedly_lose_and_repeat_nothing(tmp_path, sample_model):
    logs = tmp_path / "logs"
    logs.mkdir()
    db = tmp_path / "store.db"
    env = {**os.environ, "HOTLINE_HOME": str(tmp_path / "home")}
    for name in ("HOTLINE_KAFKA_BOOTSTRAP", "HOTLINE_DB", "HOTLINE_CLOCK_START"):
        env.pop(name, None)
    settings = load_settings(env)
    services.open_store(db).close()
    processes: dict[str, subprocess.Popen] = {}
    with EmbeddedBroker(log_path=logs / "broker.log") as broker:
        create_topics(broker.bootstrap, settings.topics)
        worker_args = ["worker", "--bootstrap", broker.bootstrap, "--db", str(db), "--model", str(sample_model)]
        monitor_args = ["monitor", "--bootstrap", broker.bootstrap, "--db", str(db)]
        try:
            for name in ("worker-a", "worker-b"):
                processes[name] = _start(name, worker_args, env, logs)
            processes["monitor"] = _start("monitor", monitor_args, env, logs)

            from kafka import KafkaProducer

            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=256_000, acks="all")
            for topic, key, value in _records(datetime.now(SHANGHAI)):
                producer.send(topic, key=key, value=value)
            producer.flush()
            producer.close()

            kills, deadline = [], time.monotonic() + 900
            while True:
                stored = _count(db, "SELECT count(*) FROM tickets")
                counted = _count(db, "SELECT count(*) FROM topic_members")
                if stored >= TICKETS and counted >= TICKETS:
                    break
                assert time.monotonic() < deadline, f"{stored} stored, {counted} counted by the monitor after 900 s"
                # Kills at 15%, 30%, 45% and 60% of the tickets stored: during the flow at any speed.
                if len(kills) < 4 and stored >= (len(kills) + 1) * TICKETS * 0.15 and stored < TICKETS * 0.9:
                    name = "monitor" if len(kills) == 2 else ("worker-a", "worker-b")[len(kills) % 2]
                    _kill(processes[name])
                    kills.append((name, stored))
                    processes[name] = _start(name, monitor_args if name == "monitor" else worker_args, env, logs)
                if int(time.monotonic()) % 15 == 0:
                    print(f"{stored} stored, {counted} counted by the monitor", flush=True)
                time.sleep(0.25)
            time.sleep(12)  # a deadline scan or two after the last ticket (scan_seconds: 5)
            print("kills (process, tickets stored at the time):", kills)
            assert len(kills) == 4, f"the tickets were all stored before the four kills: {kills}"
            published = _alert_ids_on_topic(broker.bootstrap)
        finally:
            for process in processes.values():
                _kill(process)

    # 0 lost, 0 duplicated
    assert _count(db, "SELECT count(*) FROM tickets") == TICKETS
    assert _count(db, "SELECT count(DISTINCT ticket_id) FROM tickets") == TICKETS
    assert _count(db, "SELECT count(DISTINCT source_id) FROM tickets WHERE source_id LIKE 'kill-%'") == TICKETS
    assert _count(db, "SELECT count(*) FROM rejections") == 0
    # deadlines intact: every ticket got its clock when it was stored
    assert _count(db, "SELECT count(*) FROM tickets WHERE reply_due IS NULL OR deadline_policy IS NULL") == 0
    # topics intact: every ticket counted once by the monitor, hourly counts add up to the tickets
    assert _count(db, "SELECT count(*) FROM topic_members") == TICKETS
    assert _count(db, "SELECT sum(count) FROM arrival_counts WHERE key LIKE 'domain=%' AND key NOT LIKE '%|%'") == TICKETS
    # alerts: the overdue tickets raised theirs, once per ticket, level and deadline
    overdue_alerted = _count(db, "SELECT count(DISTINCT ticket_id) FROM alerts WHERE kind = 'overdue'")
    assert overdue_alerted == OVERDUE
    # Each alert is kept once (its id is its ticket, kind, level and deadline) and reaches the alerts topic.
    # The topic is at-least-once: a worker killed between sending a round of the outbox and marking it sent
    # leaves that round to be sent again by the next one, so readers of the topic skip alert ids they have seen.
    with sqlite3.connect(db) as connection:
        deadline_alerts = [row[0] for row in connection.execute("SELECT alert_id FROM alerts")]
        surge_alerts = [row[0] for row in connection.execute("SELECT alert_id FROM opinion_alerts")]
    repeats = len(published) - len(set(published))
    print(f"alerts kept: {len(deadline_alerts)} deadline, {len(surge_alerts)} surge; on the topic {len(published)} "
          f"({repeats} sent again after a kill)")
    assert len(deadline_alerts) > OVERDUE and set(published) == set(deadline_alerts) | set(surge_alerts)
    assert repeats <= 1000 * sum(1 for name, _ in kills if name.startswith("worker"))


def _alert_ids_on_topic(bootstrap: str) -> list[str]:
    """Every alert id on the alerts topic, repeats included."""
    import json

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        partitions = [TopicPartition(topics.ALERTS, p) for p in consumer.partitions_for_topic(topics.ALERTS) or {0}]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return [json.loads(message.value)["alert_id"] for message in consumer]
    finally:
        consumer.close()
