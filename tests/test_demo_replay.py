"""`hotline demo`'s replay (cli/demo.py) on the embedded broker: every sample record, malformed ones included,
goes to its intake topic; once a record is in the store, as a ticket or a dead letter, the ticket's handling
goes to the ticket events topic; the issue breaking now comes last. The store is filled beforehand by the real pipeline over the same records,
as a worker would fill it; no worker runs, so what is on the topics is the replay's alone."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from cli import services
from cli.demo import DemoReplay
from cli.settings import load_settings
from hotline.records import encode
from hotline.timestamps import SHANGHAI
from samples.demo import BREAKING, MALFORMED, replay
from samples.handling import handling
from streams import topics
from streams.broker import EmbeddedBroker, create_topics
from streams.pipeline import RawRecord

pytestmark = pytest.mark.broker


def on_topic(bootstrap: str, topic: str, partitions: int) -> list:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    try:
        return list(consumer)
    finally:
        consumer.close()


def test_the_replay_sends_every_record_then_each_stored_tickets_handling(tmp_path, sample_model):
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    records = replay(now)
    store = services.open_store(tmp_path / "demo.db")
    calendar = services.build_calendar(settings)
    result = services.build_pipeline(settings, store, sample_model).process(
        [RawRecord(channel, str(record["id"]).encode() if "id" in record else None, encode(record))
         for channel, record in records])
    store.write_rejections(result.rejections)
    assert len(result.rejections) == len(MALFORMED) and result.stored == len(records) - len(MALFORMED)
    expected = {e.event_id: e for t in store.iter_tickets() for e in handling(t, now, calendar)}
    assert {e.kind for e in expected.values()} == {"accepted", "replied", "callback", "callback_failed", "returned", "urged"}

    said = []
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        create_topics(broker.bootstrap, settings.topics)
        demo = DemoReplay(broker.bootstrap, settings.max_record_bytes, store, lambda: now, calendar, rate=2000,
                            burst=100, echo=lambda message, err=False: said.append(message))
        try:
            deadline = time.monotonic() + 120
            while not demo.done:
                assert time.monotonic() < deadline, f"replay not done after 120 s: {said}"
                demo.step()
                time.sleep(0.01)
        finally:
            demo.close()
        intake = [m for channel, topic in topics.INTAKE.items()
                  for m in on_topic(broker.bootstrap, topic, settings.topics[topic])]
        events = on_topic(broker.bootstrap, topics.EVENTS, settings.topics[topics.EVENTS])

    assert sorted(m.value for m in intake) == sorted(encode(record) for _, record in records)
    sent = {m.value for m in events}
    assert len(sent) == len(events) == len(expected)  # each event once
    assert sent == {e.model_dump_json().encode() for e in expected.values()}
    assert all(m.key == expected[json.loads(m.value)["event_id"]].ticket_id.encode() for m in events)
    assert f"{len(MALFORMED)} malformed records refused" in said[-1] and "neither stored nor refused" not in said[-1]
