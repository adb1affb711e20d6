"""The pages of the reports and of the staff's dashboard."""
from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from markupsafe import Markup, escape

from rso.report_files import report_response, wanted_format
from rso.web import charts
from rso.web.pages import page, redirect
from rso.web.session import require_user
from services import reports
from services.engine.errors import Forbidden, InvalidInput
from services.reports import dashboard as dashboard_service
from services.reports import output
from services.reports.periods import ReportKind, period_of, period_starting

router = APIRouter(include_in_schema=False)


def _recent(today: date) -> list[tuple[str, list]]:
    """The periods staff most often want: the last few of each kind, the latest first."""
    out = []
    for kind, back in ((ReportKind.MONTHLY, 6), (ReportKind.BIANNUAL, 3), (ReportKind.ANNUAL, 3)):
        p, found = period_of(kind, today), []
        for _ in range(back):
            found.append(p)
            p = p.previous()
        out.append((kind.value, found))
    return out


@router.get("/reports")
async def reports_index(request: Request, kind: str | None = None, period: str | None = None):
    user = await require_user(request)
    if not reports.may_read(user):
        raise Forbidden("reports are for the RSO's staff")
    if kind and period:  # the form's answer: to the report's own address
        try:
            p = reports.period(kind, period)
        except InvalidInput as exc:
            return _index(request, user, status=422, problem=exc, kind=kind, period=period)
        return redirect(f"/reports/{p.kind.value}/{p.name}")
    return _index(request, user)


def _index(request: Request, user, *, status: int = 200, problem: InvalidInput | None = None, kind: str = "monthly",
           period: str | None = None):
    """The list of reports, with the form to open any period (and what was wrong with the last try)."""
    svc = request.app.state.services
    today = svc.calendar.today(svc.clock())
    return page(request, "reports.html", user=user, title="Reports", status=status, recent=_recent(today),
                kind=kind, period=period if period is not None else f"{today:%Y-%m}",
                problem="; ".join(e["message"] for e in problem.errors) if problem else None)


@router.get("/reports/{kind}/{period}")
async def report_page(request: Request, kind: str, period: str,
                      format: Annotated[str | None, Query(max_length=10)] = None,
                      table: Annotated[str | None, Query(max_length=60)] = None):
    user = await require_user(request)
    svc = request.app.state.services
    try:
        report = await reports.read(svc, user=user, kind=kind, name=period)
    except InvalidInput as exc:
        return _index(request, user, status=422, problem=exc, kind=kind, period=period)
    if format:
        fmt = wanted_format(request, format)
        reports.check_table(fmt, table)
        return await report_response(report, fmt, table=table,
                                     calendar=request.app.state.settings.calendar)
    base = f"/reports/{report.period.kind.value}/{report.period.name}"

    def links(t) -> Markup:
        return Markup(f'<a href="{escape(base)}?{urlencode({"format": "csv", "table": t.name})}" download>'
                      f'{escape(t.title)} as CSV</a>')
    return page(request, "report.html", user=user, title=report.period.title, report=report,
                body=output.body_html(report, links), base=base,
                previous=report.period.previous() if report.period.first.year > 2000 else None,
                following=period_starting(report.period.kind, report.period.end)
                if report.period.end <= svc.calendar.today(svc.clock()) else None)


@router.get("/dashboard")
async def dashboard(request: Request):
    user = await require_user(request)
    d = await dashboard_service.read(request.app.state.services, user=user)
    ot = d.open_tasks
    age_series = [(c.title, [r[c.key] for r in ot.rows]) for c in ot.columns[1:5]]
    pm = d.per_month
    month_series = [("Received", [r["proposals_received"] + r["nominations_received"] for r in pm.rows]),
                    ("Decided", [r["proposals_decided"] + r["nominations_decided"] for r in pm.rows])]
    sm = [r for r in d.stage_medians.rows if r["median"] is not None]
    chart = {
        "open_tasks": charts.bars("c-open", ot.title, [r["step"] for r in ot.rows], age_series),
        "per_month": charts.columns("c-month", pm.title, [r["month"] for r in pm.rows], month_series),
        "stages": charts.bars("c-stage", d.stage_medians.title, [r["stage"] for r in sm],
                              [("Median", [r["median"] for r in sm])], unit=" days"),
        "active": charts.bars("c-active", d.active_secondments.title,
                              [r["member_state"] for r in d.active_secondments.rows],
                              [("Active", [r["active"] for r in d.active_secondments.rows])]),
    }
    paths = {k: wf.path for k, wf in request.app.state.services.workflows.items()}
    return page(request, "dashboard.html", user=user, title="Dashboard", d=d, chart=chart, paths=paths)
