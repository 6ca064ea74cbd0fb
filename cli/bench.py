"""`hotline bench`: throughput, latency and memory measured in one run, each next to its reference.

- pipeline_only: the pipeline a worker runs, in-process without Kafka (the cost of the work itself);
- raw_aiokafka: a plain aiokafka consumer reading the same intake topic (the floor Kafka allows);
- faust_noop_agent: a Faust agent doing nothing with the same records (Faust's own per-record cost);
- end_to_end: records waiting on the intake topic -> `hotline worker` processes -> rows in the store, with
  one worker, then two, then one again (each run on a fresh broker and store, every record sent before the
  workers start; the one-worker figure pools its two runs, so that two workers are compared with the runs
  on either side of them); timed from the first rows seen after the group is complete to the last, counting
  only the rows stored in that time;
- cores_used: the CPU the workers and the broker used during each throughput run;
- latency: records sent at a fixed rate, each one's time from being sent until it is visible in the store;
- classification: segmentation and prediction on one core.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from cli import services
from cli.settings import Settings
from samples.demo import sample_records
from hotline.process import settle_garbage_collector
from hotline.records import encode
from hotline.timestamps import SHANGHAI
from streams import topics
from streams.broker import EmbeddedBroker, create_topics
from streams.pipeline import RawRecord


def bench_records(count: int) -> list[tuple[str, dict]]:
    """The bundled sample, repeated with fresh ids, as web messages arriving now (deadlines days ahead, as in
    a live centre; the sample's own dates would make every ticket overdue)."""
    sample = sample_records()
    received = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()
    out = []
    for i in range(count):
        channel, record = sample[i % len(sample)]
        out.append(("web", {**record, "id": f"bench-{i}", "time": received}))
    return out


async def _raw_consume(bootstrap: str, topic: str, count: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, start = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - start
    finally:
        await consumer.stop()


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
    return [normalise(f"{r['title']}\n{r['text']}") for _, r in sample_records()], "bundled sample"


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


def _peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM), in MB; None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None where /proc does not say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def _wait_for_group(bootstrap: str, group: str, members: int, timeout: float = 120) -> None:
    """Until the consumer group is stable with this many members (every worker has its partitions)."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def wait() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout
            while True:
                described = [g for response in await admin.describe_consumer_groups([group]) for g in response.groups]
                # (error_code, group_id, state, protocol_type, protocol, members)
                if described and described[0][2] == "Stable" and len(described[0][5]) == members:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"consumer group {group} not stable with {members} members after {timeout:.0f} s")
                await asyncio.sleep(0.1)
        finally:
            await admin.close()

    asyncio.run(wait())


class _Workers:
    """N `hotline worker` processes on a fresh embedded broker and store. With `waiting` (records and their
    payloads), those are on the intake topic before the workers start; `ready_s` is the time from starting
    the workers to their group being complete."""

    def __init__(self, tmp: Path, name: str, count: int, model_path: Path, settings: Settings,
                 waiting: tuple[list[tuple[str, dict]], list[bytes]] | None = None):
        self.tmp, self.name, self.count, self.model_path, self.settings = tmp / name, name, count, model_path, settings
        self.waiting = waiting
        self.tmp.mkdir()
        self.db = self.tmp / "store.db"
        self.broker = EmbeddedBroker(log_path=self.tmp / "broker.log")
        self.processes: list[subprocess.Popen] = []
        self.ready_s: float | None = None

    def __enter__(self) -> "_Workers":
        self.broker.start()
        create_topics(self.broker.bootstrap, self.settings.topics)
        services.open_store(self.db).close()
        if self.waiting:
            _send_all(self.broker.bootstrap, *self.waiting)
        started = time.perf_counter()
        env = {**os.environ, "HOTLINE_HOME": str(self.tmp / "home")}
        for name in ("HOTLINE_ES_URL", "HOTLINE_CLOCK_START"):
            env.pop(name, None)
        for i in range(self.count):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", "--bootstrap", self.broker.bootstrap, "--db", str(self.db),
                 "--model", str(self.model_path)],
                env=env, stdout=open(self.tmp / f"worker-{i}.log", "wb"), stderr=subprocess.STDOUT,
                cwd=str(Path(__file__).resolve().parent.parent)))
        _wait_for_group(self.broker.bootstrap, topics.WORKER_GROUP, self.count)
        self.ready_s = time.perf_counter() - started
        return self

    def check(self) -> None:
        for i, process in enumerate(self.processes):
            if process.poll() is not None:
                log = (self.tmp / f"worker-{i}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name}: worker {i} stopped (exit {process.returncode}):\n{log}")

    def peak_rss_mb(self) -> list[float | None]:
        return [_peak_rss_mb(p.pid) for p in self.processes]

    def cpu_seconds(self) -> dict[str, float | None]:
        """CPU time used so far by the workers together and by the broker."""
        workers = [_cpu_seconds(p.pid) for p in self.processes]
        return {"workers": None if None in workers else sum(workers), "broker": _cpu_seconds(self.broker.process.pid)}

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.broker.stop()


def _send_all(bootstrap: str, records: list[tuple[str, dict]], payloads: list[bytes]) -> None:
    """Every record on intake.web at once, acknowledged."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=256_000)
    try:
        for (_, record), payload in zip(records, payloads):
            producer.send(topics.INTAKE["web"], key=record["id"].encode(), value=payload)
        producer.flush()
    finally:
        producer.close()


def _throughput(workers: _Workers) -> dict:
    """Records/s of workers started with records waiting (`_Workers(waiting=...)`): from the first rows seen
    after their group is complete to the last record stored, counting only the rows stored in that time
    (rows stored before the clock started are not the clock's); and the cores the workers and the broker
    used meanwhile (CPU seconds over those wall seconds)."""
    total = len(workers.waiting[0])
    store = services.open_store(workers.db)
    try:
        first_at, deadline = None, time.perf_counter() + 600
        while True:
            stored, now = store.count_tickets(), time.perf_counter()
            if stored and first_at is None:
                first_at, stored_at_first, cpu_at_first = now, stored, workers.cpu_seconds()
            if stored >= total:
                break
            workers.check()
            if now > deadline:
                raise RuntimeError(f"{workers.name}: {stored} of {total} stored after 600 s")
            time.sleep(0.02)
        cpu_at_last = workers.cpu_seconds()
    finally:
        store.close()
    timed = total - stored_at_first
    if timed < total // 4:
        raise RuntimeError(f"{workers.name}: {stored_at_first} of {total} records were stored before the clock "
                           "started; send more records")
    seconds = max(now - first_at, 1e-6)
    cores = {name: None if cpu_at_last[name] is None or cpu_at_first[name] is None
             else round((cpu_at_last[name] - cpu_at_first[name]) / seconds, 2) for name in cpu_at_last}
    return {"msgs_per_s": round(timed / seconds, 1), "timed_records": timed, "seconds": round(seconds, 3),
            "peak_rss_mb": workers.peak_rss_mb(), "cores": cores}


def _pooled(first: dict, second: dict) -> dict:
    """Two throughput runs as one: their timed records over their timed seconds, their cores weighted by
    their seconds, the peak memory of both."""
    timed, seconds = first["timed_records"] + second["timed_records"], first["seconds"] + second["seconds"]
    cores = {name: None if first["cores"][name] is None or second["cores"][name] is None
             else round((first["cores"][name] * first["seconds"] + second["cores"][name] * second["seconds"]) / seconds, 2)
             for name in first["cores"]}
    return {"msgs_per_s": round(timed / seconds, 1), "timed_records": timed, "seconds": round(seconds, 3),
            "peak_rss_mb": first["peak_rss_mb"] + second["peak_rss_mb"], "cores": cores}


def _latency(workers: _Workers, records: list[tuple[str, dict]], payloads: list[bytes], rate: float) -> dict:
    """Records sent at a fixed rate; each one's time from being sent to being visible in the store."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=workers.broker.bootstrap, linger_ms=5)
    # Read-only, only the two columns needed: polling must not slow the worker it measures.
    store = sqlite3.connect(f"file:{workers.db}?mode=ro", uri=True)
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    last_seq, start = 0, time.perf_counter()
    try:
        i = 0
        deadline = start + len(records) / rate + 120
        while len(seen_at) < len(records):
            now = time.perf_counter()
            due = min(len(records), int((now - start) * rate) + 1)
            for (_, record), payload in zip(records[i:due], payloads[i:due]):
                producer.send(topics.INTAKE["web"], key=record["id"].encode(), value=payload)
                sent_at[f"web-{record['id']}"] = time.perf_counter()
            if due > i:
                producer.flush()
                i = due
            rows = store.execute("SELECT ticket_id, seq FROM tickets WHERE seq > ?", (last_seq,)).fetchall()
            now = time.perf_counter()
            for ticket_id, seq in rows:
                seen_at.setdefault(ticket_id, now)
                last_seq = max(last_seq, seq)
            workers.check()
            if now > deadline:
                raise RuntimeError(f"{workers.name}: {len(seen_at)} of {len(records)} visible in time")
            time.sleep(0.02)
    finally:
        producer.close()
        store.close()
    latencies = sorted(seen_at[k] - sent_at[k] for k in seen_at if k in sent_at)
    return {
        "offered_msgs_per_s": rate,
        "records": len(latencies),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "peak_rss_mb": workers.peak_rss_mb(),
    }


def _faust_noop(tmp: Path, bootstrap: str, count: int) -> float:
    """Records/s of a Faust agent doing nothing, reading the same topic."""
    out = tmp / "noop.txt"
    process = subprocess.Popen([sys.executable, "-m", "cli.bench_faust_noop", bootstrap, topics.INTAKE["web"], str(count), str(out)],
                               stdout=open(tmp / "noop.log", "wb"), stderr=subprocess.STDOUT,
                               cwd=str(Path(__file__).resolve().parent.parent))
    try:
        process.wait(300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise RuntimeError("the no-op Faust agent did not read the records within 300 s") from None
    seconds, records = out.read_text().split()
    return int(records) / float(seconds)


def run_bench(settings: Settings, count: int, model_path: Path | None = None, latency_rate: float = 1000.0,
              latency_seconds: float = 15.0, progress=lambda message: None) -> dict:
    """Every figure of `hotline bench`; `progress(message)` is told as each step begins."""
    progress("model")
    model_path = model_path or services.ensure_model(settings, echo=lambda *_: None)
    records = bench_records(count)
    payloads = [encode(r) for _, r in records]
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        tmp = Path(tmp)
        # 1. the work alone
        progress(f"pipeline only: {count:,} records in-process")
        store = services.open_store(tmp / "pipeline-only.db")
        pipeline = services.build_pipeline(settings, store, model_path)  # the one a worker runs
        settle_garbage_collector()  # as a worker does once built (so also for the classification figures below)
        raw = [RawRecord("web", r["id"].encode(), p) for (_, r), p in zip(records, payloads)]
        start = time.perf_counter()
        for i in range(0, len(raw), settings.batch_size):
            pipeline.process(raw[i:i + settings.batch_size])
        pipeline_rate = count / (time.perf_counter() - start)
        store.close()

        # 2. references on one broker: a raw aiokafka consumer and a Faust agent doing nothing
        progress("references: raw aiokafka consumer, Faust no-op agent")
        with EmbeddedBroker(log_path=tmp / "broker.log") as broker:
            create_topics(broker.bootstrap, settings.topics)
            _send_all(broker.bootstrap, records, payloads)
            raw_rate = count / asyncio.run(_raw_consume(broker.bootstrap, topics.INTAKE["web"], count))
            noop_rate = _faust_noop(tmp, broker.bootstrap, count)

        # 3. end to end: one worker, two workers, one worker again (the machine's speed drifts within minutes:
        # two workers are compared with the one-worker runs on either side of them), and latency at a fixed
        # offered rate
        progress(f"end to end: one worker, {count:,} records")
        with _Workers(tmp, "one-worker", 1, model_path, settings, waiting=(records, payloads)) as workers:
            worker_ready_s = workers.ready_s
            one_before = _throughput(workers)
        progress(f"end to end: two workers, {count:,} records")
        with _Workers(tmp, "two-workers", 2, model_path, settings, waiting=(records, payloads)) as workers:
            two = _throughput(workers)
        progress(f"end to end: one worker again, {count:,} records")
        with _Workers(tmp, "one-worker-again", 1, model_path, settings, waiting=(records, payloads)) as workers:
            one_after = _throughput(workers)
        one = _pooled(one_before, one_after)
        progress(f"latency: {latency_rate:g} records/s offered for {latency_seconds:g} s")
        paced = bench_records(int(latency_rate * latency_seconds))
        with _Workers(tmp, "latency", 1, model_path, settings) as workers:
            latency = _latency(workers, paced, [encode(r) for _, r in paced], latency_rate)
    progress("classification on one core")
    classification = bench_classification(settings, model_path)
    return {
        "records": count,
        "batch_size": settings.batch_size,
        "end_to_end_msgs_per_s": one["msgs_per_s"],
        "end_to_end_one_worker_runs_msgs_per_s": [one_before["msgs_per_s"], one_after["msgs_per_s"]],
        "end_to_end_two_workers_msgs_per_s": two["msgs_per_s"],
        # the records stored, and the seconds, between the first rows seen and the last (what each rate is)
        "timed": {run: {"records": r["timed_records"], "seconds": r["seconds"]}
                  for run, r in (("one_worker", one), ("two_workers", two))},
        "two_workers_vs_one": round(two["msgs_per_s"] / one["msgs_per_s"], 3),
        # cores busy while the records flowed (this machine has os.cpu_count() of them)
        "cores_used": {"one_worker": one["cores"], "two_workers": two["cores"], "machine": os.cpu_count()},
        "worker_peak_rss_mb": max(filter(None, one["peak_rss_mb"] + two["peak_rss_mb"] + latency["peak_rss_mb"]), default=None),
        "worker_start_to_ready_s": round(worker_ready_s, 2),
        "latency": latency,
        "pipeline_only_msgs_per_s": round(pipeline_rate, 1),
        "raw_aiokafka_msgs_per_s": round(raw_rate, 1),
        "faust_noop_agent_msgs_per_s": round(noop_rate, 1),
        "end_to_end_vs_pipeline_only": round(one["msgs_per_s"] / pipeline_rate, 3),
        "end_to_end_vs_faust_noop": round(one["msgs_per_s"] / noop_rate, 3),
        "end_to_end_vs_raw_aiokafka": round(one["msgs_per_s"] / raw_rate, 4),
        "targets": {
            "end_to_end_5000_per_worker": one["msgs_per_s"] >= 5000,
            # judged only at the rate the target names
            "p99_at_1000_offered_within_1s": latency["p99_ms"] <= 1000 if latency_rate == 1000 else None,
            "worker_rss_within_500mb": all(m is not None and m <= 500 for m in one["peak_rss_mb"] + two["peak_rss_mb"]),
            "two_workers_at_least_1_7x": two["msgs_per_s"] >= 1.7 * one["msgs_per_s"],
        },
        "classification": classification,
    }
