"""The RSO's reports (monthly, six-monthly, annual) and the staff dashboard, from the
workflow's own records. `figures` defines and computes every figure; `output` turns a report
into HTML, PDF, XLSX and CSV; `sending` mails them on schedule; `dashboard` is the staff's
overview of now."""
from __future__ import annotations

from services.engine.errors import Forbidden, InvalidInput
from services.engine.models import User
from services.engine.people import is_staff
from services.infra.uow import Services
from services.reports import figures
from services.reports.figures import Report
from services.reports.periods import NOUN, BadPeriod, Period, ReportKind, parse_period, period_of

__all__ = ["FORMATS", "Report", "ReportKind", "Period", "period", "read", "may_read"]

FORMATS = ("json", "pdf", "xlsx", "csv")


def may_read(user: User) -> bool:
    """Reports are for the RSO's staff: the co-managers, the co-chairs and the admins."""
    return is_staff(user)


def period(kind: str, name: str) -> Period:
    """The period a report's address names; InvalidInput (the field, the shape) otherwise."""
    try:
        return parse_period(kind, name)
    except BadPeriod as exc:
        raise InvalidInput.one("kind" if "must be one of" in str(exc) else "period", str(exc)) from None


def require_staff(user: User | None) -> None:
    if user is not None and not may_read(user):
        raise Forbidden("reports are for the RSO's staff")


def check_table(fmt: str, table: str | None) -> None:
    """`table` names one of a report's tables, and goes with CSV only (InvalidInput otherwise)."""
    if table is None:
        return
    if fmt != "csv":
        raise InvalidInput.one("table", "picks one table of a CSV download: use it with format=csv")
    if table not in figures.TABLES:
        raise InvalidInput.one("table", "must be one of " + ", ".join(figures.TABLES))


async def read(svc: Services, *, user: User | None, kind: str, name: str) -> Report:
    """The report of kind `kind` ("monthly", "biannual", "annual") for the period `name`
    ("2026-11", "2026-H2", "2026"), as of the service's clock: a period under way so far, one
    not yet begun refused (InvalidInput). RSO staff only (`user` None: the system, for the
    scheduled emails and the command line). Changes nothing."""
    require_staff(user)
    p = period(kind, name)
    today = svc.calendar.today(svc.clock())
    if p.first > today:
        raise InvalidInput.one("period", f"{p.label} has not begun: the latest {NOUN[p.kind]} report is "
                                         f"{period_of(p.kind, today).name}")
    return await figures.compute(svc, p)
