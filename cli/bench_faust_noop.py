"""A Faust agent that does nothing with the records it reads: `hotline bench`'s reference for Faust's own
per-record cost. Run as `python -m cli.bench_faust_noop BOOTSTRAP TOPIC COUNT OUT`; once it has read COUNT
records it writes "SECONDS RECORDS" to OUT (the records read after its first batch, and the time they took)
and exits."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from tempfile import mkdtemp


def main(bootstrap: str, topic: str, count: int, out: Path) -> None:
    import faust

    from streams.app import run_worker
    from streams.faust_transport import SCHEME

    app = faust.App("hotline-bench-noop", broker=f"{SCHEME}://{bootstrap}", store="memory://", web_enabled=False,
                    datadir=mkdtemp(prefix="hotline-noop-"), key_serializer="raw", value_serializer="raw",
                    consumer_auto_offset_reset="earliest", broker_session_timeout=10, broker_heartbeat_interval=1,
                    broker_rebalance_timeout=10, stream_buffer_maxsize=4096)

    @app.agent(app.topic(topic, key_type=bytes, value_type=bytes))
    async def read(stream):
        seen, first, first_batch = 0, None, 0
        async for events in stream.take_events(1000, within=0.2):
            if first is None:
                first, first_batch = time.perf_counter(), len(events)
            seen += len(events)
            if seen >= count:
                out.write_text(f"{time.perf_counter() - first} {seen - first_batch}")
                os._exit(0)

    run_worker(app, "warn")  # configured as the workers run


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
