"""`hotline ingest`: send a file's rows, then wait until each is stored or rejected, and summarise."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from cli import services
from hotline.deadletters import rejection_id
from hotline.models import TicketEvent
from hotline.timestamps import TimestampError, parse_timestamp
from streams import topics
from cli.settings import Settings
from intake.readers import ColumnMap, MappingError, count_rows, detect_format, read_rows
from streams.producer import HotlineProducer


def run_ingest(settings: Settings, path: Path, channel: str, columns: dict, fmt: str | None, encoding: str,
               sheet: str | None, wait: bool, timeout: float) -> int:
    bootstrap = services.bootstrap_or_fail(settings)
    try:
        fmt = detect_format(path, fmt)
        rows = read_rows(path, ColumnMap(columns), fmt, encoding, sheet)
        first = next(rows, None)  # reads the header: a wrong column mapping fails before anything is sent
    except (MappingError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not {encoding} text ({exc.reason}); try --encoding gb18030") from None
    producer = HotlineProducer(bootstrap, settings.max_record_bytes)
    store = services.store_for(settings) if wait else None
    before = (store.count_tickets(), store.count_rejections()) if store else (0, 0)
    expected = []
    replies: list[tuple[str, str, str, object]] = []  # ticket id, row ref, reply text, reply time
    unreadable = oversize = 0
    try:
        with tqdm(total=count_rows(path, fmt), desc=f"sending to intake.{channel}", unit="row", file=sys.stderr) as bar:
            for row in _chain(first, rows):
                reply = _pop_reply(row.record) if row.record is not None else None
                if row.record is None:
                    rejection = producer.reject(channel, row.ref, row.error or "unreadable row", row.original)
                    expected.append((None, rejection))
                    unreadable += 1
                else:
                    sent = producer.send(channel, row.record, row.ref)
                    expected.append((sent.ticket_id, sent.rejection_id))
                    oversize += sent.rejected_at_intake
                    if reply is not None and sent.ticket_id:
                        replies.append((sent.ticket_id, row.ref, *reply))
                bar.update(1)
        producer.flush()
    finally:
        producer.close()
    click.echo(f"read {len(expected)} rows from {path.name}: sent {len(expected) - unreadable - oversize} to intake.{channel}, "
               f"rejected at intake {unreadable + oversize} (unreadable {unreadable}, too large {oversize})", err=True)
    if not store:
        return 0
    accounted = _wait_for_pipeline(store, expected, timeout)
    tickets, letters = store.count_tickets() - before[0], store.count_rejections() - before[1]
    click.echo(f"pipeline: {accounted} of {len(expected)} rows accounted for (stored or rejected); "
               f"new tickets {tickets}, new dead letters {letters}; "
               f"see `hotline export` and `hotline export --rejected`", err=True)
    if accounted < len(expected):
        click.echo(f"error: {len(expected) - accounted} rows not accounted for after {timeout:.0f} s; "
                   "is the worker running? (see the logs of `hotline up`)", err=True)
        return 1
    if replies:
        return _replay_replies(settings, store, bootstrap, path, replies, timeout)
    return 0


def _pop_reply(record: dict) -> tuple[str, object] | None:
    """Take the historical reply out of a row (it is not part of the ticket); None when the row has none."""
    text, moment = record.pop("reply", None), record.pop("reply_time", None)
    if (text is None or not str(text).strip()) and (moment is None or not str(moment).strip()):
        return None
    return str(text or "").strip(), moment


def _replay_replies(settings: Settings, store, bootstrap: str, path: Path, replies, timeout: float) -> int:
    """Each stored ticket's historical reply becomes a `replied` event (idempotent by event id); a reply
    with an unreadable time, or one the lifecycle refuses (before receipt), ends as a dead letter."""
    stored = set(store.content_hashes([ticket_id for ticket_id, *_ in replies]))
    producer = HotlineProducer(bootstrap, settings.max_record_bytes)
    pending: list[tuple[str, str]] = []  # event id, dead-letter id if refused
    unreadable = 0
    try:
        for ticket_id, ref, text, moment in tqdm(replies, desc="sending replies", unit="reply", file=sys.stderr):
            if ticket_id not in stored:
                continue  # the ticket itself was rejected: its dead letter says why
            try:
                at = parse_timestamp(moment)
            except TimestampError as exc:
                producer.reject(topics.EVENTS, f"{ref}:reply", f"reply time: {exc}", json.dumps(
                    {"ticket_id": ticket_id, "reply": text, "reply_time": str(moment)}, ensure_ascii=False).encode())
                unreadable += 1
                continue
            event = TicketEvent(event_id=f"{ticket_id}:imported-reply", ticket_id=ticket_id, kind="replied", at=at,
                                actor=f"import:{path.name}", data={"reply": text, "imported": True})
            producer.send_event(event)
            pending.append((event.event_id, rejection_id(topics.EVENTS, event.model_dump_json().encode())))
        producer.flush()
    finally:
        producer.close()
    missing = len(pending) - _wait_until_kept(pending, store.stored_event_ids, store.stored_rejection_ids,
                                              "replies applied or refused", timeout)
    click.echo(f"replies: {len(replies)} read, {unreadable} with an unreadable time (dead letters); "
               f"the rest applied or refused (refusals are dead letters with the reason)", err=True)
    if missing:
        click.echo(f"error: {missing} replies not applied after {timeout:.0f} s", err=True)
        return 1
    return 0


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _wait_for_pipeline(store, expected: list[tuple[str | None, str]], timeout: float) -> int:
    return _wait_until_kept(expected, lambda ids: set(store.content_hashes([i for i in ids if i])),
                            store.stored_rejection_ids, "stored or rejected", timeout)


def _wait_until_kept(expected: list[tuple[str | None, str]], kept, refused, what: str, timeout: float) -> int:
    """Wait until each (id, dead-letter id) pair is kept or refused (a dead letter); returns how many are."""
    pending = list(expected)
    deadline = time.monotonic() + timeout
    with tqdm(total=len(expected), desc=what, unit="row", file=sys.stderr) as bar:
        while pending:
            found, letters = kept([i for i, _ in pending]), refused([r for _, r in pending])
            still = [(i, r) for i, r in pending if i not in found and r not in letters]
            bar.update(len(pending) - len(still))
            pending = still
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return len(expected) - len(pending)
