"""The figures of the RSO's reports, each defined once, here, with its definition beside it.

Everything is read from what the workflow already keeps: the history events (every action,
with its moment and the state it left and entered), the tasks (due and closed moments) and
the deadline notices (each reminder and escalation the sweep sent). A period is whole days in
the RSO's time zone (`services.reports.periods`); "in the period" means at a moment on or
after its first midnight and before the next period's. Business days are the project's
calendar's (weekends and the host country's public holidays).

Definitions (the report prints each beside its table):
- RECEIVED: a proposal or nomination is received in the period when it was first submitted
  in it (the `submit` action; a resubmission after revision is the same item, not a new one).
  A draft never submitted (even one withdrawn) is never received and never counted anywhere.
- DECIDED: decided in the period = a final state entered in the period, after submission:
  approved (with conditions when the co-chairs gave some), declined, withdrawn.
- OPEN AT THE END: received before the period's end and not in a final state at its end.
- STAGE TIME: a stay in a stage (a state that is not a draft and not final) counts in the
  period in which it ended; its length is the business days after the day it began up to
  and including the day it ended (a stage entered and left on the same day: 0). A proposal
  in a second round has a second stay in review. Median: the middle stay (the mean of the
  two middle ones for an even count); 90th percentile: the nearest rank (the stay at
  position ceil(0.9 × n) in order).
- LATE STEP: a task due in the period is late when it was done after its due moment, or
  closed for want of an answer (or cancelled) after it, or still open past it at the period's
  end (or now, for a period not over): so a closed month's figure does not change later. A
  task cancelled before it was due (its item moved on) is not counted.
- REMINDERS AND ESCALATIONS: the notices the deadline sweep sent in the period.
- CONSULTATIONS CLOSED WITHOUT EVERY RESPONSE: a consultation closed in the period (by a
  co-manager or by the sweep) while at least one invited stakeholder had not answered.
- SECONDMENTS: nominations received (as above), accepted and declined (the co-managers'
  decision in the period), withdrawn after submission; placements started (the `start`
  action in the period), active (started before the period's end and not completed or
  terminated before its start), completed (entered `completed` in the period).
- PERSON-MONTHS: each placement covers the days from the day it started to the day before it
  was completed or terminated (to today, for one that goes on); each day counts as 1/(days
  in its month) of a month, so a whole month of one person is 1.0.
- EXTENSIONS: requested in the period (`request_extension`); approved in the period.
"""
from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.config.reference_data import members
from services.engine.models import HistoryEvent
from services.engine.tasks import DeadlineNotice, Task, TaskKind, TaskStatus
from services.infra.tables import Column, Table
from services.infra.uow import Services
from services.proposals.models import Proposal
from services.reports.periods import Period
from services.secondments.models import Secondment
from states.proposal import FINAL_STATES as PROPOSAL_FINAL, ProposalState
from states.secondment import SecondmentState

THEMATIC_AREAS = ("people_smuggling", "trafficking_in_persons", "irregular_migration", "transnational_crime",
                  "technology_misuse")
ENGAGEMENT_TYPES = ("collaboration", "new_project", "funding_support", "in_kind_support")
SCOPES = ("bilateral", "multilateral", "regional")
OUTCOMES = ("approved", "approved_with_conditions", "declined", "withdrawn")
PROPOSAL_STAGES = (ProposalState.CO_MANAGER_REVIEW, ProposalState.REVISION_REQUESTED,
                   ProposalState.STAKEHOLDER_CONSULTATION, ProposalState.CO_CHAIR_GUIDANCE)
SECONDMENT_STAGES = (SecondmentState.UNDER_REVIEW, SecondmentState.INFO_REQUESTED, SecondmentState.ARRANGING,
                     SecondmentState.PRE_DEPLOYMENT, SecondmentState.ACTIVE, SecondmentState.CONCLUDING)
# The report's tables, in order (the summary first): their names in files and addresses.
TABLES = ("summary", "proposals_by_member_state", "proposals_by_thematic_area", "proposals_by_engagement_type",
          "proposals_by_scope", "approved_proposals", "time_per_stage", "late_steps", "reminders_and_escalations",
          "secondments_by_member_state")
STAGES = tuple(sorted({s.value for s in (*PROPOSAL_STAGES, *SECONDMENT_STAGES)}))

WORDS = {
    "people_smuggling": "People smuggling", "trafficking_in_persons": "Trafficking in persons",
    "irregular_migration": "Irregular migration", "transnational_crime": "Transnational crime",
    "technology_misuse": "Misuse of technology", "collaboration": "Collaboration", "new_project": "New project",
    "funding_support": "Funding support", "in_kind_support": "In-kind support", "bilateral": "Bilateral",
    "multilateral": "Multilateral", "regional": "Regional", "co_manager_review": "Co-Manager review",
    "revision_requested": "Revision requested", "stakeholder_consultation": "Stakeholder consultation",
    "co_chair_guidance": "Co-Chair guidance", "under_review": "Under review", "info_requested": "Information requested",
    "arranging": "Arranging", "pre_deployment": "Pre-deployment", "active": "Active", "concluding": "Concluding",
    "review": "Co-Manager review", "consultation": "Stakeholder consultation", "guidance": "Co-Chair guidance",
    "decision": "Decision on a nomination", "extension": "Decision on an extension",
    "final_report": "Final report of a secondment", "secondment_end": "End of a placement (extension question)",
    "pre_deployment_checklist": "Pre-deployment checklist", "proposal": "Proposal", "secondment": "Secondment",
    "approved": "Approved", "approved_with_conditions": "Approved with conditions", "declined": "Declined",
    "withdrawn": "Withdrawn",
}


def words(value: str | None) -> str:
    if value is None:
        return ""
    return WORDS.get(value, value.replace("_", " ").capitalize())


def member_name(code: str) -> str:
    found = members().get(code)
    return f"{found['name']} ({code})" if found else code


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile_90(values: list[int]) -> int | None:
    """Nearest rank: the value at position ceil(0.9 × n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


@dataclass
class Report:
    period: Period
    issued_at: datetime  # when it was computed, in the RSO's time zone
    summary: Table
    tables: list[Table] = field(default_factory=list)

    @property
    def so_far(self) -> bool:
        """The period is still under way: its figures are those so far."""
        return self.issued_at.date() <= self.period.last

    def all_tables(self) -> list[Table]:
        return [self.summary, *self.tables]

    def table(self, name: str) -> Table | None:
        return next((t for t in self.all_tables() if t.name == name), None)

    def figure(self, key: str) -> Any:
        """A headline figure by key (the summary's rows): `report.figure("proposals_received")`."""
        return next((r["value"] for r in self.summary.rows if r["key"] == key), None)

    def as_json(self) -> dict:
        return {"kind": self.period.kind.value, "period": self.period.name, "label": self.period.label,
                "title": self.period.title, "from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                "issued_at": self.issued_at.isoformat(timespec="seconds"),
                "figures": {r["key"]: r["value"] for r in self.summary.rows},
                "tables": [{"name": t.name, "title": t.title, "definition": t.definition,
                            "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in t.columns],
                            "rows": [{c.key: _json(r.get(c.key)) for c in t.columns} for r in t.rows]}
                           for t in self.tables]}


def _json(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# --- reading -------------------------------------------------------------------------------

@dataclass
class _Event:
    item_kind: str
    item_id: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    arguments: dict


def _events(rows) -> list[_Event]:
    return [_Event(r.item_kind, r.item_id, r.at, r.action, r.from_state, r.to_state, r.arguments or {}) for r in rows]


_READ_ARGUMENTS = ("decide", "decide_extension", "give_guidance", "close_consultation")


async def period_events(session, t0: datetime, t1: datetime) -> list[_Event]:
    """The events of the period that any figure reads: submissions, state changes, extensions."""
    h = HistoryEvent.__table__
    # The arguments only of the actions whose arguments a figure reads: decoding JSON is most
    # of the cost of a row.
    arguments = sa.case((h.c.action.in_(_READ_ARGUMENTS), h.c.arguments), else_=sa.null()).label("arguments")
    q = (sa.select(h.c.item_kind, h.c.item_id, h.c.at, h.c.action, h.c.from_state, h.c.to_state, arguments)
         .where(h.c.at >= t0, h.c.at < t1,
                sa.or_(h.c.action.in_(("submit", "start", "request_extension", "decide_extension", "decide",
                                       "close_consultation")),
                       h.c.from_state != h.c.to_state))
         .order_by(h.c.id))
    return _events((await session.exec(q)).all())


async def stays_ended(session, t0: datetime, t1: datetime, stages: Iterable[str] | None = None
                      ) -> list[tuple[str, str, datetime, datetime]]:
    """(item kind, stage, entered, left) of every stay in a stage that ended in the period: of
    the items that changed state in the period, each state change paired (in SQL, by a window
    over the item's changes in order) with the one before it, which began the stay."""
    h = HistoryEvent.__table__
    changed = (sa.select(h.c.item_kind, h.c.item_id).where(h.c.at >= t0, h.c.at < t1, h.c.from_state != h.c.to_state)
               .distinct().subquery("changed"))
    before = dict(partition_by=(h.c.item_kind, h.c.item_id), order_by=h.c.id)
    changes = (sa.select(h.c.item_kind, h.c.at, h.c.from_state,
                         sa.func.lag(h.c.at, type_=h.c.at.type).over(**before).label("entered"),
                         sa.func.lag(h.c.to_state, type_=h.c.to_state.type).over(**before).label("entered_state"))
               .join(changed, sa.and_(changed.c.item_kind == h.c.item_kind, changed.c.item_id == h.c.item_id))
               .where(h.c.at < t1, sa.or_(h.c.from_state.is_(None), h.c.from_state != h.c.to_state))
               .subquery("changes"))
    c = changes.c
    q = sa.select(c.item_kind, c.from_state, c.entered, c.at).where(
        c.at >= t0, c.entered.is_not(None), c.entered_state == c.from_state)
    if stages is not None:
        q = q.where(c.from_state.in_(list(stages)))
    return (await session.exec(q)).all()


async def _items(session, model, ids: set[int], columns: list[str]) -> dict[int, Any]:
    if not ids:
        return {}
    t = model.__table__
    found: dict[int, Any] = {}
    ids_ = sorted(ids)
    for i in range(0, len(ids_), 5000):
        q = sa.select(t.c.id, *(t.c[c] for c in columns)).where(t.c.id.in_(ids_[i:i + 5000]))
        found.update({r.id: r for r in (await session.exec(q)).all()})
    return found


async def _open_at_end(session, model, kind: str, t1: datetime, columns: list[str]) -> list[Any]:
    """The items received before `t1` and not closed (a final state) before it."""
    t, h = model.__table__, HistoryEvent.__table__
    received = sa.select(h.c.item_id).where(h.c.item_kind == kind, h.c.action == "submit", h.c.at < t1)
    q = (sa.select(t.c.id, *(t.c[c] for c in columns))
         .where(t.c.id.in_(received), sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= t1)))
    return list((await session.exec(q)).all())


# --- the report ----------------------------------------------------------------------------

async def compute(svc: Services, period: Period) -> Report:
    """The report of `period`, as of the service's clock. Anyone may compute it; who may read
    it is the caller's to check (`services.reports.read`)."""
    tz, cal = svc.timezone, svc.calendar
    t0, t1 = period.bounds(tz)
    now = svc.clock()
    until = min(t1, now)  # "at the end": of the period, or now for one not over
    async with svc.uow(write=False) as uow:
        s = uow.session
        events = await period_events(s, t0, t1)
        stays = await stays_ended(s, t0, t1, STAGES)
        p_ids = {e.item_id for e in events if e.item_kind == "proposal"}
        s_ids = {e.item_id for e in events if e.item_kind == "secondment"}
        p_cols = ["reference", "title", "member_state", "thematic_areas", "engagement_type", "scope", "conditions"]
        proposals = await _items(s, Proposal, p_ids, p_cols)
        open_p = await _open_at_end(s, Proposal, "proposal", until, ["member_state", "thematic_areas",
                                                                     "engagement_type", "scope"])
        secondments = await _items(s, Secondment, s_ids, ["member_state", "reference"])
        tasks = (await s.exec(sa.select(Task.__table__.c.kind, Task.__table__.c.status, Task.__table__.c.due_at,
                                           Task.__table__.c.closed_at)
                                 .where(Task.__table__.c.due_at >= t0, Task.__table__.c.due_at < t1))).all()
        n, tk = DeadlineNotice.__table__, Task.__table__
        notices = (await s.exec(sa.select(n.c.kind, tk.c.kind.label("task_kind"))
                                   .select_from(n.outerjoin(tk, tk.c.id == n.c.task_id))
                                   .where(n.c.created_at >= t0, n.c.created_at < t1))).all()
        placements = await _placements(s, t0, t1)
    return _assemble(period, now.astimezone(tz), cal, tz, until, events, stays, proposals, open_p, secondments,
                     tasks, notices, placements)


async def _placements(session, t0: datetime, t1: datetime) -> list[tuple[str, datetime, datetime | None]]:
    """(sending member state, started, ended or None) of each placement started before `t1`
    and not ended before `t0`."""
    h, t = HistoryEvent.__table__, Secondment.__table__
    q = (sa.select(t.c.member_state, h.c.at, t.c.closed_at, t.c.state)
         .join(t, sa.and_(h.c.item_kind == "secondment", h.c.item_id == t.c.id))
         .where(h.c.action == "start", h.c.at < t1, sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= t0)))
    return [(r.member_state, r.at, r.closed_at if r.state in (SecondmentState.COMPLETED, SecondmentState.TERMINATED)
             else None) for r in (await session.exec(q)).all()]


def outcome_of(e: _Event) -> str | None:
    """What a final state entered means for a report: approved (with conditions), declined, withdrawn."""
    if e.to_state == ProposalState.APPROVED:
        return "approved_with_conditions" if e.arguments.get("decision") == "approve_with_conditions" else "approved"
    return e.to_state


def _person_months(started: date, ended: date, first: date, end: date) -> float:
    """The days [started, ended) within [first, end), each 1/(days in its month)."""
    d, total = max(started, first), 0.0
    stop = min(ended, end)
    while d < stop:
        month_end = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        days_in_month = (month_end - d.replace(day=1)).days
        upto = min(stop, month_end)
        total += (upto - d).days / days_in_month
        d = upto
    return total


def _assemble(period, issued_at, cal, tz, until, events, stays, proposals, open_p, secondments, tasks, notices,
              placements) -> Report:
    day = lambda m: m.astimezone(tz).date()  # noqa: E731

    # Proposals: received, decided, open at the end, by each dimension.
    received_p = [e for e in events if e.item_kind == "proposal" and e.action == "submit"]
    decided_p = [(e, outcome_of(e)) for e in events if e.item_kind == "proposal" and e.to_state in PROPOSAL_FINAL
                 and e.from_state not in (None, ProposalState.DRAFT) and e.from_state != e.to_state]
    by: dict[str, dict[str, Counter]] = {d: defaultdict(Counter) for d in ("member_state", "thematic_area",
                                                                           "engagement_type", "scope")}

    def count(row, what: str) -> None:
        by["member_state"][row.member_state][what] += 1
        for area in row.thematic_areas or []:
            by["thematic_area"][area][what] += 1
        if row.engagement_type:
            by["engagement_type"][row.engagement_type][what] += 1
        if row.scope:
            by["scope"][row.scope][what] += 1

    for e in received_p:
        count(proposals[e.item_id], "received")
    for e, outcome in decided_p:
        count(proposals[e.item_id], outcome)
    for row in open_p:
        count(row, "open_at_end")

    columns = [Column("received", "Received", "int"), *(Column(o, words(o), "int") for o in OUTCOMES),
               Column("open_at_end", "Open at the end", "int")]
    dims = [("member_state", "Proposals by member state", "Member state", None, member_name),
            ("thematic_area", "Proposals by thematic area", "Thematic area", THEMATIC_AREAS, words),
            ("engagement_type", "Proposals by engagement type", "Engagement type", ENGAGEMENT_TYPES, words),
            ("scope", "Proposals by scope", "Scope", SCOPES, words)]
    definition = ("Received: first submitted in the period. Approved, declined, withdrawn: that final state entered "
                  "in the period. Open at the end: received before the period's end and not decided by then.")
    tables = []
    for dim, title, head, every, name in dims:
        keys = list(every) if every else sorted(by[dim], key=lambda k: name(k))
        rows = [{dim: name(k), **{c.key: by[dim][k][c.key] for c in columns}} for k in keys]
        extra = " A proposal counts once under each of its thematic areas." if dim == "thematic_area" else ""
        tables.append(Table(f"proposals_by_{dim}", title, [Column(dim, head), *columns], rows, definition + extra))

    approved = sorted((e for e, o in decided_p if e.to_state == ProposalState.APPROVED), key=lambda e: e.at)
    tables.append(Table("approved_proposals", "Approved proposals", [
        Column("reference", "Reference"), Column("title", "Title", wide=True), Column("member_state", "Member state"),
        Column("approved_on", "Approved on", "date"), Column("conditions", "Conditions", wide=True)],
        [{"reference": proposals[e.item_id].reference, "title": proposals[e.item_id].title,
          "member_state": member_name(proposals[e.item_id].member_state), "approved_on": day(e.at),
          "conditions": e.arguments.get("conditions") or proposals[e.item_id].conditions or ""} for e in approved],
        "Proposals that entered Approved in the period, in the order approved, with the Co-Chairs' conditions."))

    # Time per stage.
    lengths: dict[tuple[str, str], list[int]] = defaultdict(list)
    for kind, stage, entered, left in stays:
        lengths[(kind, stage)].append(cal.business_days_between(day(entered), day(left)))
    stage_rows = []
    for kind, stages in (("proposal", PROPOSAL_STAGES), ("secondment", SECONDMENT_STAGES)):
        for stage in stages:
            values = lengths.get((kind, stage.value), [])
            stage_rows.append({"lifecycle": words(kind), "stage": words(stage.value), "stays": len(values),
                               "median": median(values), "p90": percentile_90(values)})
    tables.append(Table("time_per_stage", "Time in each stage (business days)", [
        Column("lifecycle", "Lifecycle"), Column("stage", "Stage"), Column("stays", "Stays ended", "int"),
        Column("median", "Median", "number"), Column("p90", "90th percentile", "int")], stage_rows,
        "Each stay in a stage counts in the period it ended in; its length is the business days after the day it "
        "began up to and including the day it ended. 90th percentile: nearest rank."))

    # Late steps.
    due, late = Counter(), Counter()
    for kind, status, due_at, closed_at in tasks:
        if status == TaskStatus.CANCELLED and closed_at <= due_at:
            continue  # its item moved on before it was due: nobody was late
        due[kind] += 1
        # Done (or closed for want of an answer, or cancelled) after it was due, or still open
        # past it: a closed month's figure stays as it was at the month's end.
        if (closed_at is not None and closed_at > due_at) or (closed_at is None and due_at < until):
            late[kind] += 1
    late_rows = [{"step": words(k), "due": due[k], "late": late[k], "share_late": late[k] / due[k]}
                 for k in sorted(due, key=lambda k: (-late[k], -late[k] / due[k], words(k)))]
    tables.append(Table("late_steps", "Steps that ran late", [
        Column("step", "Step"), Column("due", "Due in the period", "int"), Column("late", "Late", "int"),
        Column("share_late", "Share late", "percent")], late_rows,
        "Tasks due in the period; late: done (or closed for want of an answer, or cancelled) after the due date, or "
        "still open past it at the period's end. Tasks cancelled before they were due (the item moved on) are not "
        "counted. Most often late first."))

    # Reminders and escalations.
    sent: dict[str, Counter] = defaultdict(Counter)
    for kind, task_kind in notices:
        if task_kind is not None and kind in ("reminder", "escalation"):
            sent[task_kind][kind] += 1
        elif kind == "extension_ask":
            sent["secondment_end"]["reminder"] += 1
        elif kind in ("checklist_reminder", "checklist_escalation"):
            sent["pre_deployment_checklist"][kind.removeprefix("checklist_")] += 1
    order = [k.value for k in TaskKind] + ["secondment_end", "pre_deployment_checklist"]
    tables.append(Table("reminders_and_escalations", "Reminders and escalations sent", [
        Column("step", "Step"), Column("reminders", "Reminders", "int"), Column("escalations", "Escalations", "int")],
        [{"step": words(k), "reminders": sent[k]["reminder"], "escalations": sent[k]["escalation"]} for k in order],
        "The reminders and escalations the deadline sweep sent in the period, by the step they were about."))

    # Secondments, by sending member state.
    sec: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        if e.item_kind != "secondment":
            continue
        ms = secondments[e.item_id].member_state
        if e.action == "submit":
            sec[ms]["received"] += 1
        elif e.action == "decide" and e.arguments.get("decision") == "accept":
            sec[ms]["accepted"] += 1
        elif e.action == "decide" and e.arguments.get("decision") == "decline":
            sec[ms]["declined"] += 1
        elif e.action == "start":
            sec[ms]["started"] += 1
        elif e.action == "request_extension":
            sec[ms]["extensions_requested"] += 1
        elif e.action == "decide_extension" and e.arguments.get("decision") == "approve":
            sec[ms]["extensions_approved"] += 1
        if e.to_state == SecondmentState.WITHDRAWN and e.from_state not in (None, SecondmentState.DRAFT):
            sec[ms]["withdrawn"] += 1
        if e.to_state == SecondmentState.COMPLETED and e.from_state != e.to_state:
            sec[ms]["completed"] += 1
    months: dict[str, float] = defaultdict(float)
    today_end = day(until - timedelta(microseconds=1)) + timedelta(days=1)  # the day after the last day counted
    for ms, started, ended in placements:
        sec[ms]["active"] += 1
        months[ms] += _person_months(day(started), day(ended) if ended else today_end, period.first, period.end)
    sec_cols = [Column("received", "Nominations received", "int"), Column("accepted", "Accepted", "int"),
                Column("declined", "Declined", "int"), Column("withdrawn", "Withdrawn", "int"),
                Column("started", "Placements started", "int"), Column("active", "Active", "int"),
                Column("completed", "Completed", "int"), Column("person_months", "Person-months", "decimal2"),
                Column("extensions_requested", "Extensions requested", "int"),
                Column("extensions_approved", "Extensions approved", "int")]
    sec_rows = [{"member_state": member_name(ms), **{c.key: sec[ms][c.key] for c in sec_cols},
                 "person_months": round(months.get(ms, 0.0), 2)} for ms in sorted(sec, key=member_name)]
    tables.append(Table("secondments_by_member_state", "Secondments by sending member state",
                        [Column("member_state", "Member state"), *sec_cols], sec_rows,
                        "Nominations received: first submitted in the period. Accepted, declined: the Co-Managers' "
                        "decision in the period; withdrawn after submission. Placements started in the period; active "
                        "at any time in it; completed in it. Person-months: the days of each placement in the period, "
                        "each day 1/(days in its month). Extensions requested and approved in the period."))

    # The figures at a glance.
    closed_short = sum(1 for e in events if e.action == "close_consultation" and (e.arguments.get("no_response") or 0) > 0)
    outcome_count = Counter(o for _, o in decided_p)
    total = lambda key: sum(c[key] for c in sec.values())  # noqa: E731
    figures = [
        ("proposals_received", "Proposals received", len(received_p)),
        ("proposals_decided", "Proposals decided", len(decided_p)),
        ("proposals_approved", "Approved", outcome_count["approved"]),
        ("proposals_approved_with_conditions", "Approved with conditions", outcome_count["approved_with_conditions"]),
        ("proposals_declined", "Declined", outcome_count["declined"]),
        ("proposals_withdrawn", "Withdrawn", outcome_count["withdrawn"]),
        ("proposals_open_at_end", "Proposals open at the end", len(open_p)),
        ("consultations_closed_without_every_response", "Consultations closed without every response", closed_short),
        ("reminders_sent", "Reminders sent", sum(c["reminder"] for c in sent.values())),
        ("escalations_sent", "Escalations sent", sum(c["escalation"] for c in sent.values())),
        ("steps_late", "Steps due in the period that ran late", sum(late.values())),
        ("nominations_received", "Nominations received", total("received")),
        ("nominations_accepted", "Nominations accepted", total("accepted")),
        ("nominations_declined", "Nominations declined", total("declined")),
        ("placements_started", "Placements started", total("started")),
        ("placements_active", "Placements active", total("active")),
        ("placements_completed", "Placements completed", total("completed")),
        ("person_months", "Person-months", round(sum(months.values()), 2)),
        ("extensions_requested", "Extensions requested", total("extensions_requested")),
        ("extensions_approved", "Extensions approved", total("extensions_approved")),
    ]
    summary = Table("summary", "At a glance", [Column("figure", "Figure"), Column("value", "Value", "general")],
                    [{"key": k, "figure": label, "value": v} for k, label, v in figures],
                    "The period's headline figures; each is defined beside its table below.")
    report = Report(period, issued_at, summary, tables)
    assert tuple(t.name for t in report.all_tables()) == TABLES
    return report
