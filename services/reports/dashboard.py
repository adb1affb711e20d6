"""The staff's dashboard: the state of the work now, from the same records as the reports and
with the same definitions (`services.reports.figures`).

- OPEN TASKS BY KIND AND AGE: every open task, by its step and by how long it has been open,
  in business days after the day it was opened up to and including today.
- OVERDUE NOW: every open task past its due moment, most overdue first, with its item.
- RECEIVED AND DECIDED PER MONTH: over the twelve months to this one (this one so far),
  proposals and nominations received and decided, as the reports count them.
- MEDIAN TIME PER STAGE: the stays in each stage that ended in those twelve months.
- SECONDMENTS ACTIVE NOW: placements in `active` or `concluding`, by sending member state.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from services.engine.errors import Forbidden
from services.engine.models import HistoryEvent, User
from services.engine.people import is_staff
from services.engine.tasks import Task, TaskStatus
from services.infra.tables import Column, Table
from services.infra.uow import Services
from services.proposals.models import Proposal
from services.reports.figures import (PROPOSAL_STAGES, SECONDMENT_STAGES, STAGES, median, member_name, stays_ended,
                                      words)
from services.secondments.models import Secondment
from states.proposal import FINAL_STATES as PROPOSAL_FINAL
from states.secondment import SecondmentState

AGES = (("0-5", "Up to 5", 0, 5), ("6-10", "6 to 10", 6, 10), ("11-20", "11 to 20", 11, 20),
        ("over_20", "Over 20", 21, None))


@dataclass
class Overdue:
    item_kind: str
    reference: str
    title: str
    step: str
    due: date
    business_days_overdue: int


@dataclass
class Dashboard:
    as_of: datetime  # in the RSO's time zone
    open_tasks: Table
    overdue: list[Overdue]
    per_month: Table
    stage_medians: Table
    active_secondments: Table


_FIGURES = ("proposals_received", "proposals_decided", "nominations_received", "nominations_decided")


async def _per_month(session, bounds: list[datetime]) -> list[dict[str, int]]:
    """Received and decided, as the reports count them, in each month between `bounds`
    (the months' first midnights, then the end): counted by the database, a row per month
    (each event put in its month by comparing it with the bounds, which are the RSO's
    midnights, whatever the time zone)."""
    h = HistoryEvent.__table__
    bucket = sa.case(*((h.c.at < b, i) for i, b in enumerate(bounds[1:])), else_=len(bounds) - 1)
    changed = sa.and_(h.c.from_state.is_not(None), h.c.from_state != "draft", h.c.from_state != h.c.to_state)
    proposal, secondment = h.c.item_kind == "proposal", h.c.item_kind == "secondment"
    tally = {
        "proposals_received": sa.and_(proposal, h.c.action == "submit"),
        "proposals_decided": sa.and_(proposal, changed, h.c.to_state.in_([s.value for s in PROPOSAL_FINAL])),
        "nominations_received": sa.and_(secondment, h.c.action == "submit"),
        # accepted (under review -> arranging) or declined: the co-managers' decision, as the reports count it
        "nominations_decided": sa.and_(secondment, changed, h.c.action == "decide",
                                       h.c.to_state.in_((SecondmentState.ARRANGING.value, SecondmentState.DECLINED.value))),
    }
    q = (sa.select(bucket.label("month"), *(sa.func.sum(sa.case((cond, 1), else_=0)).label(k)
                                            for k, cond in tally.items()))
         .where(h.c.at >= bounds[0], h.c.at < bounds[-1],
                sa.or_(h.c.action.in_(("submit", "decide")), sa.and_(changed, h.c.to_state.in_(
                    [s.value for s in PROPOSAL_FINAL]))))
         .group_by(bucket))
    found = {r.month: r for r in (await session.exec(q)).all()}
    return [{k: int(getattr(found[i], k) or 0) if i in found else 0 for k in _FIGURES}
            for i in range(len(bounds) - 1)]


async def read(svc: Services, *, user: User) -> Dashboard:
    """For RSO staff (co-managers, co-chairs, admins): the dashboard as of the service's clock.
    Changes nothing."""
    if not is_staff(user):
        raise Forbidden("the dashboard is for the RSO's staff")
    tz, cal = svc.timezone, svc.calendar
    now = svc.clock()
    today = cal.today(now)
    first_month = today.replace(day=1) - relativedelta(months=11)
    t0 = datetime.combine(first_month, time(0), tzinfo=tz)
    t1 = datetime.combine(today.replace(day=1) + relativedelta(months=1), time(0), tzinfo=tz)
    t = Task.__table__
    p, s = Proposal.__table__, Secondment.__table__
    async with svc.uow(write=False) as uow:
        session = uow.session
        open_ = (await session.exec(sa.select(t.c.kind, t.c.created_at, t.c.due_at, t.c.item_kind, t.c.item_id)
                                       .where(t.c.status == TaskStatus.OPEN))).all()
        late = [r for r in open_ if r.due_at < now]
        refs: dict[tuple[str, int], tuple[str, str]] = {}
        for kind, model, title in (("proposal", p, p.c.title), ("secondment", s, s.c.nominee_full_name)):
            ids = sorted({r.item_id for r in late if r.item_kind == kind})
            for i in range(0, len(ids), 5000):
                q = sa.select(model.c.id, model.c.reference, title).where(model.c.id.in_(ids[i:i + 5000]))
                refs.update({(kind, r[0]): (r[1], r[2]) for r in (await session.exec(q)).all()})
        months = [first_month + relativedelta(months=i) for i in range(12)]
        per_month_counts = await _per_month(session, [datetime.combine(m, time(0), tzinfo=tz) for m in months] + [t1])
        stays = await stays_ended(session, t0, t1, STAGES)
        active = (await session.exec(sa.select(s.c.member_state, sa.func.count()).where(
            s.c.state.in_((SecondmentState.ACTIVE.value, SecondmentState.CONCLUDING.value)))
            .group_by(s.c.member_state))).all()

    # Open tasks by kind and age.
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for r in open_:
        age = cal.business_days_between(cal.today(r.created_at), today)
        bucket = next(key for key, _, lo, hi in AGES if hi is None or age <= hi)
        by_kind[r.kind][bucket] += 1
        by_kind[r.kind]["overdue"] += r.due_at < now
    open_tasks = Table("open_tasks", "Open tasks by step and age (business days open)",
                       [Column("step", "Step"), *(Column(k, f"{lbl} days", "int") for k, lbl, _, _ in AGES),
                        Column("total", "Open", "int"), Column("overdue", "Overdue", "int")],
                       [{"step": words(k), **{a[0]: c[a[0]] for a in AGES}, "total": sum(c[a[0]] for a in AGES),
                         "overdue": c["overdue"]} for k, c in sorted(by_kind.items(), key=lambda kv: words(kv[0]))],
                       "Every open task, by its step and the business days since it was opened.")

    overdue = sorted((Overdue(r.item_kind, *refs.get((r.item_kind, r.item_id), (f"#{r.item_id}", "")), words(r.kind),
                              cal.today(r.due_at), cal.business_days_between(cal.today(r.due_at), today))
                      for r in late), key=lambda o: (-o.business_days_overdue, o.reference))

    # Received and decided per month.
    counts = dict(zip(months, per_month_counts))
    per_month = Table("received_and_decided", "Received and decided per month",
                      [Column("month", "Month"), Column("proposals_received", "Proposals received", "int"),
                       Column("proposals_decided", "Proposals decided", "int"),
                       Column("nominations_received", "Nominations received", "int"),
                       Column("nominations_decided", "Nominations decided", "int")],
                      [{"month": f"{m:%b %Y}", "month_start": m, **{k: counts[m][k] for k in (
                          "proposals_received", "proposals_decided", "nominations_received", "nominations_decided")}}
                       for m in months],
                      "Received: first submitted in the month. Decided: a proposal's final state entered; a "
                      "nomination accepted or declined. The last month is so far.")

    # Median time per stage.
    lengths: dict[tuple[str, str], list[int]] = defaultdict(list)
    for kind, stage, entered, left in stays:
        lengths[(kind, stage)].append(cal.business_days_between(cal.today(entered), cal.today(left)))
    stage_rows = [{"stage": f"{words(stage.value)} ({kind}s)", "median": median(lengths[(kind, stage.value)]),
                   "stays": len(lengths[(kind, stage.value)])}
                  for kind, stages in (("proposal", PROPOSAL_STAGES), ("secondment", SECONDMENT_STAGES))
                  for stage in stages]
    stage_medians = Table("time_per_stage", "Median time per stage, last 12 months (business days)",
                          [Column("stage", "Stage"), Column("median", "Median", "number"),
                           Column("stays", "Stays ended", "int")], stage_rows,
                          "The stays in each stage that ended in the twelve months, in business days.")

    active_secondments = Table("active_secondments", "Secondments active now, by sending member state",
                               [Column("member_state", "Member state"), Column("active", "Active", "int")],
                               [{"member_state": member_name(ms), "active": n}
                                for ms, n in sorted(active, key=lambda r: (-r[1], member_name(r[0])))],
                               "Placements active or concluding now.")
    return Dashboard(now.astimezone(tz), open_tasks, overdue, per_month, stage_medians, active_secondments)
