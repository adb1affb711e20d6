"""The daily digest: at 08:00 in the RSO's time zone each co-manager with open tasks gets one
email listing them, soonest due first, overdue ones marked. Written to the outbox like every
email; its key (user and day) makes a second run on the same day send nothing twice."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from notifications.outbox import OutboxMessage, OutboxStatus, new_message_id
from notifications.render import render
from services.mail import TASK_NAMES, MailSettings
from services.models import User
from services.uow import Services
from services.workflow import inbox
from states.common import Role

log = logging.getLogger("rso.digest")


@dataclass
class DigestReport:
    co_managers: int = 0  # active co-managers considered
    written: int = 0  # digests written now
    already: int = 0  # already written today (a re-run)
    tasks: int = 0  # tasks listed, over all digests written now


async def daily_digest(svc: Services, settings: MailSettings, now: datetime | None = None) -> DigestReport:
    """One digest per active co-manager with open tasks, for the day of `now` in the RSO's
    time zone (default: the clock)."""
    now = now or svc.clock()
    svc = replace(svc, clock=lambda: now)  # "overdue" as at `now`
    day = svc.calendar.today(now)
    report = DigestReport()
    async with svc.uow(write=False) as uow:
        users = list((await uow.session.exec(select(User).where(
            User.role == Role.CO_MANAGER.value, User.active.is_(True)).order_by(User.id))).all())
    report.co_managers = len(users)
    link = f"{settings.base_url.rstrip('/')}/tasks"
    for user in users:
        tasks = await inbox(svc, user=user)
        if not tasks:
            continue
        overdue = sum(t.overdue for t in tasks)
        subject = (f"Your RSO tasks, {day.strftime('%-d %B %Y')}: {len(tasks)} open"
                   + (f", {overdue} overdue" if overdue else ""))
        rows = [{"reference": t.reference, "title": t.title, "task": TASK_NAMES[t.kind],
                 "due": t.due_date.strftime("%a %-d %b %Y"), "overdue": t.overdue} for t in tasks]
        rendered = render("digest", subject=subject, recipient_name=user.name, link=link,
                          link_text="Open your inbox in RSO Workflow", tasks=rows, count=len(tasks),
                          overdue=overdue, day=day.strftime("%A %-d %B %Y"))
        async with svc.uow() as uow:
            t = OutboxMessage.__table__
            insert = postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
            stmt = insert(t).values(
                event_key=f"digest:{user.id}:{day.isoformat()}", message_id=new_message_id(settings.mail_from),
                template="digest", to_email=user.email, to_name=user.name, subject=subject[:300],
                body_text=rendered.text, body_html=rendered.html, status=OutboxStatus.PENDING, attempts=0,
                next_attempt_at=now, created_at=now,
            ).on_conflict_do_nothing(index_elements=[t.c.event_key]).returning(t.c.id)
            written = (await uow.session.exec(stmt)).first() is not None
            await uow.commit()
        if written:
            report.written += 1
            report.tasks += len(tasks)
        else:
            report.already += 1
    if report.written:
        log.info("daily digest for %s: %s", day.isoformat(), report)
    return report
