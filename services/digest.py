"""The daily digest: at 08:00 in the RSO's time zone each co-manager with open tasks gets one
email listing them, soonest due first, overdue ones marked. Written to the outbox like every
email; its key (user and day) makes a second run on the same day send nothing twice."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from services.engine import action_links
from services.engine.delegations import delegates_of
from services.engine.models import User
from services.engine.workflow import inbox
from services.infra.uow import Services
from services.mail import MailSettings, outbox_row, task_name, write_outbox
from states.common import Role

log = logging.getLogger("rso.digest")


@dataclass
class DigestReport:
    co_managers: int = 0  # active co-managers considered
    written: int = 0  # digests written now
    already: int = 0  # already written today (a re-run)
    tasks: int = 0  # tasks listed, over all digests written now


async def daily_digest(svc: Services, settings: MailSettings, now: datetime | None = None) -> DigestReport:
    """One digest per active co-manager with open tasks (and per person acting for one who is
    away), for the day of `now` in the RSO's time zone (default: the clock)."""
    now = now or svc.clock()
    svc = svc.at(now)  # "overdue" as at `now`
    day = svc.calendar.today(now)
    report = DigestReport()
    async with svc.uow(write=False) as uow:
        users = list((await uow.session.exec(select(User).where(
            User.role == Role.CO_MANAGER.value, User.active.is_(True)).order_by(User.id))).all())
        # Whoever acts today for a co-manager who is away gets one too (their tasks are in it).
        acting = await delegates_of(uow, [u.id for u in users])
        users += [d for ds in acting.values() for d in ds if d.id not in {u.id for u in users}]
    report.co_managers = len(users)
    link = f"{settings.base_url.rstrip('/')}/tasks"
    for user in users:
        tasks = await inbox(svc, user=user)
        if not tasks:
            continue
        overdue = sum(t.overdue for t in tasks)
        subject = (f"Your RSO tasks, {day.strftime('%-d %B %Y')}: {len(tasks)} open"
                   + (f", {overdue} overdue" if overdue else ""))
        rows = [{"reference": t.reference, "title": t.title, "task": task_name(svc, t),
                 "due": t.due_date.strftime("%a %-d %b %Y"), "overdue": t.overdue, "for_whom": t.on_behalf_of,
                 "actions": action_links.links(settings.link_secret, settings.base_url, svc.workflow(t.item_kind),
                                               user_id=user.id, task=t)}
                for t in tasks]
        context = {"link": link, "link_text": "Open your inbox in RSO Workflow", "tasks": rows, "count": len(tasks),
                   "overdue": overdue, "day": day.strftime("%A %-d %B %Y")}
        async with svc.uow() as uow:
            written = await write_outbox(uow, [outbox_row(
                settings, now, event_key=f"digest:{user.id}:{day.isoformat()}", template="digest", to=user,
                subject=subject, context=context)])
            await uow.commit()
        if written:
            report.written += 1
            report.tasks += len(tasks)
        else:
            report.already += 1
    if report.written:
        log.info("daily digest for %s: %s", day.isoformat(), report)
    return report
