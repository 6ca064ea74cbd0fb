"""How the Faust worker processes are configured, checked in a running one on the embedded broker: debug
logging costs nothing (its root logger stays at the level asked for; Faust's terminal spinner would set it
to DEBUG and build a record for every debug call), and its consumer's fetches wait 50 ms, not Faust's 1.5 s
(the embedded broker holds a fetch for the whole wait); and its garbage collector leaves out what was built
before it ran and scans young objects less often (hotline.process). Reading the fetcher's setting reaches
into aiokafka's private attributes: there is no public way to read it back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from cli.settings import PROJECT_DIR
from streams.broker import EmbeddedBroker

PROGRAM = textwrap.dedent("""
    import gc, json, logging, os, sys
    from pathlib import Path
    from streams.app import _faust_app, run_worker

    app = _faust_app("config-check", sys.argv[1], Path(sys.argv[2]))
    app.topic("config-check-topic")

    @app.timer(interval=0.2)
    async def report():
        root = logging.getLogger()
        fetcher = getattr(app.consumer._thread._consumer, "_fetcher", None)
        if fetcher is None:
            return  # not fetching yet
        facts = {"root": root.level, "aiokafka_debug": logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG),
                 "handlers": [type(h).__name__ for h in root.handlers], "fetch_wait_ms": fetcher._fetch_max_wait_ms,
                 "gc_threshold": gc.get_threshold(), "gc_frozen": gc.get_freeze_count()}
        with open(sys.argv[3], "w") as out:
            json.dump(facts, out)
        os._exit(0)

    run_worker(app, "warn")
""")


@pytest.mark.broker
def test_a_worker_builds_no_debug_records_fetches_with_a_short_wait_and_scans_less_garbage(tmp_path):
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        out = tmp_path / "facts.json"
        done = subprocess.run([sys.executable, "-c", PROGRAM, broker.bootstrap, str(tmp_path / "data"), str(out)],
                              cwd=PROJECT_DIR, capture_output=True, timeout=120)
        assert out.exists(), done.stderr.decode()[-2000:]
    facts = json.loads(out.read_text())
    assert facts["root"] == 30 and not facts["aiokafka_debug"], facts
    assert "SpinnerHandler" not in facts["handlers"]
    assert facts["fetch_wait_ms"] == 50
    # the objects made before the worker ran are out of the garbage collector's scans, which run less often
    assert facts["gc_threshold"][0] == 20_000 and facts["gc_frozen"] > 10_000, facts
