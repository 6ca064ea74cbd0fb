"""Rows of CSV, XLSX and JSONL files mapped onto raw-record fields (see hotline.records).

Each row comes out as a Row: its place in the file, and either the record or the reason it could
not be read (with the original bytes where there are any), so nothing is lost on the way in.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterator

FIELDS = ("id", "title", "text", "time", "caller", "phone", "district", "type", "urgency", "author", "likes",
          "reply", "reply_time")
FORMATS = ("csv", "xlsx", "jsonl")


class MappingError(ValueError):
    """The column mapping does not fit the file (a named column is missing)."""


@dataclass
class ColumnMap:
    """Raw-record field -> column name in the file. Unset fields default to a column of the same name."""

    columns: dict[str, str] = field(default_factory=dict)

    def resolve(self, header: list[str], source: str) -> dict[str, str]:
        present = set(header)
        missing = [f"{name}={column!r}" for name, column in self.columns.items() if column not in present]
        if missing:
            raise MappingError(
                f"{source}: column(s) not found: {', '.join(missing)}; the file has: {', '.join(header)}"
            )
        resolved = {name: column for name, column in self.columns.items()}
        for name in FIELDS:
            if name not in resolved and name in present:
                resolved[name] = name
        if "text" not in resolved and "title" not in resolved:
            raise MappingError(f"{source}: no text or title column; give --text-col (the file has: {', '.join(header)})")
        return resolved


@dataclass
class Row:
    ref: str
    record: dict | None = None
    error: str | None = None
    original: bytes = b""


def detect_format(path: Path, given: str | None = None) -> str:
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("xlsx", "xlsm"):
        return "xlsx"
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise MappingError(f"{path}: cannot tell the format from the name; give --format csv|xlsx|jsonl")


def _cell(value) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mapped(values: dict, mapping: dict[str, str]) -> dict:
    record = {}
    for name, column in mapping.items():
        value = _cell(values.get(column))
        if value is not None and value != "":
            record[name] = value
    return record


def count_rows(path: Path, fmt: str) -> int | None:
    """Rows to expect (for the progress bar); None when counting would mean reading the file twice."""
    if fmt == "jsonl":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    return None


def read_rows(path: Path, columns: ColumnMap, fmt: str | None = None, encoding: str = "utf-8-sig",
              sheet: str | None = None) -> Iterator[Row]:
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt == "csv":
        yield from _read_csv(path, columns, encoding)
    elif fmt == "xlsx":
        yield from _read_xlsx(path, columns, sheet)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, columns)
    else:
        raise MappingError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _read_csv(path: Path, columns: ColumnMap, encoding: str) -> Iterator[Row]:
    # surrogateescape keeps undecodable bytes so a bad row can be kept whole as a dead letter.
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as handle:
        first_line = handle.readline()
        handle.seek(0)
        delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        mapping = columns.resolve(header, str(path))
        width = len(header)
        for values in reader:
            ref = f"{path.name}:{reader.line_num}"
            joined = delimiter.join(values)
            original = joined.encode("utf-8", "surrogateescape")
            if not any(v.strip() for v in values):
                continue
            try:
                joined.encode("utf-8")
            except UnicodeEncodeError:
                yield Row(ref, error=f"row is not valid {encoding} text", original=original)
                continue
            if len(values) != width:
                yield Row(ref, error=f"row has {len(values)} fields, the header has {width}", original=original)
                continue
            yield Row(ref, record=_mapped(dict(zip(header, values)), mapping), original=original)


def _read_xlsx(path: Path, columns: ColumnMap, sheet: str | None) -> Iterator[Row]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        try:
            header = [str(h) if h is not None else "" for h in next(rows)]
        except StopIteration:
            return
        mapping = columns.resolve(header, f"{path}[{ws.title}]")
        for number, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            record = _mapped(dict(zip(header, values)), mapping)
            yield Row(f"{path.name}[{ws.title}]:{number}", record=record,
                      original=json.dumps(record, ensure_ascii=False, default=str).encode("utf-8"))
    finally:
        book.close()


def _read_jsonl(path: Path, columns: ColumnMap) -> Iterator[Row]:
    # Lines may differ in their fields: each mapped field is taken where the line has it.
    mapping = {name: columns.columns.get(name, name) for name in FIELDS}
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            ref = f"{path.name}:{number}"
            original = line.rstrip(b"\r\n")
            try:
                values = json.loads(original.decode("utf-8"))
            except UnicodeDecodeError:
                yield Row(ref, error="line is not valid UTF-8", original=original)
                continue
            except json.JSONDecodeError as exc:
                yield Row(ref, error=f"line is not JSON: {exc.msg}", original=original)
                continue
            if not isinstance(values, dict):
                yield Row(ref, error=f"line is a JSON {type(values).__name__}, expected an object", original=original)
                continue
            yield Row(ref, record=_mapped(values, mapping), original=original)
