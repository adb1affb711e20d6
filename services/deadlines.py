"""Deadlines: when each task's reminders and escalations fall, and the sweep that sends what
is due and takes the timed steps (a consultation closing by itself, a handover beginning).

The sweep is a plain service function: the Prefect flow calls it on a schedule, `rso sweep`
calls it directly. It is safe to run again and at once:
- each notice is claimed by a unique key in `deadline_notices`, in the transaction that writes
  its emails, so the same moment swept twice, a sweep killed half-way and re-run, or several
  sweepers at once send each notice once;
- tasks are taken in batches with FOR UPDATE SKIP LOCKED (serialised on SQLite), by the
  partial index on `next_notice_at`: the sweep reads what is due, not everything open.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import select

from services.calendar import BusinessCalendar
from services.events import DomainEvent
from services.items import TaskStatus
from services.models import ChecklistEntry, DeadlineNotice, Proposal, Secondment, Task
from services.policy import Policy
from services.uow import Services, UnitOfWork
from states.common import SYSTEM

log = logging.getLogger("rso.deadlines")

# Tasks a sweep takes per transaction. The whole sweep costs the same from 500 to 2,000 (the
# time is per notice: rendering, writing); the select of a batch grows with it (~2.5 ms for 500
# on a million open tasks, mostly decoding the rows), and so do the time rows stay locked and
# how unevenly concurrent sweepers share the work (bench/sweep.py).
BATCH = 500


@dataclass(frozen=True)
class Notice:
    at: datetime
    kind: str  # reminder, escalation
    seq: int  # which reminder, which escalation (0, 1, ...)


def schedule(task: Task, policy: Policy, cal: BusinessCalendar) -> Iterator[Notice]:
    """The task's notices in time order: its reminders, then its escalations (one, or one
    every so many business days while it stays open)."""
    p, due_day = policy.task(task.kind), cal.today(task.due_at)
    reminders = sorted(cal.add_business_days(due_day, -b) for b in p.remind_business_days_before)
    for i, day in enumerate(reminders):
        yield Notice(cal.at(day, policy.notice_hour), "reminder", i)
    if p.escalate_business_days_after is None:
        return
    day, n = cal.add_business_days(due_day, p.escalate_business_days_after), 0
    while True:
        yield Notice(cal.at(day, policy.notice_hour), "escalation", n)
        if not p.escalate_every_business_days:
            return
        day, n = cal.add_business_days(day, p.escalate_every_business_days), n + 1


def next_notice_after(task: Task, moment: datetime, policy: Policy, cal: BusinessCalendar) -> datetime | None:
    return next((n.at for n in schedule(task, policy, cal) if n.at > moment), None)


def due_notices(task: Task, since: datetime, now: datetime, policy: Policy, cal: BusinessCalendar) -> list[Notice]:
    """The notices between `since` and `now`. After a gap (the sweeper was down), only the
    latest of each kind goes out: one reminder and one escalation, not a backlog."""
    latest: dict[str, Notice] = {}
    for n in schedule(task, policy, cal):
        if n.at > now:
            break
        if n.at >= since:
            latest[n.kind] = n
    return sorted(latest.values(), key=lambda n: n.at)


@dataclass
class SweepReport:
    tasks: int = 0  # tasks with a notice due
    reminders: int = 0
    escalations: int = 0
    consultations_closed: int = 0
    handovers_begun: int = 0
    extension_asks: int = 0
    checklist_reminders: int = 0
    checklist_escalations: int = 0
    batches: list[int] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def total(self) -> int:
        return (self.reminders + self.escalations + self.consultations_closed + self.handovers_begun
                + self.extension_asks + self.checklist_reminders + self.checklist_escalations)


async def _claim(uow: UnitOfWork, notices: list[dict]) -> set[str]:
    """Record these notices; the keys recorded now (not by an earlier or concurrent sweep)."""
    if not notices:
        return set()
    insert = postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    t = DeadlineNotice.__table__
    rows = [{**n, "created_at": uow.now} for n in notices]
    # executemany (compiled once, sent in pages) rather than `.values(rows)`: a statement of
    # its own for each batch, with a parameter per cell, costs more to compile than to run.
    stmt = insert(t).on_conflict_do_nothing(index_elements=[t.c.key]).returning(t.c.key)
    return set((await uow.session.exec(stmt, params=rows)).scalars().all())


async def sweep(svc: Services, now: datetime | None = None, *, batch: int = BATCH) -> SweepReport:
    """Everything due at `now` (default: the clock): reminders and escalations of open tasks,
    consultations past their closing day, secondment end and pre-deployment timers. The
    Prefect flow runs the same three steps as tasks of its own."""
    now = now or svc.clock()
    report = SweepReport()
    for step in (task_notices, close_consultations, secondment_timers):
        report.add(await step(svc, now, batch=batch))
    if report.total():
        log.info("sweep at %s: %s", now.isoformat(), report)
    return report


def _at(svc: Services, now: datetime) -> Services:
    return replace(svc, clock=lambda: now)  # every change the sweep makes is stamped `now`


async def task_notices(svc: Services, now: datetime, *, batch: int = BATCH) -> SweepReport:
    """The reminders and escalations of open tasks due by `now`, in batches."""
    svc, report = _at(svc, now), SweepReport()
    while await _task_batch(svc, now, batch, report) == batch:
        pass  # a full batch: there may be more
    return report


async def close_consultations(svc: Services, now: datetime, *, batch: int = BATCH) -> SweepReport:
    report = SweepReport()
    await _close_consultations(_at(svc, now), now, report)
    return report


async def secondment_timers(svc: Services, now: datetime, *, batch: int = BATCH) -> SweepReport:
    report = SweepReport()
    await _secondment_timers(_at(svc, now), now, report)
    return report


def due_tasks(now: datetime, batch: int):
    """The next batch of open tasks with a notice due, locked, skipping what another sweeper
    holds. The explicit ORDER BY ... LIMIT keeps PostgreSQL on the partial index
    `ix_tasks_next_notice` (without it the planner may scan the table)."""
    return (select(Task).where(Task.status == TaskStatus.OPEN, Task.next_notice_at <= now)
            .order_by(Task.next_notice_at).limit(batch).with_for_update(skip_locked=True))


async def _set_next_notices(uow: UnitOfWork, tasks: list[Task], moments: list[datetime | None]) -> None:
    """Each task's next notice, by one executemany UPDATE; the loaded objects are given the
    new value as if read so, with nothing left for the ORM to flush. (Its flush of the changed
    objects costs ~15 µs a task more, a fifth of the UPDATE itself.)"""
    t = Task.__table__
    stmt = sa.update(t).where(t.c.id == sa.bindparam("b_id")).values(next_notice_at=sa.bindparam("b_next"))
    await uow.session.exec(stmt, params=[{"b_id": task.id, "b_next": at} for task, at in zip(tasks, moments)])
    for task, at in zip(tasks, moments):
        set_committed_value(task, "next_notice_at", at)


async def _task_batch(svc: Services, now: datetime, batch: int, report: SweepReport) -> int:
    from services.workflow import items_by_kind

    policy, cal = svc.policy, svc.calendar
    async with svc.uow() as uow:
        tasks = list((await uow.session.exec(due_tasks(now, batch))).all())
        if not tasks:
            return 0
        wanted: list[tuple[Task, Notice]] = []
        for t in tasks:
            wanted += [(t, n) for n in due_notices(t, t.next_notice_at, now, policy, cal)]
        await _set_next_notices(uow, tasks, [next_notice_after(t, now, policy, cal) for t in tasks])
        keys = {f"task:{t.id}:{n.kind}:{n.seq}": (t, n) for t, n in wanted}
        claimed = await _claim(uow, [{"key": k, "item_kind": t.item_kind, "item_id": t.item_id, "task_id": t.id,
                                      "kind": n.kind, "due_at": n.at} for k, (t, n) in keys.items()])
        items = await items_by_kind(uow, [(t.item_kind, t.item_id) for t, _ in keys.values()])
        for key in sorted(claimed, key=lambda k: keys[k][1].at):
            t, n = keys[key]
            item = items.get((t.item_kind, t.item_id))
            if item is None:
                continue
            overdue = max(0, cal.business_days_between(cal.today(t.due_at), cal.today(now)))
            uow.emit(DomainEvent(n.kind, t.item_kind, t.item_id, item.reference,
                                 {"task": t, "seq": n.seq, "overdue_business_days": overdue}, key=key))
            setattr(report, n.kind + "s", getattr(report, n.kind + "s") + 1)
        report.tasks += len(tasks)
        report.batches.append(len(tasks))
        await uow.commit()
    return len(tasks)


async def _close_consultations(svc: Services, now: datetime, report: SweepReport) -> None:
    """A consultation closes by itself so many business days after its due date: the
    unanswered stakeholders are recorded as "no response", the proposal moves on."""
    from services.proposals import PROPOSALS
    from states.proposal import ProposalState

    policy, cal = svc.policy, svc.calendar
    after = policy.task("consultation").auto_close_business_days_after
    if after is None:
        return
    today = cal.today(now)
    # Business days are at least as long as calendar days: a superset, checked one by one below.
    latest_due = cal.end_of_day(today - timedelta(days=after))
    async with svc.uow(write=False) as uow:
        ids = list((await uow.session.exec(
            select(Task.item_id).where(Task.item_kind == "proposal", Task.kind == "consultation",
                                       Task.status == TaskStatus.OPEN, Task.due_at <= latest_due).distinct())).all())
    for pid in ids:
        async with svc.uow() as uow:
            q = (select(Proposal).where(Proposal.id == pid,
                                        Proposal.state == ProposalState.STAKEHOLDER_CONSULTATION.value)
                 .with_for_update(skip_locked=True))
            p = (await uow.session.exec(q)).first()
            if p is None:
                continue
            (loaded,) = await PROPOSALS.load_many(uow, [p])
            due = max((t.due_at for t in loaded.tasks if t.kind == "consultation"), default=None)
            if due is None or cal.add_business_days(cal.today(due), after) > today:
                continue
            key = f"proposal:{p.id}:auto_close:{p.round}"
            if not await _claim(uow, [{"key": key, "item_kind": "proposal", "item_id": p.id, "kind": "auto_close",
                                       "due_at": cal.at(cal.add_business_days(cal.today(due), after),
                                                        policy.notice_hour)}]):
                continue
            await PROPOSALS.take(uow, loaded, None, "close_consultation", {
                "comment": f"Closed by RSO Workflow {after} business days after the consultation's due date "
                           f"({cal.today(due).strftime('%-d %B %Y')})."}, system_actor=SYSTEM)
            await uow.commit()
            report.consultations_closed += 1


async def _secondment_timers(svc: Services, now: datetime, report: SweepReport) -> None:
    """Around a placement's dates (calendar days): ask about an extension, then begin the
    handover by itself, before the end; remind of an incomplete pre-deployment checklist
    before the start, and escalate it on the start date."""
    from services.secondments import SECONDMENTS
    from states.secondment import ChecklistItem, SecondmentState as S

    sp, cal = svc.policy.secondment, svc.calendar
    today = cal.today(now)
    async with svc.uow(write=False) as uow:
        ending = list((await uow.session.exec(select(Secondment.id).where(
            Secondment.state == S.ACTIVE.value,
            Secondment.end_date <= today + timedelta(days=sp.ask_about_extension_days_before_end)))).all())
        starting = list((await uow.session.exec(select(Secondment.id).where(
            Secondment.state == S.PRE_DEPLOYMENT.value,
            Secondment.start_date <= today + timedelta(days=sp.checklist_reminder_days_before_start)))).all())

    def notice(s: Secondment, kind: str, on) -> dict:
        return {"key": f"secondment:{s.id}:{kind}:{on.isoformat()}", "item_kind": "secondment", "item_id": s.id,
                "kind": kind, "due_at": cal.at(on, svc.policy.notice_hour)}

    for sid in ending:
        async with svc.uow() as uow:
            s = (await uow.session.exec(select(Secondment).where(Secondment.id == sid, Secondment.state == S.ACTIVE.value)
                                        .with_for_update(skip_locked=True))).first()
            if s is None:
                continue
            handover_on = s.end_date - timedelta(days=sp.begin_handover_days_before_end)
            ask_on = s.end_date - timedelta(days=sp.ask_about_extension_days_before_end)
            if handover_on <= today:
                if not await _claim(uow, [notice(s, "auto_handover", handover_on)]):
                    continue
                (loaded,) = await SECONDMENTS.load_many(uow, [s])
                await SECONDMENTS.take(uow, loaded, None, "begin_handover", {
                    "comment": f"Begun by RSO Workflow {sp.begin_handover_days_before_end} days before the end date."},
                    system_actor=SYSTEM)
                report.handovers_begun += 1
            elif ask_on <= today and s.extension_end_date is None:
                if not await _claim(uow, [notice(s, "extension_ask", ask_on)]):
                    continue
                uow.emit(DomainEvent("milestone", "secondment", s.id, s.reference,
                                     {"milestone": "extension_ask", "handover_on": handover_on.isoformat()}))
                report.extension_asks += 1
            await uow.commit()

    for sid in starting:
        async with svc.uow() as uow:
            s = (await uow.session.exec(select(Secondment).where(
                Secondment.id == sid, Secondment.state == S.PRE_DEPLOYMENT.value).with_for_update(skip_locked=True))).first()
            if s is None:
                continue
            done = set((await uow.session.exec(select(ChecklistEntry.item).where(
                ChecklistEntry.secondment_id == s.id, ChecklistEntry.done_at.is_not(None)))).all())
            missing = [i.value for i in ChecklistItem if i.value not in done]
            if not missing:
                continue
            if s.start_date <= today and sp.checklist_escalation_on_start:
                kind, counter = "checklist_escalation", "checklist_escalations"
            elif s.start_date - timedelta(days=sp.checklist_reminder_days_before_start) <= today:
                kind, counter = "checklist_reminder", "checklist_reminders"
            else:
                continue
            if not await _claim(uow, [notice(s, kind, s.start_date)]):
                continue
            uow.emit(DomainEvent("milestone", "secondment", s.id, s.reference,
                                 {"milestone": kind, "missing": missing}))
            setattr(report, counter, getattr(report, counter) + 1)
            await uow.commit()
