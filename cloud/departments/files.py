"""CSV and XLSX uploads -> rows of text keyed by column name, with their sheet row numbers.

Row numbers are what a person sees in a spreadsheet: the header is row 1, the first data
row is row 2. Empty cells are left out so the row model's defaults apply.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel

from fuelwatch.cloud.departments.importer import RowError

__all__ = ["FileError", "Upload", "read_csv", "read_upload", "read_xlsx"]

MAX_ROWS = 50_000


class FileError(ValueError):
    """The upload cannot be read as a table."""


Rows = list[tuple[int, dict[str, str]]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(records: list[list[Any]]) -> tuple[list[str], Rows]:
    if not records:
        raise FileError("the file is empty")
    header = [_cell(h).lower() for h in records[0]]
    while header and not header[-1]:
        header.pop()
    if not header or any(not h for h in header):
        raise FileError("row 1 must name every column")
    if len(set(header)) != len(header):
        raise FileError("row 1 names a column twice")
    rows: Rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = [_cell(v) for v in record]
        if not any(cells):
            continue
        if len(cells) > len(header) and any(cells[len(header) :]):
            raise FileError(f"row {number} has more cells than row 1 has columns")
        rows.append((number, {h: c for h, c in zip(header, cells, strict=False) if c}))
        if len(rows) > MAX_ROWS:
            raise FileError(f"more than {MAX_ROWS} rows: split the file")
    return header, rows


def read_csv(data: bytes) -> tuple[list[str], Rows]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileError("the CSV is neither UTF-8 nor GB18030 text")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileError(f"not a readable CSV: {exc}") from exc
    return _table(records)


def read_xlsx(data: bytes) -> tuple[list[str], Rows]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only uploads need it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise FileError(f"not a readable XLSX workbook: {type(exc).__name__}") from exc
    try:
        sheet = book.worksheets[0]
        records = [list(r) for r in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
    finally:
        book.close()
    return _table(records)


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded table: its rows, or the problems with its header row (then no rows)."""

    rows: Rows
    header_errors: list[RowError]
    is_xlsx: bool
    rows_seen: int  # data rows found, also when the header is wrong


def read_upload(data: bytes, filename: str, model: type[BaseModel]) -> Upload:
    """Read a CSV or XLSX upload and check its columns against a dataset's row model."""
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"
    try:
        header, rows = read_xlsx(data) if is_xlsx else read_csv(data)
    except FileError as exc:
        return Upload([], [RowError(1, None, str(exc))], is_xlsx, 0)
    known = set(model.model_fields)
    problems = [RowError(1, h, f"unknown column {h!r}") for h in header if h not in known]
    problems += [
        RowError(1, f, f"missing column {f!r}")
        for f, info in model.model_fields.items()
        if info.is_required() and f not in header
    ]
    return Upload([] if problems else rows, problems, is_xlsx, len(rows))
