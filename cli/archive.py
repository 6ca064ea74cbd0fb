"""`hotline archive`: the answered tickets of a period as the centre publishes them (归档公开), CSV or JSONL."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from typing import Callable, TextIO

from tqdm import tqdm

from hotline.archive import csv_rows, publish
from hotline.statistics import Period, select


def write_archive(store, period: Period, domain: str | None, district: str | None, unit_name: Callable[[str], str],
                  fmt: str, out: TextIO) -> Counter:
    """Write the period's published records to `out`; count them ("published") and the withheld by reason."""
    counts: Counter = Counter()
    tickets = select(tqdm(store.iter_tickets(), total=store.count_tickets(), desc="reading tickets", unit="ticket",
                          file=sys.stderr), period, domain, district)
    tickets = tqdm(tickets, desc="publishing", unit="ticket", file=sys.stderr)  # with their replies, read in chunks
    records = publish(tickets, store.events_by_ticket, unit_name, counts)
    if fmt == "csv":
        csv.writer(out).writerows(csv_rows(records))
    else:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return counts
