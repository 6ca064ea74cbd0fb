"""Output formats of `hotline export` and `hotline classify`."""

from __future__ import annotations

import csv
import json
from typing import TextIO

EXPORT_FIELDS = (
    "ticket_id", "channel", "source_id", "received_at", "received_at_source", "title", "text",
    "district", "ticket_type", "urgency", "domain", "subdomain", "confidence", "top", "model_version",
    "lead_unit", "co_units", "rule_id", "routing_explanation", "status", "accept_due", "reply_due",
    "deadline_policy", "deadline_warnings", "returns", "returned_by", "late_acceptances", "accepted_at",
    "accepted_on_time", "replied_at", "reply_seconds", "reply_working_days", "on_time", "paused_hours",
    "extensions", "closed_at", "satisfaction", "reopened", "urged",
)


def ticket_line(ticket: dict) -> dict:
    """A stored ticket as exported: masked text only, never the personal data."""
    return {name: ticket.get(name) for name in EXPORT_FIELDS}


def classify_stream(model, source: TextIO, title_col: str, text_col: str, id_col: str, out: TextIO,
                    batch: int = 256) -> None:
    first = source.readline()
    if not first:
        return
    stripped = first.lstrip()
    if stripped.startswith("{"):
        rows = (json.loads(line) for line in [first, *source] if line.strip())
    elif title_col in first or text_col in first:
        rows = csv.DictReader([first, *source])
    else:
        rows = ({text_col: line.rstrip("\n")} for line in [first, *source] if line.strip())
    pending: list[dict] = []

    def flush():
        texts = [f"{r.get(title_col) or ''}\n{r.get(text_col) or ''}".strip() for r in pending]
        for row, prediction in zip(pending, model.predict(texts)):
            line = {"domain": prediction.label, "confidence": prediction.confidence,
                    "top": [{"domain": d, "confidence": c} for d, c in prediction.top],
                    "model_version": prediction.model_version}
            if row.get(id_col) is not None:
                line = {"id": row[id_col], **line}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        pending.clear()

    for row in rows:
        pending.append(row)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
