"""The Faust worker process is configured so that debug logging costs nothing: its root logger stays at the
level asked for (Faust's terminal spinner would set it to DEBUG and build a record for every debug call)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from cli.settings import PROJECT_DIR
from streams.broker import EmbeddedBroker

PROGRAM = textwrap.dedent("""
    import json, logging, os, sys
    import faust
    from streams.app import run_worker

    app = faust.App("logging-check", broker=f"kafka://{sys.argv[1]}", web_enabled=False, datadir=sys.argv[2],
                    broker_session_timeout=10, broker_heartbeat_interval=1, broker_rebalance_timeout=10)

    @app.timer(interval=0.2)
    async def report():
        root = logging.getLogger()
        facts = {"root": root.level, "aiokafka_debug": logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG),
                 "handlers": [type(h).__name__ for h in root.handlers]}
        with open(sys.argv[3], "w") as out:
            json.dump(facts, out)
        os._exit(0)

    run_worker(app, "warn")
""")


@pytest.mark.broker
def test_a_worker_at_warn_builds_no_debug_records(tmp_path):
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        out = tmp_path / "facts.json"
        done = subprocess.run([sys.executable, "-c", PROGRAM, broker.bootstrap, str(tmp_path / "data"), str(out)],
                              cwd=PROJECT_DIR, capture_output=True, timeout=120)
        assert out.exists(), done.stderr.decode()[-2000:]
    facts = json.loads(out.read_text())
    assert facts["root"] == 30 and not facts["aiokafka_debug"], facts
    assert "SpinnerHandler" not in facts["handlers"]
