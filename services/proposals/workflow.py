"""The proposal lifecycle on the shared engine (`services.engine.workflow`): what is particular
to a proposal, registered as one `Workflow`.

Every action goes through `Workflow.act()`: load and lock the row, ask `states.proposal`
whether the actor may take it and where it leads, apply the effects here (votes, responses,
tasks), record the history event and the domain events, commit once.
"""
from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy import and_, bindparam, exists
from sqlalchemy.orm import aliased
from sqlmodel import select

from services.config.calendar import add_months
from services.config.reference_data import member_codes
from services.engine.errors import InvalidInput
from services.engine.events import DomainEvent, EventName
from services.engine.models import HistoryEvent, User
from services.engine.people import is_staff, normalise_email
from services.engine.schemas import CommentArgs, SubmitArgs
from services.engine.tasks import Task, TaskKind, TaskStatus, close_tasks, due_in, is_for, open_task
from services.engine.listing import Filter
from services.engine.workflow import Choice, ExtraJoin, Loaded, Step, Workflow, no_effect
from services.infra.db import json_rows, parse_moment
from services.infra.tables import Column
from services.infra.uow import UnitOfWork
from services.proposals.models import ConsultationResponse, Proposal, ReviewVote
from services.proposals.schemas import (
    Budget, EngagementType, GiveGuidanceArgs, OpenConsultationArgs, ProposalCreate, ProposalPublic, ProposalUpdate, ResponsePublic,
    ReplaceStakeholderArgs, ResubmitArgs, RespondArgs, ReviewArgs, ReviewPublic, Scope, ThematicArea, end_before_start,
)
from services.proposals.timers import TIMERS
from services.proposals.wording import WORDING
from states.common import SEAT_COUNTRIES, Role
from states.proposal import LIFECYCLE, ProposalAction, ProposalFacts, ProposalState

ITEM = "proposal"
PREFIX = "RSO-P"

ARGUMENTS = {
    ProposalAction.SUBMIT: SubmitArgs,
    ProposalAction.REVIEW: ReviewArgs,
    ProposalAction.OPEN_CONSULTATION: OpenConsultationArgs,
    ProposalAction.REFER_TO_CO_CHAIRS: CommentArgs,
    ProposalAction.RESPOND: RespondArgs,
    ProposalAction.CLOSE_CONSULTATION: CommentArgs,
    ProposalAction.REPLACE_STAKEHOLDER: ReplaceStakeholderArgs,
    ProposalAction.GIVE_GUIDANCE: GiveGuidanceArgs,
    ProposalAction.RESUBMIT: ResubmitArgs,
    ProposalAction.WITHDRAW: CommentArgs,
}
REQUIRED_TO_SUBMIT = ("summary", "engagement_type", "scope", "thematic_areas")


# --- what the engine needs to know of a proposal ---------------------------------------------

def _visible(user: User):
    if user.role == Role.MEMBER_STATE:
        return Proposal.member_state == user.member_state
    if user.role == Role.STAKEHOLDER:
        return exists().where(Task.item_kind == ITEM, Task.item_id == Proposal.id,
                              Task.kind == TaskKind.CONSULTATION, Task.assignee_id == user.id)
    # RSO staff see everything a member state has submitted; a draft stays with its author,
    # even one withdrawn before it was ever submitted.
    return Proposal.submitted_at.is_not(None)


# This round's votes of a proposal under review, or in the Co-Chairs' guidance (who cast them
# matters there: a reviewer does not also give the guidance).
VOTES = ExtraJoin(
    columns=(ReviewVote,),
    joins=((ReviewVote, and_(ReviewVote.proposal_id == Proposal.id, ReviewVote.round == Proposal.round,
                             Proposal.state.in_([ProposalState.CO_MANAGER_REVIEW.value,
                                                 ProposalState.CO_CHAIR_GUIDANCE.value]))),),
    collect=lambda found: sorted((v for (v,) in found), key=lambda v: v.id))


def _facts(loaded: Loaded) -> ProposalFacts:
    p = loaded.item
    return ProposalFacts(
        state=ProposalState(p.state), member_state=p.member_state,
        votes={v.country: v.recommendation for v in loaded.extra if v.round == p.round},
        voters={v.country: v.user_id for v in loaded.extra if v.round == p.round},
        pending_stakeholders=frozenset(t.assignee_id for t in loaded.tasks if t.kind == TaskKind.CONSULTATION),
    )


def _view(loaded: Loaded) -> dict:
    p = loaded.item
    budget = Budget(amount=p.budget_amount, currency=p.budget_currency) if p.budget_currency else None
    return dict(split=p.split, title=p.title, summary=p.summary, engagement_type=p.engagement_type, scope=p.scope,
                thematic_areas=p.thematic_areas, partner_member_states=p.partner_member_states, budget=budget,
                proposed_start=p.proposed_start, proposed_end=p.proposed_end, conditions=p.conditions)


def _staff_columns() -> tuple:
    """A proposal's reviews and consultation responses (every round), each reviewer's and
    stakeholder's name, as two columns of the item's own row (`json_rows`)."""
    v, r, reviewer, stakeholder = ReviewVote, ConsultationResponse, aliased(User), aliased(User)
    reviews = (select(json_rows(v.id, v.round, v.country, reviewer.name, v.recommendation, v.comment, v.created_at))
               .join(reviewer, reviewer.id == v.user_id).where(v.proposal_id == Proposal.id))
    responses = (select(json_rows(r.id, r.round, stakeholder.name, stakeholder.organisation, r.position, r.comment,
                                  r.created_at))
                 .join(stakeholder, stakeholder.id == r.stakeholder_id).where(r.proposal_id == Proposal.id))
    return (reviews.scalar_subquery().label("staff_reviews"), responses.scalar_subquery().label("staff_responses"))


@cache
def _staff_query():
    """`_staff_columns` of one proposal, by id (built once)."""
    return select(*_staff_columns()).select_from(Proposal).where(Proposal.id == bindparam("id"))


async def _staff_details(uow: UnitOfWork, view: ProposalPublic, found: dict | None) -> None:
    """RSO staff also see the co-managers' reviews and the stakeholders' responses: read with
    the item (`found`), or after an action, here (one query)."""
    if found is None:
        (found,) = (await uow.session.exec(_staff_query(), params={"id": view.id})).mappings().all()
    reviews = sorted(found["staff_reviews"] or [])
    responses = sorted(found["staff_responses"] or [])
    view.reviews = [ReviewPublic(round=n, country=country, reviewer=name, recommendation=choice, comment=comment,
                                 at=parse_moment(at)) for _, n, country, name, choice, comment, at in reviews]
    view.consultation_responses = [
        ResponsePublic(round=n, stakeholder=name, organisation=organisation, position=choice, comment=comment,
                       at=parse_moment(at)) for _, n, name, organisation, choice, comment, at in responses]


def _redact(e: HistoryEvent, user: User) -> dict:
    """RSO staff read every event whole. The co-managers' deliberations and the stakeholders'
    advice are internal: others see that the step happened, not what was said, except what is
    theirs to act on (the reasons for a revision request) or their own words. Nor are the
    invitees of a consultation named to anyone but the RSO: a stakeholder is not told who else
    was invited, or who answered."""
    if is_staff(user):
        return {}
    hidden: dict = {}
    own = e.actor_id == user.id
    told = e.action == ProposalAction.REVIEW and e.arguments.get("recommendation") == "revise" \
        and user.role == Role.MEMBER_STATE
    if e.action in (ProposalAction.REVIEW, ProposalAction.RESPOND) and not (own or told):
        hidden.update(comment=None, arguments={})
    if e.action == ProposalAction.RESPOND and not own:
        hidden["actor"] = "a stakeholder"
    if e.action == ProposalAction.REPLACE_STAKEHOLDER:
        hidden["arguments"] = {}  # who was invited is the RSO's to know
    if e.action == ProposalAction.OPEN_CONSULTATION:
        invited = e.arguments.get("stakeholders", [])
        hidden["arguments"] = {**{k: v for k, v in e.arguments.items() if k != "stakeholders"},
                               "stakeholders_invited": len(invited)}
    return hidden


async def _apply_fields(uow: UnitOfWork, p: Proposal, fields: ProposalUpdate, user: User, prefix: str) -> dict:
    """Copy the fields named in `fields` onto the row; return what changed, JSON-ready."""
    given, as_json = fields.model_dump(exclude_unset=True), fields.model_dump(mode="json", exclude_unset=True)
    changed = {}
    for name, value in given.items():
        if name == "budget":
            new = (value["amount"], value["currency"]) if value else (None, None)
            if (p.budget_amount, p.budget_currency) != new:
                p.budget_amount, p.budget_currency = new
                changed[name] = as_json[name]
        elif getattr(p, name) != value:
            setattr(p, name, value)
            changed[name] = as_json[name]
    if problems := end_before_start(p.proposed_start, p.proposed_end):
        raise InvalidInput([{"field": prefix + f, "message": m} for f, m in problems])
    return changed


# --- actions --------------------------------------------------------------------------------

def _require_complete(p: Proposal, prefix: str = "") -> None:
    missing = [f for f in REQUIRED_TO_SUBMIT if not getattr(p, f)]
    if missing:
        raise InvalidInput([{"field": prefix + f, "message": "required before the proposal can be submitted"}
                            for f in missing])


async def _submit(uow, loaded, user, args) -> dict:
    p = loaded.item
    _require_complete(p)
    p.submitted_at, p.submitted_by_id = uow.now, user.id
    uow.emit(DomainEvent(EventName.SUBMITTED, ITEM, p.id, p.reference, {"round": 1}))
    return {}


async def _review(uow, loaded, user, args: ReviewArgs) -> dict:
    p = loaded.item
    # The seat's vote (a delegate's in the seat of the one away), cast by the person acting.
    person = uow.acting_person or user
    vote = ReviewVote(proposal_id=p.id, round=p.round, country=user.country, user_id=person.id,
                      recommendation=args.recommendation.value, comment=args.comment, created_at=uow.now)
    uow.session.add(vote)
    loaded.extra.append(vote)
    close_tasks(uow, [t for t in loaded.tasks if t.kind == TaskKind.REVIEW and is_for(t, user)],
                TaskStatus.COMPLETED, user)
    return {"recommendation": args.recommendation.value, "country": user.country}


async def _open_consultation(uow, loaded, user, args: OpenConsultationArgs) -> dict:
    p, svc = loaded.item, uow.services
    given = [normalise_email(e, f"stakeholders.{i}") for i, e in enumerate(args.stakeholders)]
    emails = list(dict.fromkeys(given))
    found = {u.email: u for u in (await uow.session.exec(select(User).where(User.email.in_(emails)))).all()}
    errors = [{"field": f"stakeholders.{i}", "message": f"{e} is not a stakeholder user"}
              for i, e in enumerate(given)
              if e not in found or found[e].role != Role.STAKEHOLDER or not found[e].active]
    today = svc.calendar.today(uow.now)
    if args.due_date is not None and not today < args.due_date <= add_months(today, 12):
        errors.append({"field": "due_date", "message": f"must be after today ({today.isoformat()}) and within a year"})
    if errors:
        raise InvalidInput(errors)
    due_at = svc.calendar.end_of_day(args.due_date) if args.due_date else due_in(uow, TaskKind.CONSULTATION)
    for e in emails:
        loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                      kind=TaskKind.CONSULTATION, due_at=due_at, round=p.round, assignee=found[e]))
    return {"stakeholders": emails, "due_date": due_at.astimezone(svc.timezone).date().isoformat()}


async def _respond(uow, loaded, user, args: RespondArgs) -> dict:
    p = loaded.item
    uow.session.add(ConsultationResponse(proposal_id=p.id, round=p.round, stakeholder_id=user.id,
                                         position=args.position.value, comment=args.comment, created_at=uow.now))
    close_tasks(uow, [t for t in loaded.tasks if t.kind == TaskKind.CONSULTATION and t.assignee_id == user.id],
                TaskStatus.COMPLETED, user)
    return {"position": args.position.value}


async def _close_consultation(uow, loaded, user, args) -> dict:
    unanswered = [t for t in loaded.tasks if t.kind == TaskKind.CONSULTATION and t.status == TaskStatus.OPEN]
    close_tasks(uow, unanswered, TaskStatus.EXPIRED, None)
    return {"no_response": len(unanswered)}


async def _replace_stakeholder(uow, loaded, user, args: ReplaceStakeholderArgs) -> dict:
    """An invited stakeholder who cannot answer gives way to another: their task ends
    (cancelled), the other's opens with the same due date, and is emailed as an invitation."""
    p = loaded.item
    old_email = normalise_email(args.stakeholder, "stakeholder")
    new_email = normalise_email(args.replacement, "replacement")
    people = {u.email: u for u in (await uow.session.exec(
        select(User).where(User.email.in_([old_email, new_email])))).all()}
    open_ = {t.assignee_id: t for t in loaded.tasks if t.kind == TaskKind.CONSULTATION and t.status == TaskStatus.OPEN}
    old = people.get(old_email)
    errors = []
    if old is None or old.id not in open_:
        errors.append({"field": "stakeholder", "message": f"{old_email} is not an invitee still to answer"})
    new = people.get(new_email)
    if new is None or new.role != Role.STAKEHOLDER or not new.active:
        errors.append({"field": "replacement", "message": f"{new_email} is not an active stakeholder user"})
    elif (await uow.session.exec(select(Task.id).where(
            Task.item_kind == ITEM, Task.item_id == p.id, Task.kind == TaskKind.CONSULTATION, Task.round == p.round,
            Task.assignee_id == new.id))).first() is not None:
        errors.append({"field": "replacement", "message": f"{new_email} is already invited to this consultation"})
    if errors:
        raise InvalidInput(errors)
    task = open_[old.id]
    close_tasks(uow, [task], TaskStatus.CANCELLED, user)
    loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                  kind=TaskKind.CONSULTATION, due_at=task.due_at, round=p.round, assignee=new))
    return {"replaced": old_email, "by": new_email}


async def _give_guidance(uow, loaded, user, args: GiveGuidanceArgs) -> dict:
    close_tasks(uow, [t for t in loaded.tasks if t.kind == TaskKind.GUIDANCE], TaskStatus.COMPLETED, user)
    if args.conditions:
        loaded.item.conditions = args.conditions
    return {"decision": args.decision.value, **({"conditions": args.conditions} if args.conditions else {})}


async def _resubmit(uow, loaded, user, args: ResubmitArgs) -> dict:
    p = loaded.item
    changes = await _apply_fields(uow, p, args.changes, user, "changes.")
    _require_complete(p, "changes.")
    p.submitted_by_id = user.id
    uow.emit(DomainEvent(EventName.SUBMITTED, ITEM, p.id, p.reference, {"round": p.round + 1}))
    return {"changes": changes}


EFFECTS = {
    ProposalAction.SUBMIT: _submit,
    ProposalAction.REVIEW: _review,
    ProposalAction.OPEN_CONSULTATION: _open_consultation,
    ProposalAction.REFER_TO_CO_CHAIRS: no_effect,
    ProposalAction.RESPOND: _respond,
    ProposalAction.CLOSE_CONSULTATION: _close_consultation,
    ProposalAction.REPLACE_STAKEHOLDER: _replace_stakeholder,
    ProposalAction.GIVE_GUIDANCE: _give_guidance,
    ProposalAction.RESUBMIT: _resubmit,
    ProposalAction.WITHDRAW: no_effect,
}


def _enter(uow: UnitOfWork, loaded: Loaded, step: Step) -> None:
    """Open the tasks of the state the proposal enters, and tell people of decisions."""
    p, state = loaded.item, step.outcome.to_state
    if state is ProposalState.CO_MANAGER_REVIEW:
        p.round += 1
        p.split = False
        due = due_in(uow, TaskKind.REVIEW)
        for country in SEAT_COUNTRIES:
            loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                          kind=TaskKind.REVIEW, due_at=due, round=p.round,
                                          role=Role.CO_MANAGER, country=country))
    elif state is ProposalState.CO_CHAIR_GUIDANCE:
        if step.action is ProposalAction.REVIEW:
            p.split = True  # one endorsed, one declined: the co-chairs arbitrate
        loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                      kind=TaskKind.GUIDANCE, due_at=due_in(uow, TaskKind.GUIDANCE), round=p.round,
                                      role=Role.CO_CHAIR))
    if state in (ProposalState.REVISION_REQUESTED, ProposalState.APPROVED, ProposalState.DECLINED):
        # The words behind a decision: this round's reasons for revise/decline, or the co-chair's.
        if step.action is ProposalAction.REVIEW:
            reasons = [v.comment for v in loaded.extra if v.round == p.round and v.comment
                       and v.recommendation != "endorse"]
        else:
            reasons = [c for c in [getattr(step.args, "comment", None)] if c]
        outcome = "approved_with_conditions" if state is ProposalState.APPROVED and p.conditions else state.value
        uow.emit(DomainEvent(EventName.DECISION, ITEM, p.id, p.reference,
                             {"outcome": outcome, "reasons": reasons, "conditions": p.conditions}))
    elif state is ProposalState.WITHDRAWN:
        uow.emit(DomainEvent(EventName.MILESTONE, ITEM, p.id, p.reference,
                             {"milestone": "withdrawn", "comment": getattr(step.args, "comment", None)}))


async def _choices(uow: UnitOfWork, loaded: Loaded, user: User, action: str) -> dict[str, list[Choice]]:
    """The stakeholders a co-manager may invite to a consultation: the active stakeholder users;
    to replace one: the invitees still to answer, and the others."""
    if action not in (ProposalAction.OPEN_CONSULTATION, ProposalAction.REPLACE_STAKEHOLDER):
        return {}
    found = (await uow.session.exec(select(User).where(User.role == Role.STAKEHOLDER.value, User.active.is_(True))
                                    .order_by(User.name, User.id))).all()
    named = [(u.email, f"{u.name} ({u.organisation})" if u.organisation else u.name) for u in found]
    if action == ProposalAction.OPEN_CONSULTATION:
        return {"stakeholders": named}
    pending = {t.assignee_id for t in loaded.tasks if t.kind == TaskKind.CONSULTATION and t.status == TaskStatus.OPEN}
    p = loaded.item
    invited = set((await uow.session.exec(select(Task.assignee_id).where(
        Task.item_kind == ITEM, Task.item_id == p.id, Task.kind == TaskKind.CONSULTATION, Task.round == p.round))).all())
    ids = {u.email: u.id for u in found}
    return {"stakeholder": [c for c in named if ids[c[0]] in pending],
            "replacement": [c for c in named if ids[c[0]] not in invited]}


# --- lists ----------------------------------------------------------------------------------

def _has_area(m, value):
    # The areas are a JSON list of fixed words; each, quoted, is found in the list's text on
    # both databases alike (no word of the list is a part of another).
    return sa.cast(m.thematic_areas, sa.Text).like(sa.literal('%"') + value + sa.literal('"%'))


LIST_FILTERS = (
    Filter("thematic_area", tuple(a.value for a in ThematicArea), _has_area,
           "proposals with this thematic area among theirs"),
    Filter("engagement_type", tuple(e.value for e in EngagementType), lambda m, v: m.engagement_type == v,
           "proposals of this type of engagement"),
    Filter("scope", tuple(s.value for s in Scope), lambda m, v: m.scope == v, "proposals of this scope"),
)

EXPORT_COLUMNS = (
    Column("reference", "Reference"), Column("title", "Title", wide=True), Column("member_state", "Member state"),
    Column("state", "State"), Column("engagement_type", "Engagement type"),
    Column("scope", "Scope"), Column("thematic_areas", "Thematic areas"),
    Column("partner_member_states", "Partner member states"), Column("budget_amount", "Budget"),
    Column("budget_currency", "Currency"), Column("proposed_start", "Proposed start", "date"),
    Column("proposed_end", "Proposed end", "date"),
    Column("submitted_at", "Submitted", "moment"), Column("updated_at", "Last change", "moment"),
    Column("closed_at", "Closed", "moment"),
)


PROPOSALS = Workflow(
    kind=ITEM, path="proposals", prefix=PREFIX, model=Proposal, lifecycle=LIFECYCLE,
    task_actions={TaskKind.REVIEW: ProposalAction.REVIEW, TaskKind.CONSULTATION: ProposalAction.RESPOND,
                  TaskKind.GUIDANCE: ProposalAction.GIVE_GUIDANCE},
    create_schema=ProposalCreate, update_schema=ProposalUpdate, public_schema=ProposalPublic, arguments=ARGUMENTS,
    effects=EFFECTS, facts=_facts, view=_view, apply_fields=_apply_fields, enter=_enter, title=lambda p: p.title,
    wording=WORDING, timers=TIMERS, extra=VOTES, visible=_visible, redact=_redact,
    staff_details=_staff_details, staff_columns=_staff_columns, choices=_choices,
    list_filters=LIST_FILTERS, member_codes=member_codes, export_columns=EXPORT_COLUMNS,
)
