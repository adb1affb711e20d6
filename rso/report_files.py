"""A report as a download, for the API and the pages alike: the format asked for (`?format=`,
or the Accept header), the bytes made off the event loop (a PDF is a second of CPU), a file
name that says which report it is."""
from __future__ import annotations

import asyncio

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from services.engine.errors import InvalidInput
from services.infra.tables import CSV_TYPE, XLSX_TYPE
from services.reports import FORMATS, Report, output

_BY_TYPE = {"application/pdf": "pdf", XLSX_TYPE: "xlsx", "text/csv": "csv", "application/zip": "csv",
            "application/json": "json"}


def wanted_format(request: Request, fmt: str | None, default: str = "json") -> str:
    """`fmt` when given (422 when it is not one of FORMATS), else the first of the Accept
    header's types that is a format, else `default`."""
    if fmt is not None:
        fmt = fmt.strip().lower()
        if fmt not in FORMATS:
            raise InvalidInput.one("format", "must be one of " + ", ".join(FORMATS))
        return fmt
    for part in request.headers.get("accept", "").split(","):
        found = _BY_TYPE.get(part.split(";")[0].strip().lower())
        if found:
            return found
    return default


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def report_response(report: Report, fmt: str, *, table: str | None = None, calendar: str = "TH") -> Response:
    """The report in `fmt`: JSON, PDF, XLSX, CSV (one table with `table`, else a zip of them all)."""
    stem = output.file_stem(report)
    if fmt == "json":
        return JSONResponse(report.as_json())
    if fmt == "pdf":
        data = await asyncio.to_thread(output.pdf, report, calendar)
        return Response(data, media_type=output.PDF_TYPE, headers=_attachment(f"{stem}.pdf"))
    if fmt == "xlsx":
        data = await asyncio.to_thread(output.xlsx, report)
        return Response(data, media_type=XLSX_TYPE, headers=_attachment(f"{stem}.xlsx"))
    if table is not None:
        data = output.csv_table(report, table)  # a name checked by services.reports.check_table
        return Response(data, media_type=CSV_TYPE, headers=_attachment(f"{stem}-{table}.csv"))
    data = await asyncio.to_thread(output.csv_zip, report)
    return Response(data, media_type=output.ZIP_TYPE, headers=_attachment(f"{stem}-csv.zip"))
