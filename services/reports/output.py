"""A report as people read and file it: HTML (the page's body and the PDF's, one template), a
PDF (WeasyPrint renders that HTML: a cover with the period and the date of issue, page
numbers, table headers repeated where a table runs onto the next page), an XLSX workbook
(one sheet per table) and CSV (one file per table, or all of them in a zip)."""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.infra.tables import Table, to_csv, to_xlsx
from services.reports.figures import Report

PDF_TYPE = "application/pdf"
ZIP_TYPE = "application/zip"


def day(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def cell(value: Any, kind: str) -> str:
    """A figure as the page and the PDF print it."""
    if value is None:
        return "–"
    if kind == "percent":
        return f"{value:.0%}"
    if isinstance(value, datetime):
        return f"{day(value)} {value:%H:%M}"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if kind == "decimal2":
            return f"{value:,.2f}"
        return f"{value:,.1f}" if kind == "number" else (f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}")
    return str(value)


_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(),
                   trim_blocks=False, lstrip_blocks=False)
_env.filters.update(cell=cell, day=day)


def body_html(report: Report, links: Callable[[Table], str] | None = None) -> Markup:
    """The report's content as HTML, for a page to place in its own layout; `links` gives the
    download links shown under each table."""
    return Markup(_env.get_template("report_body.html").render(report=report, links=links))


def print_html(report: Report, calendar: str = "TH") -> str:
    country = _COUNTRIES.get(calendar.upper(), calendar.upper())
    return _env.get_template("report_print.html").render(report=report, links=None, calendar=country)


_COUNTRIES = {"TH": "Thailand", "ID": "Indonesia", "AU": "Australia"}


def pdf(report: Report, calendar: str = "TH") -> bytes:
    """The report as a PDF (CPU-bound, about a second for a long one: call it in a thread
    from async code)."""
    from weasyprint import HTML  # imported when first used: it loads Pango, a few hundred ms

    return HTML(string=print_html(report, calendar)).write_pdf()


def xlsx(report: Report) -> bytes:
    return to_xlsx(report.all_tables(), title=report.period.title)


def csv_table(report: Report, name: str) -> bytes | None:
    table = report.table(name)
    return to_csv(table) if table is not None else None


def csv_zip(report: Report) -> bytes:
    """Every table as its own CSV file, in one zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for table in report.all_tables():
            z.writestr(f"{file_stem(report)}-{table.name}.csv", to_csv(table))
    return out.getvalue()


def file_stem(report: Report) -> str:
    """rso-monthly-report-2026-11"""
    return f"rso-{report.period.kind.value}-report-{report.period.name.lower()}"
