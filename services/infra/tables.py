"""Tables as people file them: CSV (one table) and XLSX (one sheet per table, real numbers and
dates, the header row frozen), from one description of a table. Reports and list exports both
write through here."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


@dataclass
class Column:
    key: str
    title: str
    kind: str = "text"  # text, int, number (one decimal), decimal2 (two), percent (0..1), date, moment
    wide: bool = False  # a long text (wraps in the sheet)


@dataclass
class Table:
    name: str  # a file and sheet name: approved_proposals
    title: str  # as a heading: Approved proposals
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    definition: str = ""  # what each row counts, in words, beside the table

    def cells(self, row: dict) -> list[Any]:
        return [row.get(c.key) for c in self.columns]


def _csv_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "percent":
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # A title typed as "=HYPERLINK(...)" must stay text in whatever opens the file
        # (OWASP's advice on CSV injection: a leading apostrophe).
        return "'" + value
    return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_csv(table: Table) -> bytes:
    """The table as CSV (UTF-8 with a byte-order mark, so that Excel reads the accents)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([c.title for c in table.columns])
    for row in table.rows:
        w.writerow([_csv_value(v, c.kind) for v, c in zip(table.cells(row), table.columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_NUMBER_FORMATS = {"int": "#,##0", "number": "#,##0.0", "decimal2": "#,##0.00", "percent": "0%", "date": "d mmm yyyy",
                   "moment": "d mmm yyyy hh:mm"}
_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


def _sheet_value(value: Any, kind: str) -> Any:
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # a sheet has no time zones: the moment as the RSO's clock shows it
    return value


def to_xlsx(tables: list[Table], *, title: str | None = None) -> bytes:
    """The tables as one workbook, a sheet each (named after the table, at most 31 characters),
    numbers and dates as such, headers bold and frozen, columns sized to their content.
    Written in openpyxl's streaming mode: a 10,000-row export is built row by row, not held
    as a workbook of cell objects."""
    wb = Workbook(write_only=True)
    if title:
        wb.properties.title = title
    for table in tables:
        ws = wb.create_sheet(_BAD_SHEET.sub("_", table.name)[:31])
        ws.freeze_panes = "A2"
        sample = table.rows[:200]
        for i, col in enumerate(table.columns, start=1):
            longest = max([len(col.title)] + [len(str(_sheet_value(r.get(col.key), col.kind))) for r in sample])
            width = 60 if col.wide else min(max(10, longest + 2), 50)
            ws.column_dimensions[get_column_letter(i)].width = width
        header = []
        for c in table.columns:
            cell = WriteOnlyCell(ws, value=c.title)
            cell.font = _BOLD
            header.append(cell)
        ws.append(header)
        formats = [_NUMBER_FORMATS.get(c.kind) for c in table.columns]
        plain = not any(formats) and not any(c.wide for c in table.columns)
        for row in table.rows:
            values = [_sheet_value(v, c.kind) for v, c in zip(table.cells(row), table.columns)]
            formula = any(isinstance(v, str) and v.startswith("=") for v in values)
            if plain and not formula:
                ws.append(values)
                continue
            cells = []
            for v, fmt, col in zip(values, formats, table.columns):
                if isinstance(v, str) and v.startswith("="):
                    # Text, never a formula: openpyxl would store "=..." as one.
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"
                    if col.wide:
                        cell.alignment = _WRAP
                    cells.append(cell)
                    continue
                if (fmt is None or v is None or isinstance(v, str)) and not col.wide:
                    cells.append(v)
                    continue
                cell = WriteOnlyCell(ws, value=v)
                if fmt and v is not None and not isinstance(v, str):
                    cell.number_format = fmt
                if col.wide:
                    cell.alignment = _WRAP
                cells.append(cell)
            ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
