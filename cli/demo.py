"""`hotline demo`'s traffic: the sample replayed into Kafka as if it had arrived over the last days, with a
few malformed records among it and an issue breaking at the end (samples/demo.py), and the units' handling of
each replayed ticket, sent as ticket events once the worker has stored it (samples/handling.py)."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Callable

from hotline.calendar import WorkCalendar
from hotline.clock import Clock
from samples.demo import BREAKING, replay
from samples.handling import handling
from stores.base import Store
from streams.producer import DeliveryError, HotlineProducer

FIRST_LOOK_S = 2.0  # after sending a record, when to look for its ticket in the store
LOOK_EVERY_S = 2.0
GIVE_UP_S = 120.0  # a record neither stored nor refused by then is reported as lost


class DemoReplay:
    """Call `step()` often; `done` once everything is sent. Whatever Kafka did not acknowledge is sent again
    (records and events keep their ids, so the worker keeps each once)."""

    def __init__(self, bootstrap: str, max_record_bytes: int, store: Store, clock: Clock, calendar: WorkCalendar,
                 rate: float, burst: int, echo: Callable[..., None]):
        self.bootstrap, self.max_record_bytes = bootstrap, max_record_bytes
        self.store, self.clock, self.calendar, self.echo = store, clock, calendar, echo
        self.rate, self.burst = max(rate, 0.01), burst
        self.records = replay(clock())
        self.producer = HotlineProducer(bootstrap, max_record_bytes)
        self.sent = 0
        self.next_at = time.monotonic()
        # records to look for in the store, in the order of when to look: (ticket id or None for a record
        # without an id, the id of its dead letter if it is refused, look at, give up at)
        self.waiting: deque[tuple[str | None, str, float, float]] = deque()
        self.handled: Counter = Counter()
        self.refused = 0
        self.lost = 0
        self.done = False
        echo(f"demo: replaying {len(self.records)} sample records received over the last days, the last {BREAKING} "
             f"about one issue breaking now ({burst} at once, then {rate}/s); each stored ticket is then handled by its unit")

    def step(self) -> None:
        """Send what is due: the next records, and the handling of the tickets stored since."""
        if self.done:
            return
        now = time.monotonic()
        try:
            self._send_records(now)
            self._send_handling(now)
        except DeliveryError as exc:  # e.g. the broker restarting: a new producer, and the same again soon
            self.echo(f"demo: {exc}; sending again in a second", err=True)
            self.producer.discard()
            self.producer = HotlineProducer(self.bootstrap, self.max_record_bytes)
            self.next_at = now + 1.0
            return
        if self.sent == len(self.records) and not self.waiting:
            self.done = True
            counts = ", ".join(f"{kind} {n}" for kind, n in sorted(self.handled.items()))
            self.echo(f"demo: the whole sample has been sent; {self.refused} malformed records refused (see 退回记录 "
                      f"Dead letters); the units' handling: {counts or 'none'}"
                      f"{f'; {self.lost} records neither stored nor refused after {GIVE_UP_S:g} s' if self.lost else ''}"
                      "; Ctrl-C stops")

    def _send_records(self, now: float) -> None:
        if self.sent >= len(self.records) or now < self.next_at:
            return
        first = self.sent
        batch = self.records[first:first + (self.burst if first == 0 else 1)]
        # the ref keys a record without an id (one of the malformed ones) and names it in its dead letter
        sent = [self.producer.send(channel, record, ref=f"demo record {first + i + 1}")
                for i, (channel, record) in enumerate(batch)]
        self.producer.flush()  # DeliveryError before anything counts as sent
        self.sent += len(batch)
        self.next_at = now + 1.0 / self.rate
        self.waiting.extend((s.ticket_id, s.rejection_id, now + FIRST_LOOK_S, now + GIVE_UP_S) for s in sent)

    def _send_handling(self, now: float) -> None:
        """Tickets come off `waiting` only once their events are acknowledged; one not stored yet is looked
        for again later (appended: `waiting` stays in the order of when to look)."""
        due = []
        while self.waiting and self.waiting[0][2] <= now:
            due.append(self.waiting.popleft())
        refused = self.store.stored_rejection_ids([rejection_id for _, rejection_id, _, _ in due]) if due else set()
        ready, events = [], []
        for ticket_id, rejection_id, _, give_up_at in due:
            ticket = self.store.get_ticket(ticket_id) if ticket_id else None
            if ticket is not None:
                ready.append((ticket_id, rejection_id, give_up_at))
                events += handling(ticket, self.clock(), self.calendar)
            elif rejection_id in refused:
                self.refused += 1
            elif now < give_up_at:
                self.waiting.append((ticket_id, rejection_id, now + LOOK_EVERY_S, give_up_at))
            else:
                self.lost += 1
        try:
            for event in events:
                self.producer.send_event(event)
            self.producer.flush()
        except DeliveryError:
            self.waiting.extendleft((ticket_id, rejection_id, now + 1.0, give_up_at)
                                    for ticket_id, rejection_id, give_up_at in reversed(ready))
            raise
        self.handled.update(event.kind for event in events)

    def close(self) -> None:
        try:
            self.producer.close()
        except DeliveryError as exc:
            self.echo(f"demo: {exc}", err=True)
        finally:
            self.store.close()
