"""The proposal lifecycle as application services: one function per use, one transaction each.

Every action goes through `act()`: load and lock the row, ask `states.proposal` whether the
actor may take it and where it leads, apply the effects (votes, responses, tasks), record the
history event and the domain events, commit once.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import exists, false
from sqlalchemy.exc import IntegrityError
from sqlmodel import and_, select, tuple_

from services import items
from services.calendar import due_in_business_days, end_of_day
from services.errors import Forbidden, InvalidInput, NotFound
from services.events import DomainEvent
from services.items import TaskStatus, assigned_to, check_version, parse, record
from services.models import ConsultationResponse, Proposal, ReviewVote, Task, User
from services.proposal_schemas import (
    Budget, CommentArgs, GiveGuidanceArgs, HistoryPublic, OpenConsultationArgs, ProposalCreate,
    ProposalPublic, ProposalUpdate, ResponsePublic, ResubmitArgs, RespondArgs, ReviewArgs, ReviewPublic,
    SubmitArgs, TaskPublic,
)
from services.uow import Services, UnitOfWork
from services.users import actor_of, normalise_email
from states.common import SEAT_COUNTRIES, ActionNotAvailable, Role
from states.proposal import (
    FINAL_STATES, ROUTING_ARGUMENTS, ProposalAction, ProposalFacts, ProposalState, available_actions, check, decide,
    diagram as _diagram,
)

ITEM = "proposal"
PREFIX = "RSO-P"
STAFF = {Role.CO_MANAGER.value, Role.CO_CHAIR.value, Role.ADMIN.value}

# Business days allowed for each task kind (the deadlines issue moves this to a policy file).
DUE_DAYS = {"review": 10, "consultation": 15, "guidance": 15}

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


# --- reading -------------------------------------------------------------------------------

REFERENCE = re.compile(r"RSO-P-\d{4}-\d{4,8}")
MAX_ID = 2**31 - 1


def _by_id_or_reference(id_or_ref: str | int):
    text = str(id_or_ref).strip().upper()
    if text.isascii() and text.isdigit():
        return Proposal.id == int(text) if len(text) < 11 and int(text) <= MAX_ID else false()
    if REFERENCE.fullmatch(text):
        return Proposal.reference == text
    return false()  # not an id nor a reference: nothing to find


def _visible_clause(user: User):
    if user.role == Role.MEMBER_STATE:
        return Proposal.member_state == user.member_state
    if user.role == Role.STAKEHOLDER:
        invited = exists().where(Task.item_kind == ITEM, Task.item_id == Proposal.id,
                                 Task.kind == "consultation", Task.assignee_id == user.id)
        return invited
    # RSO staff see everything a member state has submitted; a draft stays with its author,
    # even one withdrawn before it was ever submitted.
    return Proposal.submitted_at.is_not(None)


async def _load(uow: UnitOfWork, user: User, id_or_ref: str | int, *, lock: bool = False) -> Proposal:
    q = select(Proposal).where(_by_id_or_reference(id_or_ref), _visible_clause(user))
    if lock:
        q = q.with_for_update(of=Proposal)
    proposal = (await uow.session.exec(q)).first()
    if proposal is None:
        raise NotFound(f"proposal '{id_or_ref}'")
    if lock:
        # Events are stamped once the row is ours: their times follow the order they commit in.
        uow.now = uow.services.clock()
    return proposal


class _Loaded:
    """A proposal with what its lifecycle decisions need: this round's votes and open tasks."""

    def __init__(self, proposal: Proposal, votes: list[ReviewVote], tasks: list[Task]):
        self.proposal, self.votes, self.tasks = proposal, votes, tasks

    def facts(self) -> ProposalFacts:
        p = self.proposal
        return ProposalFacts(
            state=ProposalState(p.state), member_state=p.member_state,
            votes={v.country: v.recommendation for v in self.votes if v.round == p.round},
            pending_stakeholders=frozenset(t.assignee_id for t in self.tasks if t.kind == "consultation"),
        )


async def _load_many(uow: UnitOfWork, proposals: list[Proposal]) -> list[_Loaded]:
    in_review = [(p.id, p.round) for p in proposals if p.state == ProposalState.CO_MANAGER_REVIEW]
    votes: list[ReviewVote] = []
    if in_review:
        votes = list((await uow.session.exec(
            select(ReviewVote).where(tuple_(ReviewVote.proposal_id, ReviewVote.round).in_(in_review)))).all())
    tasks = await items.open_tasks_of(uow, ITEM, [p.id for p in proposals if p.state not in FINAL_STATES])
    return [_Loaded(p, [v for v in votes if v.proposal_id == p.id], [t for t in tasks if t.item_id == p.id])
            for p in proposals]


async def _assignee_names(uow: UnitOfWork, tasks: list[Task]) -> dict[int, str]:
    ids = {t.assignee_id for t in tasks if t.assignee_id is not None}
    if not ids:
        return {}
    rows = await uow.session.exec(select(User.id, User.name, User.organisation).where(User.id.in_(ids)))
    return {i: f"{n} ({o})" if o else n for i, n, o in rows}


def assignee_label(task: Task, names: dict[int, str]) -> str:
    if task.assignee_id is not None:
        return names.get(task.assignee_id, f"user {task.assignee_id}")
    role = task.assignee_role.replace("_", "-")
    if task.assignee_country:
        return f"{role} ({task.assignee_country})"
    if task.assignee_member_state:
        return f"{role} ({task.assignee_member_state})"
    return f"both {role}s"


def task_view(svc: Services, task: Task, *, reference: str, title: str, names: dict[int, str],
              now: datetime) -> TaskPublic:
    return TaskPublic(id=task.id, kind=task.kind, status=task.status, item_kind=task.item_kind,
                      item_id=task.item_id, reference=reference, title=title,
                      assignee=assignee_label(task, names), assignee_id=task.assignee_id,
                      due_at=task.due_at, due_date=task.due_at.astimezone(svc.timezone).date(),
                      overdue=task.status == TaskStatus.OPEN and now > task.due_at)


def _view(svc: Services, loaded: _Loaded, user: User, names: dict[int, str], now: datetime) -> ProposalPublic:
    p = loaded.proposal
    budget = Budget(amount=p.budget_amount, currency=p.budget_currency) if p.budget_currency else None
    return ProposalPublic(
        id=p.id, reference=p.reference, member_state=p.member_state, state=p.state, round=p.round,
        version=p.version, split=p.split, title=p.title, summary=p.summary,
        engagement_type=p.engagement_type, scope=p.scope, thematic_areas=p.thematic_areas,
        partner_member_states=p.partner_member_states, budget=budget, proposed_start=p.proposed_start,
        proposed_end=p.proposed_end, conditions=p.conditions, created_at=p.created_at,
        updated_at=p.updated_at, submitted_at=p.submitted_at, closed_at=p.closed_at,
        available_actions=available_actions(loaded.facts(), actor_of(user)),
        tasks=[task_view(svc, t, reference=p.reference, title=p.title, names=names, now=now)
               for t in loaded.tasks if t.status == TaskStatus.OPEN],
    )


async def _staff_details(uow: UnitOfWork, view: ProposalPublic) -> None:
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


async def get_proposal(svc: Services, *, user: User, id_or_ref: str | int) -> ProposalPublic:
    """One proposal the caller may see, with their available actions and its open tasks.
    RSO staff also see the co-managers' reviews and the stakeholders' responses."""
    async with svc.uow(write=False) as uow:
        (loaded,) = await _load_many(uow, [await _load(uow, user, id_or_ref)])
        view = _view(svc, loaded, user, await _assignee_names(uow, loaded.tasks), uow.now)
        if user.role in STAFF:
            await _staff_details(uow, view)
    return view


async def list_proposals(svc: Services, *, user: User, state: str | None = None, limit: int = 50,
                         offset: int = 0) -> list[ProposalPublic]:
    """The proposals the caller may see, newest first: a member state its own, a stakeholder
    those it was consulted on, RSO staff everything submitted."""
    q = select(Proposal).where(_visible_clause(user))
    if state is not None:
        try:
            q = q.where(Proposal.state == ProposalState(state).value)
        except ValueError:
            raise InvalidInput.one("state", f"must be one of {', '.join(s.value for s in ProposalState)}") from None
    q = q.order_by(Proposal.id.desc()).limit(limit).offset(offset)
    async with svc.uow(write=False) as uow:
        loaded = await _load_many(uow, list((await uow.session.exec(q)).all()))
        names = await _assignee_names(uow, [t for x in loaded for t in x.tasks])
        return [_view(svc, x, user, names, uow.now) for x in loaded]


async def get_history(svc: Services, *, user: User, id_or_ref: str | int) -> list[HistoryPublic]:
    """Every event of a proposal the caller may see, oldest first."""
    async with svc.uow(write=False) as uow:
        p = await _load(uow, user, id_or_ref)
        events = await items.history(uow, ITEM, p.id)
    return [_history_view(e, user) for e in events]


def _history_view(e, user: User) -> HistoryPublic:
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
    return HistoryPublic(id=e.id, at=e.at, actor=e.actor_name, actor_role=e.actor_role, action=e.action,
                         from_state=e.from_state, to_state=e.to_state, comment=comment, arguments=arguments)


async def get_diagram(svc: Services, *, user: User, id_or_ref: str | int) -> str:
    """The lifecycle as Mermaid text with the proposal's current state marked."""
    async with svc.uow(write=False) as uow:
        p = await _load(uow, user, id_or_ref)
    return _diagram(p.state)


# --- creating and editing --------------------------------------------------------------------

def _apply_fields(p: Proposal, fields: ProposalUpdate) -> dict:
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
        raise InvalidInput.one("proposed_end", "must not be before proposed_start")
    return changed


def _require_member_state(user: User) -> None:
    if user.role != Role.MEMBER_STATE:
        raise Forbidden("only a member state official may create or edit proposals")


async def create_proposal(svc: Services, *, user: User, data: dict,
                          idempotency_key: str | None = None) -> tuple[ProposalPublic, bool]:
    """A member state official drafts a proposal for their member state.

    Returns (proposal, created). With an Idempotency-Key already used by this user for the
    same request, returns the proposal that request created, and created=False."""
    _require_member_state(user)
    fields = parse(ProposalCreate, data)
    key = items.check_idempotency_key(idempotency_key)
    digest = items.request_hash(data)
    for attempt in (1, 2):
        try:
            async with svc.uow() as uow:
                if key and (existing := await items.replayed_item_id(uow, user=user, item_kind=ITEM, key=key,
                                                                     digest=digest)) is not None:
                    break
                reference = await items.next_reference(uow, PREFIX, uow.now.astimezone(svc.timezone).year)
                p = Proposal(reference=reference, member_state=user.member_state, created_by_id=user.id,
                             state=ProposalState.DRAFT.value, title=fields.title, created_at=uow.now,
                             updated_at=uow.now)
                changes = _apply_fields(p, fields)
                uow.session.add(p)
                await uow.session.flush()
                record(uow, item_kind=ITEM, item_id=p.id, actor=user, action="create", from_state=None,
                       to_state=p.state, arguments=changes)
                if key:
                    items.remember_key(uow, user=user, item_kind=ITEM, key=key, digest=digest, item_id=p.id)
                await uow.commit()
            return await get_proposal(svc, user=user, id_or_ref=p.id), True
        except IntegrityError:
            # The same key committed by a concurrent request: answer with its proposal.
            if not key or attempt == 2:
                raise
    return await get_proposal(svc, user=user, id_or_ref=existing), False


async def update_proposal(svc: Services, *, user: User, id_or_ref: str | int, data: dict,
                          if_match: str | None = None) -> ProposalPublic:
    """The owning member state edits its draft. Records an `edit` event with the changes."""
    _require_member_state(user)
    fields = parse(ProposalUpdate, data)
    async with svc.uow() as uow:
        p = await _load(uow, user, id_or_ref, lock=True)
        check_version(if_match, p.version)
        if p.state != ProposalState.DRAFT:
            (loaded,) = await _load_many(uow, [p])
            raise ActionNotAvailable("edit", p.state, available_actions(loaded.facts(), actor_of(user)),
                                     "only a draft can be edited; after a revision request, use 'resubmit'")
        changes = _apply_fields(p, fields)
        if changes:
            p.updated_at = uow.now
            record(uow, item_kind=ITEM, item_id=p.id, actor=user, action="edit", from_state=p.state,
                   to_state=p.state, arguments=changes)
        await uow.commit()
    return await get_proposal(svc, user=user, id_or_ref=p.id)


# --- actions --------------------------------------------------------------------------------

Effect = Callable[[UnitOfWork, _Loaded, User, object], Awaitable[dict]]


def _require_complete(p: Proposal, prefix: str = "") -> None:
    missing = [f for f in REQUIRED_TO_SUBMIT if not getattr(p, f)]
    if missing:
        raise InvalidInput([{"field": prefix + f, "message": "required before the proposal can be submitted"}
                            for f in missing])


async def _submit(uow, loaded, user, args) -> dict:
    p = loaded.proposal
    _require_complete(p)
    p.submitted_at, p.submitted_by_id = uow.now, user.id
    uow.emit(DomainEvent("submitted", ITEM, p.id, p.reference, {"round": 1}))
    return {}


async def _review(uow, loaded, user, args: ReviewArgs) -> dict:
    p = loaded.proposal
    vote = ReviewVote(proposal_id=p.id, round=p.round, country=user.country, user_id=user.id,
                      recommendation=args.recommendation.value, comment=args.comment, created_at=uow.now)
    uow.session.add(vote)
    loaded.votes.append(vote)
    items.close_tasks(uow, [t for t in loaded.tasks if t.kind == "review" and assigned_to(t, user)],
                      TaskStatus.COMPLETED, user)
    return {"recommendation": args.recommendation.value, "country": user.country}


async def _open_consultation(uow, loaded, user, args: OpenConsultationArgs) -> dict:
    p, svc = loaded.proposal, uow.services
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
    due_at = end_of_day(args.due_date, svc.timezone) if args.due_date else \
        due_in_business_days(uow.now, DUE_DAYS["consultation"], svc.timezone)
    for e in emails:
        loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                            kind="consultation", due_at=due_at, round=p.round, assignee=found[e]))
    return {"stakeholders": emails, "due_date": due_at.astimezone(svc.timezone).date().isoformat()}


async def _respond(uow, loaded, user, args: RespondArgs) -> dict:
    p = loaded.proposal
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
        loaded.proposal.conditions = args.conditions
    return {"decision": args.decision.value, **({"conditions": args.conditions} if args.conditions else {})}


async def _resubmit(uow, loaded, user, args: ResubmitArgs) -> dict:
    changes = _apply_fields(loaded.proposal, args.changes)
    _require_complete(loaded.proposal, "changes.")
    loaded.proposal.submitted_by_id = user.id
    return {"changes": changes}


async def _nothing(uow, loaded, user, args) -> dict:
    return {}


EFFECTS: dict[ProposalAction, Effect] = {
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


def _enter(uow: UnitOfWork, loaded: _Loaded, state: ProposalState, reasons: list[str]) -> None:
    """Open the tasks of the state the proposal enters, and tell the submitter of decisions."""
    p, svc = loaded.proposal, uow.services
    if state is ProposalState.CO_MANAGER_REVIEW:
        p.round += 1
        p.split = False
        due = due_in_business_days(uow.now, DUE_DAYS["review"], svc.timezone)
        for country in SEAT_COUNTRIES:
            loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                                kind="review", due_at=due, round=p.round,
                                                role=Role.CO_MANAGER, country=country))
    elif state is ProposalState.CO_CHAIR_GUIDANCE:
        due = due_in_business_days(uow.now, DUE_DAYS["guidance"], svc.timezone)
        loaded.tasks.append(items.open_task(uow, item_kind=ITEM, item_id=p.id, reference=p.reference,
                                            kind="guidance", due_at=due, round=p.round, role=Role.CO_CHAIR))
    if state in FINAL_STATES:
        p.closed_at = uow.now
    if state in (ProposalState.REVISION_REQUESTED, ProposalState.APPROVED, ProposalState.DECLINED):
        uow.emit(DomainEvent("decision", ITEM, p.id, p.reference, {"outcome": state.value, "reasons": reasons}))
    elif state is ProposalState.WITHDRAWN:
        uow.emit(DomainEvent("withdrawn", ITEM, p.id, p.reference, {}))


async def act(svc: Services, *, user: User, id_or_ref: str | int, action: str, arguments: dict | None = None,
              if_match: str | None = None) -> ProposalPublic:
    """Take one lifecycle action on a proposal the caller may see.

    Refusals, in this order: NotFound (not visible), UnknownAction, NotPermitted (never for
    this role), VersionConflict (If-Match is not the current version), ActionNotAvailable
    (not now; lists what is), InvalidInput (the arguments). Otherwise, in one transaction:
    the effects, tasks closed and opened, one history event, the domain events."""
    async with svc.uow() as uow:
        p = await _load(uow, user, id_or_ref, lock=True)
        (loaded,) = await _load_many(uow, [p])
        facts, actor = loaded.facts(), actor_of(user)
        act_ = check(facts, actor, action)
        check_version(if_match, p.version)
        args = parse(ARGUMENTS[act_], arguments)
        routing = {}
        if act_ in ROUTING_ARGUMENTS:
            name = ROUTING_ARGUMENTS[act_][0]
            routing[name] = getattr(args, name).value
        outcome = decide(facts, actor, act_, **routing)
        before = list(loaded.tasks)
        details = await EFFECTS[act_](uow, loaded, user, args)
        if outcome.action is ProposalAction.REVIEW and outcome.to_state is ProposalState.CO_CHAIR_GUIDANCE:
            p.split = True
        if outcome.changed:
            # Leaving a state ends what was still open in it (not what the action just opened).
            items.close_tasks(uow, before, TaskStatus.CANCELLED)
            loaded.tasks = [t for t in loaded.tasks if t not in before]
            p.state = outcome.to_state.value
            # The words behind a decision: this round's reasons for revise/decline, or the co-chair's.
            reasons = [v.comment for v in loaded.votes if v.round == p.round and v.comment
                       and v.recommendation != "endorse"] if act_ is ProposalAction.REVIEW else \
                [c for c in [getattr(args, "comment", None)] if c]
            _enter(uow, loaded, outcome.to_state, reasons)
        p.updated_at = uow.now  # every action moves the version on
        record(uow, item_kind=ITEM, item_id=p.id, actor=user, action=act_.value,
               from_state=outcome.from_state.value, to_state=outcome.to_state.value,
               comment=getattr(args, "comment", None), arguments=details)
        if act_ is ProposalAction.RESUBMIT:
            uow.emit(DomainEvent("submitted", ITEM, p.id, p.reference, {"round": p.round}))
        loaded.tasks = [t for t in loaded.tasks if t.status == TaskStatus.OPEN]
        names = await _assignee_names(uow, loaded.tasks)
        await uow.commit()
    return _view(svc, loaded, user, names, uow.now)


# --- the inbox -------------------------------------------------------------------------------

async def inbox(svc: Services, *, user: User, limit: int = 200) -> list[TaskPublic]:
    """The caller's open tasks, soonest due first, each with `overdue`."""
    q = (select(Task, Proposal.reference, Proposal.title)
         .join(Proposal, and_(Task.item_kind == ITEM, Proposal.id == Task.item_id))
         .where(Task.status == TaskStatus.OPEN, items.tasks_of_user_clause(user))
         .order_by(Task.due_at, Task.id).limit(limit))
    async with svc.uow(write=False) as uow:
        rows = (await uow.session.exec(q)).all()
        names = await _assignee_names(uow, [t for t, _, _ in rows])
        return [task_view(svc, t, reference=ref, title=title, names=names, now=uow.now) for t, ref, title in rows]

