"""The proposal lifecycle as application services: one function per use, one transaction each.

Every action goes through `act()`: load and lock the row, ask `states.proposal` whether the
actor may take it and where it leads, apply the effects (votes, responses, tasks), record the
history event and the domain events, commit once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists
from sqlmodel import select, tuple_

from services import items
from services.errors import InvalidInput
from services.events import DomainEvent
from services.items import TaskStatus, assigned_to
from services.models import ConsultationResponse, HistoryEvent, Proposal, ReviewVote, Task, User
from services.proposal_schemas import (
    Budget, CommentArgs, GiveGuidanceArgs, OpenConsultationArgs, ProposalCreate, ProposalPublic, ProposalUpdate,
    ResponsePublic, ResubmitArgs, RespondArgs, ReviewArgs, ReviewPublic, SubmitArgs,
)
from services.uow import Services, UnitOfWork
from services.users import normalise_email
from services.workflow import STAFF, Loaded, Step, Workflow, register
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
                              Task.kind == "consultation", Task.assignee_id == user.id)
    # RSO staff see everything a member state has submitted; a draft stays with its author,
    # even one withdrawn before it was ever submitted.
    return Proposal.submitted_at.is_not(None)


async def _votes(uow: UnitOfWork, proposals: list[Proposal]) -> dict[int, list[ReviewVote]]:
    """This round's votes of the proposals under review."""
    in_review = [(p.id, p.round) for p in proposals if p.state == ProposalState.CO_MANAGER_REVIEW]
    out: dict[int, list[ReviewVote]] = {p.id: [] for p in proposals}
    if in_review:
        for v in (await uow.session.exec(
                select(ReviewVote).where(tuple_(ReviewVote.proposal_id, ReviewVote.round).in_(in_review)))).all():
            out[v.proposal_id].append(v)
    return out


def _facts(loaded: Loaded) -> ProposalFacts:
    p = loaded.item
    return ProposalFacts(
        state=ProposalState(p.state), member_state=p.member_state,
        votes={v.country: v.recommendation for v in loaded.extra if v.round == p.round},
        pending_stakeholders=frozenset(t.assignee_id for t in loaded.tasks if t.kind == "consultation"),
    )


def _view(svc: Services, loaded: Loaded, user: User, names: dict[int, str], now: datetime) -> ProposalPublic:
    p = loaded.item
    budget = Budget(amount=p.budget_amount, currency=p.budget_currency) if p.budget_currency else None
    return ProposalPublic(
        id=p.id, reference=p.reference, member_state=p.member_state, state=p.state, round=p.round,
        version=p.version, split=p.split, title=p.title, summary=p.summary,
        engagement_type=p.engagement_type, scope=p.scope, thematic_areas=p.thematic_areas,
        partner_member_states=p.partner_member_states, budget=budget, proposed_start=p.proposed_start,
        proposed_end=p.proposed_end, conditions=p.conditions, created_at=p.created_at,
        updated_at=p.updated_at, submitted_at=p.submitted_at, closed_at=p.closed_at,
        available_actions=PROPOSALS.available(loaded, user),
        tasks=PROPOSALS.task_views(svc, loaded, names, now),
    )


async def _staff_details(uow: UnitOfWork, view: ProposalPublic) -> None:
    """RSO staff also see the co-managers' reviews and the stakeholders' responses."""
    votes = (await uow.session.exec(select(ReviewVote, User.name).join(User, User.id == ReviewVote.user_id)
                                    .where(ReviewVote.proposal_id == view.id).order_by(ReviewVote.id))).all()
    view.reviews = [ReviewPublic(round=v.round, country=v.country, reviewer=name, recommendation=v.recommendation,
                                 comment=v.comment, at=v.created_at) for v, name in votes]
    responses = (await uow.session.exec(
        select(ConsultationResponse, User.name, User.organisation)
        .join(User, User.id == ConsultationResponse.stakeholder_id)
        .where(ConsultationResponse.proposal_id == view.id).order_by(ConsultationResponse.id))).all()
    view.consultation_responses = [
        ResponsePublic(round=r.round, stakeholder=name, organisation=org, position=r.position,
                       comment=r.comment, at=r.created_at) for r, name, org in responses]


def _redact(e: HistoryEvent, user: User) -> tuple[str | None, dict]:
    """RSO staff read every event whole. The co-managers' deliberations and the stakeholders'
    advice are internal: others see that the step happened, not what was said, except
    what is theirs to act on (the reasons for a revision request) or their own words."""
    comment, arguments = e.comment, e.arguments
    if user.role not in STAFF:
        own = e.actor_id == user.id
        told = e.action == ProposalAction.REVIEW and arguments.get("recommendation") == "revise" \
            and user.role == Role.MEMBER_STATE
        if e.action in (ProposalAction.REVIEW, ProposalAction.RESPOND) and not (own or told):
            comment, arguments = None, {}
    return comment, arguments


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
    if p.proposed_start and p.proposed_end and p.proposed_end < p.proposed_start:
        raise InvalidInput.one(prefix + "proposed_end", "must not be before proposed_start")
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
    uow.emit(DomainEvent("submitted", ITEM, p.id, p.reference, {"round": 1}))
    return {}


async def _review(uow, loaded, user, args: ReviewArgs) -> dict:
    p = loaded.item
    vote = ReviewVote(proposal_id=p.id, round=p.round, country=user.country, user_id=user.id,
                      recommendation=args.recommendation.value, comment=args.comment, created_at=uow.now)
    uow.session.add(vote)
    loaded.extra.append(vote)
    items.close_tasks(uow, [t for t in loaded.tasks if t.kind == "review" and assigned_to(t, user)],
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
    today = uow.now.astimezone(svc.timezone).date()
    if args.due_date is not None and not today < args.due_date <= today.replace(year=today.year + 1):
        errors.append({"field": "due_date", "message": f"must be after today ({today.isoformat()}) and within a year"})
    if errors:
        raise InvalidInput(errors)
    due_at = svc.calendar.end_of_day(args.due_date) if args.due_date else \
        svc.calendar.due_in(uow.now, svc.policy.task("consultation").due_business_days)
    for e in emails:
        loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                            kind="consultation", due_at=due_at, round=p.round, assignee=found[e]))
    return {"stakeholders": emails, "due_date": due_at.astimezone(svc.timezone).date().isoformat()}


async def _respond(uow, loaded, user, args: RespondArgs) -> dict:
    p = loaded.item
    uow.session.add(ConsultationResponse(proposal_id=p.id, round=p.round, stakeholder_id=user.id,
                                         position=args.position.value, comment=args.comment, created_at=uow.now))
    items.close_tasks(uow, [t for t in loaded.tasks if t.kind == "consultation" and t.assignee_id == user.id],
                      TaskStatus.COMPLETED, user)
    return {"position": args.position.value}


async def _close_consultation(uow, loaded, user, args) -> dict:
    unanswered = [t for t in loaded.tasks if t.kind == "consultation" and t.status == TaskStatus.OPEN]
    items.close_tasks(uow, unanswered, TaskStatus.EXPIRED, None)
    return {"no_response": len(unanswered)}


async def _give_guidance(uow, loaded, user, args: GiveGuidanceArgs) -> dict:
    items.close_tasks(uow, [t for t in loaded.tasks if t.kind == "guidance"], TaskStatus.COMPLETED, user)
    if args.conditions:
        loaded.item.conditions = args.conditions
    return {"decision": args.decision.value, **({"conditions": args.conditions} if args.conditions else {})}


async def _resubmit(uow, loaded, user, args: ResubmitArgs) -> dict:
    p = loaded.item
    changes = await _apply_fields(uow, p, args.changes, user, "changes.")
    _require_complete(p, "changes.")
    p.submitted_by_id = user.id
    uow.emit(DomainEvent("submitted", ITEM, p.id, p.reference, {"round": p.round + 1}))
    return {"changes": changes}


async def _nothing(uow, loaded, user, args) -> dict:
    return {}


EFFECTS = {
    ProposalAction.SUBMIT: _submit,
    ProposalAction.REVIEW: _review,
    ProposalAction.OPEN_CONSULTATION: _open_consultation,
    ProposalAction.REFER_TO_CO_CHAIRS: _nothing,
    ProposalAction.RESPOND: _respond,
    ProposalAction.CLOSE_CONSULTATION: _close_consultation,
    ProposalAction.GIVE_GUIDANCE: _give_guidance,
    ProposalAction.RESUBMIT: _resubmit,
    ProposalAction.WITHDRAW: _nothing,
}


def _enter(uow: UnitOfWork, loaded: Loaded, step: Step) -> None:
    """Open the tasks of the state the proposal enters, and tell the submitter of decisions."""
    p, svc, state = loaded.item, uow.services, step.outcome.to_state
    if state is ProposalState.CO_MANAGER_REVIEW:
        p.round += 1
        p.split = False
        due = svc.calendar.due_in(uow.now, svc.policy.task("review").due_business_days)
        for country in SEAT_COUNTRIES:
            loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                                kind="review", due_at=due, round=p.round,
                                                role=Role.CO_MANAGER, country=country))
    elif state is ProposalState.CO_CHAIR_GUIDANCE:
        if step.action is ProposalAction.REVIEW:
            p.split = True  # one endorsed, one declined: the co-chairs arbitrate
        due = svc.calendar.due_in(uow.now, svc.policy.task("guidance").due_business_days)
        loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                            kind="guidance", due_at=due, round=p.round, role=Role.CO_CHAIR))
    if state in (ProposalState.REVISION_REQUESTED, ProposalState.APPROVED, ProposalState.DECLINED):
        # The words behind a decision: this round's reasons for revise/decline, or the co-chair's.
        if step.action is ProposalAction.REVIEW:
            reasons = [v.comment for v in loaded.extra if v.round == p.round and v.comment
                       and v.recommendation != "endorse"]
        else:
            reasons = [c for c in [getattr(step.args, "comment", None)] if c]
        uow.emit(DomainEvent("decision", ITEM, p.id, p.reference, {"outcome": state.value, "reasons": reasons}))
    elif state is ProposalState.WITHDRAWN:
        uow.emit(DomainEvent("withdrawn", ITEM, p.id, p.reference, {}))



PROPOSALS = register(Workflow(
    kind=ITEM, path="proposals", prefix=PREFIX, model=Proposal, lifecycle=LIFECYCLE,
    create_schema=ProposalCreate, update_schema=ProposalUpdate, arguments=ARGUMENTS, effects=EFFECTS,
    facts=_facts, view=_view, apply_fields=_apply_fields, enter=_enter, title=lambda p: p.title,
    load_extra=_votes, visible=_visible, redact=_redact, staff_details=_staff_details,
))


# The names the demo and the benchmarks call.
create_proposal = PROPOSALS.create
act = PROPOSALS.act
