"""`hotline archive`: the answered tickets of a period as the centre publishes them (归档公开), CSV or JSONL."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from typing import Callable, TextIO

from tqdm import tqdm

from hotline.archive import COLUMNS, public_record, withheld
from hotline.statistics import Period, select


def write_archive(store, period: Period, unit_name: Callable[[str], str], fmt: str, out: TextIO) -> Counter:
    """Write the period's published records to `out`; count them ("published") and the withheld by reason."""
    counts: Counter = Counter()
    tickets = select(tqdm(store.iter_tickets(), total=store.count_tickets(), desc="reading tickets", unit="ticket",
                          file=sys.stderr), period)
    writer = None
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow([heading for _, heading in COLUMNS])
    for ticket in tickets:
        reason = withheld(ticket)
        if reason:
            counts[reason] += 1
            continue
        record = public_record(ticket, store.ticket_events(ticket["ticket_id"]), unit_name)
        if writer is not None:
            writer.writerow(["" if record[name] is None else record[name] for name, _ in COLUMNS])
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        counts["published"] += 1
    return counts
