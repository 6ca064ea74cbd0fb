"""`hotline bench`: throughput figures measured in one run, each next to its reference.

- raw_aiokafka: a plain aiokafka consumer reading the same intake topic (the floor Kafka allows);
- pipeline_only: the batch pipeline in-process, without Kafka (the cost of the work itself);
- end_to_end: records on the intake topic -> a `hotline worker` process -> rows in the store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cli import services
from cli.settings import Settings
from cli.stack import demo_records
from streams import topics
from hotline.records import encode
from streams.broker import EmbeddedBroker, create_topics
from streams.pipeline import Pipeline, RawRecord


def bench_records(count: int) -> list[tuple[str, dict]]:
    """The bundled sample, repeated with fresh ids, as web messages."""
    sample = demo_records()
    out = []
    for i in range(count):
        channel, record = sample[i % len(sample)]
        out.append(("web", {**record, "id": f"bench-{i}"}))
    return out


async def _raw_consume(bootstrap: str, topic: str, count: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, start = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - start
    finally:
        await consumer.stop()


async def _partitions(consumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or {0}


BOARD_MESSAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "tipdm2020c" / "messages_unlabelled.csv"


def classification_texts(path: Path | None) -> tuple[list[str], str]:
    """The board's messages when the file is there (title and text, cleaned), else the bundled sample."""
    import csv

    from hotline.text import normalise

    path = path or BOARD_MESSAGES
    if path.exists():
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [normalise(f"{r.get('留言主题', '')}\n{r.get('留言详情', '')}") for r in rows], str(path)
    return [normalise(f"{r['title']}\n{r['text']}") for _, r in demo_records()], "bundled sample"


def bench_classification(settings: Settings, model_path: Path, texts_path: Path | None = None) -> dict:
    """Segmentation and prediction on one core: batched, one message at a time, and jieba as the reference."""
    from classifiers.segment import Segmenter

    texts, source = classification_texts(texts_path)
    model = services.load_model(settings, model_path)
    fast = Segmenter(settings.userdict, "rjieba")
    reference = Segmenter(settings.userdict, "jieba")
    for segmenter in (fast, reference):  # dictionaries load outside the timing
        segmenter.segment(texts[0])
        segmenter.reference.lcut("咚咚咚")

    from classifiers.model_file import to_document

    start = time.perf_counter()
    documents = [to_document(fast, text) for text in texts]
    segment_s = time.perf_counter() - start
    start = time.perf_counter()
    for text in texts:  # the jieba-rs binding alone: the ceiling for any segmentation built on it
        fast._fast.cut(text, True)
    cut_only_rate = len(texts) / (time.perf_counter() - start)
    half = len(documents) // 2
    start = time.perf_counter()
    model.predict_documents(documents[:half])  # first pass: every token's n-grams are new
    first_pass_rate = half / (time.perf_counter() - start)
    start = time.perf_counter()
    model.predict_documents(documents[half:])  # steady state, as in a running worker: new messages, known tokens
    predict_s = (time.perf_counter() - start) * len(documents) / (len(documents) - half)
    sample = texts[:300]
    start = time.perf_counter()
    reference.segment_many(sample)
    jieba_rate = len(sample) / (time.perf_counter() - start)
    start = time.perf_counter()
    for document in documents[:300]:
        model.predict_documents([document])
    one_by_one = min(300, len(documents)) / (time.perf_counter() - start)
    return {
        "texts": len(texts),
        "source": source,
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "segment_msgs_per_s": round(len(texts) / segment_s, 1),
        "segment_rjieba_cut_only_msgs_per_s": round(cut_only_rate, 1),
        "segment_jieba_reference_msgs_per_s": round(jieba_rate, 1),
        "predict_batched_msgs_per_s": round(len(texts) / predict_s, 1),
        "predict_batched_first_pass_msgs_per_s": round(first_pass_rate, 1),
        "predict_one_at_a_time_msgs_per_s": round(one_by_one, 1),
        "segment_and_predict_msgs_per_s_per_core": round(len(texts) / (segment_s + predict_s), 1),
    }


def run_bench(settings: Settings, count: int, model_path: Path | None = None) -> dict:
    model_path = model_path or services.ensure_model(settings, echo=lambda *_: None)
    records = bench_records(count)
    payloads = [encode(r) for _, r in records]
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        tmp = Path(tmp)
        # 1. the work alone
        model = services.load_model(settings, model_path)
        store = services.open_store(tmp / "pipeline-only.db")
        pipeline = Pipeline(model, services.build_router(settings), store, settings.limits)
        raw = [RawRecord("web", r["id"].encode(), p) for (_, r), p in zip(records, payloads)]
        start = time.perf_counter()
        for i in range(0, len(raw), settings.batch_size):
            pipeline.process(raw[i:i + settings.batch_size])
        pipeline_seconds = time.perf_counter() - start
        store.close()

        with EmbeddedBroker(log_path=tmp / "broker.log") as broker:
            create_topics(broker.bootstrap, settings.topics)
            from kafka import KafkaProducer

            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=256_000)
            for (_, record), payload in zip(records, payloads):
                producer.send(topics.INTAKE["web"], key=record["id"].encode(), value=payload)
            producer.flush()
            producer.close()
            # 2. the reference: a raw consumer of the same topic
            raw_seconds = asyncio.run(_raw_consume(broker.bootstrap, topics.INTAKE["web"], count))
            # 3. end to end through a worker process
            db = tmp / "bench.db"
            services.open_store(db).close()
            env = {**os.environ, "HOTLINE_HOME": str(tmp / "home")}
            started = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", "--bootstrap", broker.bootstrap, "--db", str(db),
                 "--model", str(model_path)],
                env=env, stdout=open(tmp / "worker.log", "wb"), stderr=subprocess.STDOUT,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
            try:
                store = services.open_store(db)
                first_at = None
                deadline = started + 600
                while True:
                    stored = store.count_tickets()
                    now = time.perf_counter()
                    if stored and first_at is None:
                        first_at = now
                    if stored >= count:
                        done_at = now
                        break
                    if worker.poll() is not None or now > deadline:
                        log = (tmp / "worker.log").read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"worker stopped or too slow: {stored} of {count} stored; worker log:\n{log}")
                    time.sleep(0.05)
                store.close()
            finally:
                worker.terminate()
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()
    steady = max(done_at - first_at, 1e-6)
    classification = bench_classification(settings, model_path)
    return {
        "records": count,
        "batch_size": settings.batch_size,
        "end_to_end_msgs_per_s": round(count / steady, 1),
        "end_to_end_seconds_including_worker_start": round(done_at - started, 2),
        "worker_start_to_first_ticket_s": round(first_at - started, 2),
        "pipeline_only_msgs_per_s": round(count / pipeline_seconds, 1),
        "raw_aiokafka_msgs_per_s": round(count / raw_seconds, 1),
        "end_to_end_vs_pipeline_only": round((count / steady) / (count / pipeline_seconds), 3),
        "end_to_end_vs_raw_aiokafka": round((count / steady) / (count / raw_seconds), 4),
        "classification": classification,
    }
