"""The deadline sweep: the reminders and escalations of open tasks that are due, and the timed
steps of every lifecycle served (a consultation closing by itself, a handover beginning).

The sweep is a plain service function: the Prefect flow calls it on a schedule (each step a
task of its own), `rso sweep` calls it directly. It is safe to run again and at once:
- each notice is claimed by a unique key in `deadline_notices`, in the transaction that writes
  its emails, so the same moment swept twice, a sweep killed half-way and re-run, or several
  sweepers at once send each notice once;
- tasks are taken in batches with FOR UPDATE SKIP LOCKED (serialised on SQLite), by the
  partial index on `next_notice_at`: the sweep reads what is due, not everything open.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.engine.events import DomainEvent
from services.engine.tasks import Notice, claim_notices, due_notices, due_tasks, next_notice_after, set_next_notices
from services.engine.workflow import Workflow, items_by_kind
from services.infra.uow import Services

log = logging.getLogger("rso.deadlines")

# Tasks a sweep takes per transaction. The whole sweep costs the same from 500 to 2,000 (the
# time is per notice: rendering, writing); the select of a batch grows with it (~2.5 ms for 500
# on a million open tasks, mostly decoding the rows), and so do the time rows stay locked and
# how unevenly concurrent sweepers share the work (bench/sweep.py).
BATCH = 500

SweepStep = Callable[[Services, datetime], Awaitable["SweepReport"]]


@dataclass
class SweepReport:
    tasks: int = 0  # tasks with a notice due
    reminders: int = 0
    escalations: int = 0
    steps: dict[str, int] = field(default_factory=dict)  # what the lifecycles' timers did, by count name
    batches: list[int] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        self.tasks += other.tasks
        self.reminders += other.reminders
        self.escalations += other.escalations
        self.steps = dict(Counter(self.steps) + Counter(other.steps))
        self.batches += other.batches

    def total(self) -> int:
        return self.reminders + self.escalations + sum(self.steps.values())

    def words(self, svc: Services) -> str:
        """What it did, for a person: "2 reminder(s), 0 escalation(s), 1 consultation(s) closed, …"."""
        parts = [f"{self.reminders} reminder(s)", f"{self.escalations} escalation(s)"]
        parts += [f"{self.steps.get(name, 0)} {words}" for _, name, words in counted_steps(svc)]
        return ", ".join(parts)


def counted_steps(svc: Services) -> list[tuple[str, str, str]]:
    """(timer, count name, words) of every timer of the lifecycles served, in their order."""
    return [(t.name, name, words) for wf in svc.workflows.values() for t in wf.timers for name, words in t.counts.items()]


def steps(lifecycles: Iterable[Workflow]) -> list[tuple[str, SweepStep]]:
    """The sweep's steps, by name: the task notices, then each lifecycle's timers. The Prefect
    flow runs each as a task of its own; `sweep` runs them in turn."""
    found: list[tuple[str, SweepStep]] = [("send-task-notices", task_notices)]
    for wf in lifecycles:
        for timer in wf.timers:
            found.append((timer.name, _timer_step(timer.run)))
    return found


def _timer_step(run) -> SweepStep:
    async def step(svc: Services, now: datetime, *, batch: int = BATCH) -> SweepReport:
        counts: Counter = Counter()
        await run(svc, now, counts)
        return SweepReport(steps=dict(counts))
    return step


async def sweep(svc: Services, now: datetime | None = None, *, batch: int = BATCH) -> SweepReport:
    """Everything due at `now` (default: the clock): reminders and escalations of open tasks,
    then the timed steps of each lifecycle."""
    now = now or svc.clock()
    report = SweepReport()
    for _, step in steps(svc.workflows.values()):
        report.add(await step(svc, now, batch=batch))
    if report.total():
        log.info("sweep at %s: %s", now.isoformat(), report)
    return report


def notice_key(task_id: int, notice: Notice) -> str:
    """The key a task's notice is claimed by (unique in `deadline_notices`): the task, the kind of
    notice and its place in the task's schedule."""
    return f"task:{task_id}:{notice.kind}:{notice.seq}"


async def task_notices(svc: Services, now: datetime, *, batch: int = BATCH) -> SweepReport:
    """The reminders and escalations of open tasks due by `now`, in batches. What they write
    is stamped `now`; their emails go out at the next delivery, whatever `now` is."""
    svc, report = svc.at(now), SweepReport()
    while await _task_batch(svc, now, batch, report) == batch:
        pass  # a full batch: there may be more
    return report


async def _task_batch(svc: Services, now: datetime, batch: int, report: SweepReport) -> int:
    policy, cal = svc.policy, svc.calendar
    async with svc.uow() as uow:
        tasks = list((await uow.session.exec(due_tasks(now, batch))).all())
        if not tasks:
            return 0
        # A task's notices depend on its kind, its due moment and its last notice only, and
        # a batch holds many tasks alike (due the same day): each is worked out once.
        plans: dict[tuple, tuple[list[Notice], datetime | None]] = {}
        wanted: list[tuple[Any, Notice]] = []
        nxt: list[datetime | None] = []
        for t in tasks:
            plan = plans.get(k := (t.kind, t.due_at, t.next_notice_at))
            if plan is None:
                plan = plans[k] = (due_notices(t, t.next_notice_at, now, policy, cal),
                                   next_notice_after(t, now, policy, cal))
            wanted += [(t, n) for n in plan[0]]
            nxt.append(plan[1])
        await set_next_notices(uow, tasks, nxt)
        keys = {notice_key(t.id, n): (t, n) for t, n in wanted}
        claimed = await claim_notices(uow, [{"key": k, "item_kind": t.item_kind, "item_id": t.item_id,
                                             "task_id": t.id, "kind": n.kind, "due_at": n.at}
                                            for k, (t, n) in keys.items()])
        items = await items_by_kind(uow, [(t.item_kind, t.item_id) for t, _ in keys.values()], rows=True)
        today, overdue_by = cal.today(now), {}
        for key in sorted(claimed, key=lambda k: keys[k][1].at):
            t, n = keys[key]
            item = items.get((t.item_kind, t.item_id))
            if item is None:
                continue
            overdue = overdue_by.get(t.due_at)
            if overdue is None:
                overdue = overdue_by[t.due_at] = max(0, cal.business_days_between(cal.today(t.due_at), today))
            uow.emit(DomainEvent(n.kind, t.item_kind, t.item_id, item.reference,
                                 {"task": t, "item": item, "seq": n.seq, "overdue_business_days": overdue}, key=key))
            setattr(report, n.kind + "s", getattr(report, n.kind + "s") + 1)
        report.tasks += len(tasks)
        report.batches.append(len(tasks))
        await uow.commit()
    return len(tasks)
