"""/api/v1/reports: the RSO's reports, for its staff, as JSON or as files."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from rso.api import errors
from rso.api.deps import CurrentUser, ServicesDep
from rso.report_files import report_response, wanted_format
from services import reports

router = APIRouter(prefix="/api/v1", responses=errors.RESPONSES, tags=["reports"])


@router.get("/reports/{kind}/{period}", summary="A report: monthly (2026-11), biannual (2026-H2) or annual (2026)",
            response_description="The report as JSON (its figures and tables); with `format` or `Accept`, a PDF, "
                                 "an XLSX workbook (a sheet per table), or CSV (a zip of one file per table, or the "
                                 "one named by `table`)")
async def report(request: Request, svc: ServicesDep, user: CurrentUser,
                 kind: Annotated[str, Path(description="monthly, biannual or annual")],
                 period: Annotated[str, Path(description="2026-11, 2026-H2 or 2026, as the kind asks")],
                 format: Annotated[str | None, Query(description="json, pdf, xlsx or csv (else the Accept header)")] = None,
                 table: Annotated[str | None, Query(description="with csv: only this table, e.g. approved_proposals",
                                                    max_length=60)] = None):
    """For RSO staff (co-managers, co-chairs, admins): 403 for others."""
    reports.require_staff(user)
    fmt = wanted_format(request, format)
    reports.check_table(fmt, table)
    found = await reports.read(svc, user=user, kind=kind, name=period)
    return await report_response(found, fmt, table=table, calendar=request.app.state.settings.calendar)
