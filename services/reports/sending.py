"""The reports by email, on schedule: on the 1st of each month, last month's report to both
co-managers; on 1 January and 1 July, the six months' report to the co-managers and the
co-chairs. The PDF goes with each email (an outbox attachment, so it is delivered, retried
and never sent twice like any other email). Each recipient's email has a key of its own
(report, period, person): a tick run again, or two at once, writes nothing twice, and a
tick that finds every email already written does not compute the report at all."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from notifications.outbox import OutboxMessage
from services.engine.models import User
from services.infra.uow import Services
from services.mail import MailSettings, outbox_row, write_outbox
from services.reports import figures, output
from services.reports.periods import Period, ReportKind, period_of
from states.common import Role

log = logging.getLogger("rso.reports")

# Who receives each report.
AUDIENCE = {ReportKind.MONTHLY: (Role.CO_MANAGER,), ReportKind.BIANNUAL: (Role.CO_MANAGER, Role.CO_CHAIR),
            ReportKind.ANNUAL: (Role.CO_MANAGER, Role.CO_CHAIR)}
HEADLINES = ("proposals_received", "proposals_decided", "proposals_open_at_end", "steps_late",
             "nominations_received", "placements_active", "person_months")


@dataclass
class SendReport:
    period: str
    recipients: int = 0
    written: int = 0  # emails written now
    already: int = 0  # written by an earlier run


def last_complete(kind: ReportKind, now: datetime, svc: Services) -> Period:
    """The latest period of `kind` that ended before `now`'s day in the RSO's time zone: on
    1 December, November; on 1 July, January to June."""
    return period_of(kind, svc.calendar.today(now)).previous()


def event_key(period: Period, user: User) -> str:
    return f"report:{period.kind.value}:{period.name}:{user.id}"


async def send_report(svc: Services, settings: MailSettings, kind: ReportKind | str, now: datetime | None = None,
                      period: Period | None = None) -> SendReport:
    """The report of `period` (default: the last complete one as of `now`, the clock's by
    default) written to the outbox for its audience, PDF attached, once per person."""
    kind = ReportKind(kind)
    now = now or svc.clock()
    period = period or last_complete(kind, now, svc)
    result = SendReport(period.name)
    async with svc.uow(write=False) as uow:
        people = list((await uow.session.exec(select(User).where(
            User.role.in_([r.value for r in AUDIENCE[kind]]), User.active.is_(True)).order_by(User.id))).all())
        keys = {event_key(period, u): u for u in people}
        t = OutboxMessage.__table__
        done = set((await uow.session.exec(sa.select(t.c.event_key).where(t.c.event_key.in_(list(keys))))).scalars())
    result.recipients, result.already = len(people), len(done)
    if not people:
        log.warning("%s: nobody to send it to (no active %s)", period.title,
                    " or ".join(r.value for r in AUDIENCE[kind]))
    waiting = [u for k, u in keys.items() if k not in done]
    if not waiting:
        return result
    report = await figures.compute(svc.at(now), period)
    pdf = await asyncio.to_thread(output.pdf, report, svc.calendar.country)
    name = f"{output.file_stem(report)}.pdf"
    link = f"{settings.base_url.rstrip('/')}/reports/{period.kind.value}/{period.name}"
    noun = period.title.split(",")[0].lower()  # monthly report
    context = {"link": link, "link_text": f"Open the {noun} in RSO Workflow", "title": f"{noun} for {period.label}", "first": output.day(period.first), "last": output.day(period.last),
               "figures": [{"figure": r["figure"], "value": output.cell(r["value"], "general")}
                           for r in report.summary.rows if r["key"] in HEADLINES]}
    rows = [outbox_row(settings, now, event_key=event_key(period, u), template="report", to=u,
                       subject=f"RSO {period.title}", context=context) for u in waiting]
    async with svc.uow() as uow:
        written = await write_outbox(uow, rows, {r["event_key"]: [(name, output.PDF_TYPE, pdf)] for r in rows})
        await uow.commit()
    result.written = len(written)
    result.already += len(rows) - len(written)  # a concurrent run wrote them first
    log.info("%s: %d email(s) written, %d already", period.title, result.written, result.already)
    return result
