"""`hotline report`: the supervisors' unit figures for a period, as Markdown, CSV or HTML."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime

from hotline.statistics import COLUMNS as FIGURES
from hotline.statistics import RATES, UnitFigures

COLUMNS = [("unit_name", "承办单位"), *FIGURES]


def rows(units: list[UnitFigures], total: UnitFigures, unit_name) -> list[dict]:
    out = []
    for figures in [*units, total]:
        row = figures.as_dict()
        row["unit_name"] = "全部单位" if figures.unit == "all" else unit_name(figures.unit)
        out.append(row)
    return out


def _cell(name: str, value) -> str:
    if value is None:
        return "–"
    if name in RATES:
        return f"{value * 100:.1f}%"
    return str(value)


def render(fmt: str, table: list[dict], title: str, generated: datetime, notes: list[str]) -> str:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["unit", *(name for name, _ in COLUMNS)])
        for row in table:
            writer.writerow([row["unit"], *("" if row[name] is None else row[name] for name, _ in COLUMNS)])
        return buffer.getvalue()
    if fmt == "md":
        lines = [f"# {title}", "", f"生成时间 {generated:%Y-%m-%d %H:%M}", ""]
        lines += [f"- {note}" for note in notes] + [""]
        lines.append("| " + " | ".join(label for _, label in COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        for row in table:
            lines.append("| " + " | ".join(_cell(name, row[name]) for name, _ in COLUMNS) + " |")
        return "\n".join(lines) + "\n"
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(name, row[name]))}</td>" for name, _ in COLUMNS) + "</tr>"
                   for row in table)
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return (f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><p>生成时间 {generated:%Y-%m-%d %H:%M}</p><ul>{items}</ul>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n")
