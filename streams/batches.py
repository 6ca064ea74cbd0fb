"""Reading topics in batches with a plain aiokafka consumer, and sending with acknowledgement.

The records the workers and the opinion monitor must not lose are read here rather than by Faust agents:

- Faust hands every record through its conductor and stream one at a time (about 145 µs a record on this
  machine before any work); aiokafka's `getmany` hands over a whole fetch.
- Around a rebalance Faust can skip records: it moves its read offset past records it dropped while the
  flow was stopped, and commits offsets it took for a gap. The opinion monitor once missed 10 contiguous
  dispatched tickets after its start-up rebalance (faust-streaming issues #216 and #606 describe the same).

A handler works in two steps, so that a worker's CPU is not idle while Kafka acknowledges what it sent:
`handle(records)` does the batch's work (its store writes) and returns its `Finish`, the rest (sending what
the work produced, acknowledged), or None. The next batch is fetched and handled while a batch finishes;
finishes run one at a time, in the order of their batches.

At least once, nothing skipped:

- A batch's offsets are committed only after its finish returned: its store writes done and every record it
  sent acknowledged by Kafka.
- A batch whose handling fails is handled again after a back-off (0.5 s doubling to 30 s), never skipped; a
  finish that fails is run again the same way.
- When a rebalance takes partitions away, the revoke callback waits for the batch in hand and the one
  finishing, so their offsets are committed before another member takes over. Records fetched before a
  rebalance for partitions this member no longer holds are left to their new owner, which reads them from
  the committed offset.
- After a rebalance the consumer reads its partitions again from the committed offsets; records below them
  that it still hands over from fetches made before the rebalance are left out, so a member is not given
  again what it handled of a partition it kept.

What is handled twice after a crash (the batch after the last commit) the handlers recognise: the store
keeps a ticket, event or dead letter once, and the monitor counts a ticket once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.partitioner import DefaultPartitioner

log = logging.getLogger(__name__)

# The embedded broker holds a fetch that finds nothing for the whole wait (see streams/faust_transport.py).
FETCH_MAX_WAIT_MS = 50
# The embedded broker makes a joining member wait for the group's whole rebalance timeout: keep it short.
SESSION_TIMEOUT_MS = 10_000
REBALANCE_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 1_000


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class Sender:
    """An aiokafka producer whose `send_all` returns once Kafka acknowledged every record."""

    def __init__(self, bootstrap: str, client_id: str):
        # Batches of up to 512 KiB per partition, not aiokafka's 16 KiB: a dispatched ticket is about 1.5 KiB, and
        # fewer, larger batches cost the event loop and the broker less per record (the broker's CPU halved here).
        self._config = {"bootstrap_servers": bootstrap, "client_id": client_id, "acks": "all", "linger_ms": 5,
                        "max_batch_size": 512 * 1024, "request_timeout_ms": 20_000}
        self._producer: AIOKafkaProducer | None = None  # made in start(): aiokafka wants the running event loop
        self._partitioner = DefaultPartitioner()  # the producer's own: a key goes where `send` would put it

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._config)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send_all(self, messages: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        """Send (topic, key, value) records; raises if Kafka did not take one of them. Each record goes to the
        partition the producer's own partitioner gives its key, in order; the records of a partition are put
        in whole batches (aiokafka's batch API), not one `send` each, which costs the event loop a future, a
        partition lookup and a call into the accumulator per record."""
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        by_partition: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = {}
        for topic, key, value in messages:
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            choices = partitions[topic]
            # the partitioner hashes the key in Python: not for a topic of one partition (tickets.dispatched)
            partition = choices[0] if len(choices) == 1 else self._partitioner(key, choices, choices)
            by_partition.setdefault((topic, partition), []).append((key, value))
        futures = []
        for (topic, partition), records in by_partition.items():
            batch = producer.create_batch()
            for key, value in records:
                # full: send it and start another (a new batch takes its first record whatever its size)
                while batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)


# The rest of a batch's handling, run while the next batch is handled (see the module's docstring).
Finish = Callable[[], Awaitable[None]]


class BatchReader(ConsumerRebalanceListener):
    """Read `topics` as a member of `group_id` and give `handle` batches of up to `batch_size` records,
    waiting at most `batch_within` seconds for a batch to fill once its first record is at hand; `handle`
    returns the batch's `Finish` or None. `on_assigned` (optional) runs after every rebalance, before the
    next batch is read."""

    def __init__(
        self, bootstrap: str, group_id: str, topics: Sequence[str],
        handle: Callable[[list[Record]], Awaitable[Finish | None]], batch_size: int = 500, batch_within: float = 0.0,
        on_assigned: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        first_delay: float = 0.5, max_delay: float = 30.0,
    ):
        self.group_id = group_id
        self.topics = list(topics)
        self.batch_size = batch_size
        self.batch_within = batch_within
        self._handler = handle
        self._on_assigned = on_assigned
        self._delays = (first_delay, max_delay)
        self._bootstrap = bootstrap
        self._in_hand = asyncio.Lock()
        self._handled_to: dict[TopicPartition, int] = {}  # per partition held: the offset after the last handled
        self._finishing: asyncio.Task | None = None  # the previous batch's finish, then its commit
        self.consumer: AIOKafkaConsumer | None = None  # made in run(): aiokafka wants the running event loop

    async def run(self) -> None:
        """Join the group and handle batches until cancelled; the consumer leaves the group on the way out."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=self.group_id, client_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.batch_size,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS, session_timeout_ms=SESSION_TIMEOUT_MS,
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
        await self.consumer.start()
        try:
            self.consumer.subscribe(self.topics, listener=self)
            while True:
                records = await self._next_batch()
                async with self._in_hand:
                    if records:
                        await self._handle_batch(records)
        finally:
            await self._stop_finishing()
            await self.consumer.stop()

    async def _next_batch(self) -> list[Record]:
        fetched = await self.consumer.getmany(timeout_ms=1000, max_records=self.batch_size)
        records = _records(fetched)
        give_up = time.monotonic() + self.batch_within
        while records and len(records) < self.batch_size and (left := give_up - time.monotonic()) > 0:
            more = _records(await self.consumer.getmany(timeout_ms=max(1, int(left * 1000)),
                                                        max_records=self.batch_size - len(records)))
            if not more:
                break
            records += more
        return records

    async def _handle_batch(self, records: list[Record]) -> None:
        # Records fetched before a rebalance that gave their partition to another member are left to it: it
        # reads them from the committed offset. Records below the committed offset, or below what this member
        # handled since, are handled already.
        # (A rebalance between two fetches of one batch can make the batch hold the same records twice.)
        held = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in self._handled_to.items() if tp in held}
        mine: list[Record] = []
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in held and record.offset >= offsets.get(tp, 0):
                mine.append(record)
                offsets[tp] = record.offset + 1
        if not mine:
            return
        finish = await self._again_until_done(lambda: self._handler(mine), f"a batch of {len(mine)} records")
        handled = {TopicPartition(r.topic, r.partition) for r in mine}
        offsets = {tp: offset for tp, offset in offsets.items() if tp in handled}
        self._handled_to.update(offsets)
        await self._settled()  # finishes one at a time, in order
        self._finishing = asyncio.create_task(self._finish_and_commit(finish, offsets, len(mine)))

    async def _again_until_done(self, step: Callable[[], Awaitable], what: str):
        """Run step() until it returns, after a back-off each time it fails; its result."""
        delay, max_delay = self._delays
        while True:
            try:
                return await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; handling it again in %.1f s", what, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def _finish_and_commit(self, finish: Finish | None, offsets: dict[TopicPartition, int], count: int) -> None:
        if finish is not None:
            await self._again_until_done(finish, f"finishing a batch of {count} records")
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on (this member was too slow or left): the new owner handles these again.
            log.warning("offsets of a handled batch not committed (%s); they will be handled again", exc)

    async def _settled(self) -> None:
        """Once the batch finishing (if any) is finished and its offsets committed. The reader being stopped
        meanwhile does not stop the finish (see `_stop_finishing`)."""
        if self._finishing is not None:
            await asyncio.shield(self._finishing)
            self._finishing = None

    async def _stop_finishing(self, wait: float = 10.0) -> None:
        """On the way out: give the batch finishing `wait` seconds to be acknowledged and committed, else
        leave it (its records are handled again by the partition's next reader)."""
        if self._finishing is None:
            return
        done, _ = await asyncio.wait([self._finishing], timeout=wait)
        if not done:
            self._finishing.cancel()
            log.warning("a batch still finishing after %.0f s on the way out: its records will be handled again",
                        wait)
        elif not self._finishing.cancelled() and (error := self._finishing.exception()) is not None:
            log.error("a batch's finish failed on the way out: its records will be handled again", exc_info=error)
        self._finishing = None

    async def on_partitions_revoked(self, revoked) -> None:
        async with self._in_hand:  # the batch in hand is handled, finished and committed before the group moves on
            await self._settled()

    async def on_partitions_assigned(self, assigned) -> None:
        async with self._in_hand:
            await self._settled()
            # The group's committed offsets say what is handled: the consumer reads on from them, and records
            # below them that it still hands over from fetches made before the rebalance are left out. (Not this
            # member's own marks: a topic made anew, as when the embedded broker restarts, starts again at 0.)
            self._handled_to = {}
            for tp in assigned:
                committed = await self.consumer.committed(tp)
                if committed is not None:
                    self._handled_to[tp] = committed
            if self._on_assigned is not None:
                await self._on_assigned(set(assigned))


def _records(fetched: dict) -> list[Record]:
    return [Record(m.topic, m.partition, m.offset, m.key, m.value or b"") for messages in fetched.values() for m in messages]
