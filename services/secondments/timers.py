"""The secondment's timed steps, around a placement's dates (calendar days, from the timing
policy's `[secondment]` table): ask about an extension, then begin the handover by itself,
before the end; remind of an incomplete pre-deployment checklist before the start, and
escalate it on the start date. Each is claimed once (`claim_notices`), whatever the sweeps do."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from services.engine.events import DomainEvent, EventName
from services.engine.tasks import claim_notices
from services.engine.workflow import Timer
from services.secondments.models import ChecklistEntry, Secondment
from states.common import SYSTEM
from states.secondment import ChecklistItem, SecondmentAction, SecondmentState as S

if TYPE_CHECKING:
    from services.infra.uow import Services, UnitOfWork

ITEM = "secondment"


def _notice(svc: Services, s: Secondment, kind: str, on: date) -> dict:
    return {"key": f"secondment:{s.id}:{kind}:{on.isoformat()}", "item_kind": ITEM, "item_id": s.id,
            "kind": kind, "due_at": svc.calendar.at(on, svc.policy.notice_hour)}


async def _ids(svc: Services, *where) -> list[int]:
    async with svc.uow(write=False) as uow:
        return list((await uow.session.exec(select(Secondment.id).where(*where))).all())


async def _locked(uow: UnitOfWork, sid: int, state: S) -> Secondment | None:
    q = select(Secondment).where(Secondment.id == sid, Secondment.state == state.value).with_for_update(skip_locked=True)
    return (await uow.session.exec(q)).first()


async def end_of_placement(svc: Services, now: datetime, counts: Counter) -> None:
    """Ask about an extension, then begin the handover, as the end date approaches."""
    svc = svc.at(now)
    sp, today = svc.policy.secondment, svc.calendar.today(now)
    workflow = svc.workflow(ITEM)
    for sid in await _ids(svc, Secondment.state == S.ACTIVE.value,
                          Secondment.end_date <= today + timedelta(days=sp.ask_about_extension_days_before_end)):
        async with svc.uow() as uow:
            if (s := await _locked(uow, sid, S.ACTIVE)) is None:
                continue
            handover_on = s.end_date - timedelta(days=sp.begin_handover_days_before_end)
            ask_on = s.end_date - timedelta(days=sp.ask_about_extension_days_before_end)
            if handover_on <= today:
                if not await claim_notices(uow, [_notice(svc, s, "auto_handover", handover_on)]):
                    continue
                await workflow.take(uow, await workflow.load_one(uow, s), None, SecondmentAction.BEGIN_HANDOVER, {
                    "comment": f"Begun by RSO Workflow {sp.begin_handover_days_before_end} days before the end date."},
                    system_actor=SYSTEM)
                counts["handovers_begun"] += 1
            elif ask_on <= today and s.extension_end_date is None:
                if not await claim_notices(uow, [_notice(svc, s, "extension_ask", ask_on)]):
                    continue
                uow.emit(DomainEvent(EventName.MILESTONE, ITEM, s.id, s.reference,
                                     {"milestone": "extension_ask", "handover_on": handover_on.isoformat()}))
                counts["extension_asks"] += 1
            await uow.commit()


async def pre_deployment(svc: Services, now: datetime, counts: Counter) -> None:
    """Remind of an incomplete checklist before the start date; escalate it on the day."""
    svc = svc.at(now)
    sp, today = svc.policy.secondment, svc.calendar.today(now)
    for sid in await _ids(svc, Secondment.state == S.PRE_DEPLOYMENT.value,
                          Secondment.start_date <= today + timedelta(days=sp.checklist_reminder_days_before_start)):
        async with svc.uow() as uow:
            if (s := await _locked(uow, sid, S.PRE_DEPLOYMENT)) is None:
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
            if not await claim_notices(uow, [_notice(svc, s, kind, s.start_date)]):
                continue
            uow.emit(DomainEvent(EventName.MILESTONE, ITEM, s.id, s.reference, {"milestone": kind, "missing": missing}))
            counts[counter] += 1
            await uow.commit()


async def secondment_timers(svc: Services, now: datetime, counts: Counter) -> None:
    await end_of_placement(svc, now, counts)
    await pre_deployment(svc, now, counts)


TIMERS = (Timer("secondment-timers", secondment_timers,
                {"handovers_begun": "handover(s) begun", "extension_asks": "extension question(s)",
                 "checklist_reminders": "checklist reminder(s)", "checklist_escalations": "checklist escalation(s)"}),)
