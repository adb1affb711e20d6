"""The proposal's timed step: a consultation closes by itself so many business days after its
due date (the timing policy's `auto_close_business_days_after`). The unanswered stakeholders
are recorded as "no response" and the proposal moves on to the Co-Chairs."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from services.engine.tasks import Task, TaskKind, TaskStatus, claim_notices
from services.engine.workflow import Timer
from services.proposals.models import Proposal
from states.common import SYSTEM
from states.proposal import ProposalAction, ProposalState

if TYPE_CHECKING:
    from services.infra.uow import Services

ITEM = "proposal"


async def close_consultations(svc: Services, now: datetime, counts: Counter) -> None:
    svc = svc.at(now)
    policy, cal = svc.policy, svc.calendar
    after = policy.task(TaskKind.CONSULTATION).auto_close_business_days_after
    if after is None:
        return
    today = cal.today(now)
    # Business days are at least as long as calendar days: a superset, checked one by one below.
    latest_due = cal.end_of_day(today - timedelta(days=after))
    async with svc.uow(write=False) as uow:
        ids = list((await uow.session.exec(
            select(Task.item_id).where(Task.item_kind == ITEM, Task.kind == TaskKind.CONSULTATION,
                                       Task.status == TaskStatus.OPEN, Task.due_at <= latest_due).distinct())).all())
    workflow = svc.workflow(ITEM)
    for pid in ids:
        async with svc.uow() as uow:
            q = (select(Proposal).where(Proposal.id == pid,
                                        Proposal.state == ProposalState.STAKEHOLDER_CONSULTATION.value)
                 .with_for_update(skip_locked=True))
            p = (await uow.session.exec(q)).first()
            if p is None:
                continue
            loaded = await workflow.load_one(uow, p)
            due = max((t.due_at for t in loaded.tasks if t.kind == TaskKind.CONSULTATION), default=None)
            if due is None:
                continue
            closes_on = cal.add_business_days(cal.today(due), after)
            if closes_on > today:
                continue
            if not await claim_notices(uow, [{"key": f"proposal:{p.id}:auto_close:{p.round}", "item_kind": ITEM,
                                              "item_id": p.id, "kind": "auto_close",
                                              "due_at": cal.at(closes_on, policy.notice_hour)}]):
                continue
            await workflow.take(uow, loaded, None, ProposalAction.CLOSE_CONSULTATION, {
                "comment": f"Closed by RSO Workflow {after} business days after the consultation's due date "
                           f"({cal.today(due).strftime('%-d %B %Y')})."}, system_actor=SYSTEM)
            await uow.commit()
            counts["consultations_closed"] += 1


TIMERS = (Timer("close-consultations", close_consultations, {"consultations_closed": "consultation(s) closed"}),)
