"""Kafka going away and coming back.

- The embedded broker dies under a running `hotline up` (SIGKILL): the stack stops the worker and the opinion
  monitor, restarts the broker on the same port with its topics, then starts them again (the broker kept
  everything in memory, so their offsets are gone too); the web app reconnects by itself. Tickets sent
  before stay stored; tickets sent after are processed and followed for topics.
- A record Kafka did not acknowledge is reported (DeliveryError; 503 from the web intake), never dropped.

A restart of a broker that keeps its data (Kafka) cannot be shown here: the embedded broker keeps nothing."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from tests.conftest import start_stack, stop_stack, wait_until

pytestmark = pytest.mark.broker


def tickets(prefix: str, count: int) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "title": "小区路灯不亮", "text": f"A{i % 9 + 1}区幸福路{i}号门口路灯坏了一周，晚上很黑，请尽快维修。",
             "time": "2026-11-20T09:00:00+08:00"} for i in range(count)]


def pids(pattern: str) -> list[int]:
    return [int(pid) for pid in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()]


def alive(pid: int) -> bool:
    """Running, not a zombie its parent has yet to wait for."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stored(client: httpx.Client, ids: list[str]) -> int:
    return sum(1 for i in ids if client.get(f"/api/tickets/web-{i}").status_code == 200)


def followed(client: httpx.Client, ids: list[str]) -> int:
    return sum(1 for i in ids if (r := client.get(f"/api/tickets/web-{i}")).status_code == 200 and r.json()["topic"])


@pytest.mark.timeout(600)
def test_workers_reconnect_after_the_embedded_broker_restarts(tmp_path, sample_model):
    (tmp_path / "home").mkdir()
    stack = start_stack(tmp_path / "home", sample_model)
    try:
        host, port = stack.state["bootstrap"].rsplit(":", 1)
        before, after = tickets("before", 30), tickets("after", 30)
        with stack.client("dispatcher") as client:
            assert client.post("/api/intake/web", json=before).status_code == 202
            wait_until(lambda: followed(client, [t["id"] for t in before]) == 30, 120, message="tickets before")

            brokers = pids(f"tcp://{host}:{port}")
            assert len(brokers) == 1, brokers
            old_readers = pids(f"cli.main worker --bootstrap {host}:{port}") + pids(f"cli.main monitor --bootstrap {host}:{port}")
            assert len(old_readers) == 2, old_readers
            os.kill(brokers[0], signal.SIGKILL)
            wait_until(lambda: "restarting it on" in stack.log.read_text(), 30, message="the stack sees the broker die")
            assert "stopping the worker and monitor" in stack.log.read_text()
            wait_until(lambda: pids(f"tcp://{host}:{port}"), 60, message="a new broker on the same port")
            # the old readers were gone before it: one that met the new topics would read them from its old
            # positions, past the records below them, and could commit those positions in the new group
            assert not [pid for pid in old_readers if alive(pid)], "an old reader outlived the broker it read from"

            # the web app's producer reconnects: it may refuse while it does, never lose an accepted ticket
            wait_until(lambda: client.post("/api/intake/web", json=after).status_code == 202, 120,
                       message="intake accepted again")
            ids = [t["id"] for t in after]
            try:
                wait_until(lambda: stored(client, ids) == 30, 180, message="tickets after the restart stored")
            except AssertionError as exc:
                logs = "\n".join(f"--- {path.name}:\n{path.read_text(errors='replace')[-4000:]}"
                                  for path in [stack.log, *sorted((stack.home / "logs").glob("*.log"))] if path.exists())
                raise AssertionError(f"{exc}; {stored(client, ids)} of 30 stored\n{logs}") from None
            wait_until(lambda: followed(client, ids) == 30, 180, message="tickets after the restart followed")
            assert stored(client, [t["id"] for t in before]) == 30
        assert stack.process.poll() is None  # nothing else stopped
        log = stack.log.read_text()
        assert "the worker stopped" not in log and "the monitor stopped" not in log and "the web stopped" not in log
    finally:
        stop_stack(stack.process)


def test_records_kafka_did_not_acknowledge_are_reported_never_dropped(tmp_path):
    from streams.broker import EmbeddedBroker, create_topics
    from streams.producer import DeliveryError, HotlineProducer
    from cli.settings import load_settings

    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        create_topics(broker.bootstrap, load_settings().topics)
        producer = HotlineProducer(broker.bootstrap)
        producer.send("web", tickets("ok", 1)[0], ref="ok")
        producer.flush(10)  # acknowledged: no error
        broker.stop()
        for record in tickets("lost", 3):
            producer.send("web", record, ref=record["id"])
        with pytest.raises(DeliveryError, match="3 records not acknowledged|3 of 3 records not acknowledged"):
            producer.flush(5)
        producer.discard()
    finally:
        broker.stop()


def test_the_web_intake_says_503_while_kafka_is_away_and_takes_tickets_again_after(tmp_path):
    """The web app in-process (FastAPI's test client) over a real SQLite store and a real broker that is
    stopped and started again on the same port."""
    from fastapi.testclient import TestClient

    from cli import services
    from cli.settings import load_settings
    from streams.broker import EmbeddedBroker, create_topics
    from streams.producer import HotlineProducer
    from webapp.app import create_app

    settings = load_settings({"HOTLINE_HOME": str(tmp_path)})
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    store = services.open_store(tmp_path / "store.db")
    try:
        create_topics(broker.bootstrap, settings.topics)
        router = services.build_router(settings)
        app = create_app(store=store, users=services.build_users(settings, router),
                         router=router, segmenter=services.segmenter(settings), secret="test",
                         producer=lambda: HotlineProducer(broker.bootstrap, delivery_timeout=4))
        with TestClient(app) as client:
            auth = ("dispatcher", "dispatcher-demo")
            assert client.post("/api/intake/web", json=tickets("up", 2), auth=auth).status_code == 202
            broker.stop()
            away = client.post("/api/intake/web", json=tickets("away", 2), auth=auth)
            assert away.status_code == 503 and "not accepted" in away.json()["detail"], away.text
            broker.start()  # the same port
            create_topics(broker.bootstrap, settings.topics)
            back = client.post("/api/intake/web", json=tickets("away", 2), auth=auth)
            assert back.status_code == 202, back.text
    finally:
        store.close()
        broker.stop()
