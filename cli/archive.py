"""`hotline archive`: the answered tickets of a period as the centre publishes them (归档公开), CSV or JSONL."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from dataclasses import replace
from typing import Callable, TextIO

from tqdm import tqdm

from hotline.archive import csv_rows, publish
from stores.base import TicketQuery


def write_archive(store, selected: TicketQuery, unit_name: Callable[[str], str], fmt: str, out: TextIO,
                  mask_text: Callable[[str], str]) -> Counter:
    """Write the published records of the tickets selected to `out`, their texts masked by `mask_text`
    (hotline.archive.publication_mask); count them ("published") and the withheld by reason."""
    counts: Counter = Counter()
    total = store.search(replace(selected, limit=1))[1]
    # read a page at a time, with their replies in chunks (hotline.archive.publish)
    tickets = tqdm(store.iter_tickets(selected), total=total, desc="publishing", unit="ticket", file=sys.stderr)
    records = publish(tickets, store.events_by_ticket, unit_name, counts, mask_text)
    if fmt == "csv":
        csv.writer(out).writerows(csv_rows(records))
    else:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return counts
