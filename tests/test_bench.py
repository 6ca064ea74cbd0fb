"""`hotline bench --json` on the embedded broker, small: every figure is there, positive and consistent
with the targets it reports, progress goes to stderr, and no worker or broker is left running."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import hotline_command


def _running(pattern: str) -> set[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


@pytest.mark.broker
@pytest.mark.timeout(900)
def test_bench_prints_every_figure_as_json(sample_model):
    before = _running("hotline-bench-")
    done = subprocess.run(hotline_command("bench", "--json", "--records", "3000", "--latency-rate", "200",
                                          "--latency-seconds", "3", "--model", str(sample_model)),
                          capture_output=True, timeout=850)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    figures = json.loads(done.stdout)
    rates = ["end_to_end_msgs_per_s", "end_to_end_two_workers_msgs_per_s", "pipeline_only_msgs_per_s",
             "raw_aiokafka_msgs_per_s", "faust_noop_agent_msgs_per_s"]
    assert all(figures[k] > 0 for k in rates), figures
    assert figures["records"] == 3000 and figures["latency"]["records"] == 600
    latency = figures["latency"]
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert 0 < figures["worker_peak_rss_mb"] < 24_000
    for run, rate, runs in (("one_worker", "end_to_end_msgs_per_s", 2), ("two_workers", "end_to_end_two_workers_msgs_per_s", 1)):
        # the clock starts at the first rows seen: the rows stored before it are not counted in its rate
        timed = figures["timed"][run]
        assert runs * figures["records"] // 4 <= timed["records"] < runs * figures["records"], figures["timed"]
        assert figures[rate] == pytest.approx(timed["records"] / timed["seconds"], rel=0.01), figures
    low, high = sorted(figures["end_to_end_one_worker_runs_msgs_per_s"])  # one worker before and after two
    assert low <= figures["end_to_end_msgs_per_s"] <= high, figures
    assert figures["two_workers_vs_one"] == round(figures["end_to_end_two_workers_msgs_per_s"] / figures["end_to_end_msgs_per_s"], 3)
    cores = figures["cores_used"]
    assert cores["machine"] >= 1
    for run in ("one_worker", "two_workers"):  # CPU seconds over wall seconds: some work, at most every core
        assert 0 < cores[run]["workers"] <= cores["machine"] + 0.2 and 0 <= cores[run]["broker"] <= cores["machine"] + 0.2, cores
    targets = figures["targets"]
    assert targets["end_to_end_5000_per_worker"] == (figures["end_to_end_msgs_per_s"] >= 5000)
    assert targets["p99_at_1000_offered_within_1s"] is None  # 200/s offered: not the rate the target names
    assert targets["two_workers_at_least_1_7x"] == (figures["end_to_end_two_workers_msgs_per_s"] >= 1.7 * figures["end_to_end_msgs_per_s"])
    assert figures["classification"]["segment_and_predict_msgs_per_s_per_core"] > 0
    progress = done.stderr.decode()
    assert "end to end: two workers" in progress and "end to end: one worker again" in progress and "latency: 200 records/s" in progress
    assert _running("hotline-bench-") <= before  # the bench's workers and brokers are gone
