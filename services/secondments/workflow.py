"""The secondment lifecycle on the shared engine (`services.engine.workflow`): what is
particular to a secondment, registered as one `Workflow`.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_
from sqlalchemy.orm import aliased

from services.config.calendar import add_months
from services.config.reference_data import member_codes
from services.engine.errors import InvalidInput, NotFound
from services.engine.events import DomainEvent, EventName
from services.engine.models import User
from services.engine.schemas import CommentArgs, SubmitArgs
from services.engine.tasks import TaskKind, TaskStatus, close_tasks, due_in, open_task
from services.engine.workflow import ExtraJoin, Loaded, Step, Workflow, no_effect
from services.infra.tables import Column
from services.infra.uow import UnitOfWork
from services.secondments.models import ChecklistEntry, Secondment
from services.secondments.schemas import (
    ChecklistItemPublic, CompleteItemArgs, ConfirmArrangementArgs, DecideArgs, DecideExtensionArgs,
    ExtensionRequestPublic, FinalReportArgs, Funding, NomineePublic, ReasonArgs, RequestExtensionArgs,
    SecondmentResubmitArgs, SecondmentCreate, SecondmentPublic, SecondmentUpdate,
)
from services.secondments.timers import TIMERS
from services.secondments.wording import WORDING
from states.common import Role
from states.secondment import (
    LIFECYCLE, ChecklistItem, ExtensionDecision, SecondmentAction, SecondmentFacts, SecondmentState,
)

ITEM = "secondment"
PREFIX = "RSO-S"
PROPOSAL, APPROVED = "proposal", "approved"  # the kind of item a placement may serve, and its state
A, S = SecondmentAction, SecondmentState

MIN_MONTHS, MAX_MONTHS = 1, 12

ARGUMENTS = {
    A.SUBMIT: SubmitArgs,
    A.DECIDE: DecideArgs,
    A.RESUBMIT: SecondmentResubmitArgs,
    A.CONFIRM_ARRANGEMENT: ConfirmArrangementArgs,
    A.COMPLETE_ITEM: CompleteItemArgs,
    A.START: CommentArgs,
    A.REQUEST_EXTENSION: RequestExtensionArgs,
    A.DECIDE_EXTENSION: DecideExtensionArgs,
    A.BEGIN_HANDOVER: CommentArgs,
    A.SUBMIT_FINAL_REPORT: FinalReportArgs,
    A.COMPLETE: CommentArgs,
    A.WITHDRAW: CommentArgs,
    A.TERMINATE: ReasonArgs,
}
REQUIRED_TO_SUBMIT = {"nominee_position": "nominee.position", "nominee_agency": "nominee.agency",
                      "start_date": "start_date", "end_date": "end_date", "funding_salary": "funding",
                      "justification": "justification"}


def _today(uow: UnitOfWork) -> date:
    return uow.services.calendar.today(uow.now)


def _check_period(start: date | None, end: date | None, *, start_field: str, end_field: str,
                  not_before: date | None = None) -> list[dict]:
    """A placement lasts 1 to 12 months; it cannot start in the past."""
    errors = []
    if start and not_before and start < not_before:
        errors.append({"field": start_field, "message": f"must not be in the past (today is {not_before.isoformat()})"})
    if start and end:
        if end < add_months(start, MIN_MONTHS):
            errors.append({"field": end_field, "message": f"must be at least {MIN_MONTHS} month after the start date "
                                                          f"(on or after {add_months(start, MIN_MONTHS).isoformat()})"})
        elif end > add_months(start, MAX_MONTHS):
            errors.append({"field": end_field, "message": f"must be at most {MAX_MONTHS} months after the start date "
                                                          f"(on or before {add_months(start, MAX_MONTHS).isoformat()})"})
    return errors


async def _linked_proposal(uow: UnitOfWork, user: User, reference: str, field: str):
    """The approved proposal a placement serves: one the caller can see, found through the
    proposals' own workflow (this package does not import another lifecycle's)."""
    proposals = uow.services.workflow(PROPOSAL)
    try:
        if not proposals.reference_pattern.fullmatch(reference.strip().upper()):
            raise NotFound(reference)
        proposal = await proposals.find(uow, user, reference)
    except NotFound:
        raise InvalidInput.one(field, f"no proposal '{reference}' that you can see") from None
    if proposal.state != APPROVED:
        raise InvalidInput.one(field, f"{proposal.reference} is {proposal.state.replace('_', ' ')}: "
                                      "a secondment can only serve an approved proposal")
    return proposal


async def _apply_fields(uow: UnitOfWork, s: Secondment, fields: SecondmentUpdate, user: User, prefix: str) -> dict:
    """Copy the fields named in `fields` onto the row; return what changed, JSON-ready."""
    given = fields.model_dump(exclude_unset=True)
    as_json = fields.model_dump(mode="json", exclude_unset=True)
    changed: dict = {}

    def put(attr: str, value, name: str, shown) -> None:
        if getattr(s, attr) != value:
            setattr(s, attr, value)
            changed[name] = shown

    for name, value in given.items():
        if name == "nominee":
            for k, v in value.items():
                put(f"nominee_{k}", v, f"nominee.{k}", as_json["nominee"][k])
        elif name == "funding":
            funding = (value["salary"].value, value["allowances"].value) if value else (None, None)
            if (s.funding_salary, s.funding_allowances) != funding:
                s.funding_salary, s.funding_allowances = funding
                changed["funding"] = as_json["funding"]
        elif name == "proposal_reference":
            proposal = await _linked_proposal(uow, user, value, prefix + name) if value else None
            put("proposal_id", proposal.id if proposal else None, "proposal_reference",
                proposal.reference if proposal else None)
            s.proposal_reference = proposal.reference if proposal else None
        else:
            put(name, value, name, as_json[name])
    if "start_date" in given or "end_date" in given:
        errors = _check_period(s.start_date, s.end_date, start_field=prefix + "start_date",
                               end_field=prefix + "end_date",
                               not_before=_today(uow) if given.get("start_date") else None)
        if errors:
            raise InvalidInput(errors)
    return changed


def _require_complete(s: Secondment, prefix: str = "") -> None:
    missing = [f for attr, f in REQUIRED_TO_SUBMIT.items() if not getattr(s, attr)]
    if missing:
        raise InvalidInput([{"field": prefix + f, "message": "required before the nomination can be submitted"}
                            for f in missing])


# --- what the engine needs to know of a secondment ------------------------------------------

_DoneBy = aliased(User)


def _checklist(found: list[tuple]) -> list[tuple[ChecklistEntry, str | None]]:
    return sorted(((e, name) for e, name in found if e is not None), key=lambda x: x[0].id)


# A secondment's checklist, with who ticked each item, once it is being arranged.
CHECKLIST = ExtraJoin(
    columns=(ChecklistEntry, _DoneBy.name),
    joins=((ChecklistEntry, and_(ChecklistEntry.secondment_id == Secondment.id,
                                 Secondment.state.not_in([S.DRAFT, S.UNDER_REVIEW, S.INFO_REQUESTED, S.ARRANGING]))),
           (_DoneBy, _DoneBy.id == ChecklistEntry.done_by_id)),
    collect=_checklist)


def _facts(loaded: Loaded) -> SecondmentFacts:
    s = loaded.item
    return SecondmentFacts(state=SecondmentState(s.state), member_state=s.member_state,
                           checklist_done=frozenset(e.item for e, _ in loaded.extra if e.done_at is not None),
                           extension_pending=s.extension_end_date is not None,
                           final_report_in=s.final_report is not None)


def _title(s: Secondment) -> str:
    return f"{s.nominee_full_name}, {s.proposed_role}"


def _view(loaded: Loaded) -> dict:
    s = loaded.item
    return dict(
        nominee=NomineePublic(full_name=s.nominee_full_name, email=s.nominee_email, position=s.nominee_position,
                              agency=s.nominee_agency),
        proposed_role=s.proposed_role, proposal_reference=s.proposal_reference, start_date=s.start_date,
        end_date=s.end_date,
        funding=Funding(salary=s.funding_salary, allowances=s.funding_allowances) if s.funding_salary else None,
        languages=s.languages, justification=s.justification, arrangement_signed_on=s.arrangement_signed_on,
        checklist=[ChecklistItemPublic(item=e.item, done=e.done_at is not None, done_at=e.done_at, done_by=name)
                   for e, name in loaded.extra],
        extension_request=ExtensionRequestPublic(new_end_date=s.extension_end_date,
                                                 justification=s.extension_justification or "")
        if s.extension_end_date else None,
        final_report=s.final_report, final_report_at=s.final_report_at,
    )


def _milestone(uow: UnitOfWork, s: Secondment, name: str, **data) -> None:
    uow.emit(DomainEvent(EventName.MILESTONE, ITEM, s.id, s.reference, {"milestone": name, **data}))


def _co_manager_task(uow: UnitOfWork, loaded: Loaded, kind: TaskKind) -> None:
    s = loaded.item
    loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=s.id, reference=s.reference, kind=kind,
                                  due_at=due_in(uow, kind), role=Role.CO_MANAGER))


def _close(uow: UnitOfWork, loaded: Loaded, kind: TaskKind, user: User | None) -> None:
    close_tasks(uow, [t for t in loaded.tasks if t.kind == kind], TaskStatus.COMPLETED, user)


# --- actions --------------------------------------------------------------------------------

async def _submit(uow, loaded, user, args) -> dict:
    s = loaded.item
    _require_complete(s)
    errors = _check_period(s.start_date, s.end_date, start_field="start_date", end_field="end_date",
                           not_before=_today(uow))
    if errors:
        raise InvalidInput(errors)
    s.submitted_at, s.submitted_by_id, s.round = uow.now, user.id, 1
    uow.emit(DomainEvent(EventName.SUBMITTED, ITEM, s.id, s.reference, {"round": s.round}))
    return {}


async def _decide(uow, loaded, user, args: DecideArgs) -> dict:
    _close(uow, loaded, TaskKind.DECISION, user)
    return {"decision": args.decision.value}


async def _resubmit(uow, loaded, user, args: SecondmentResubmitArgs) -> dict:
    s = loaded.item
    changes = await _apply_fields(uow, s, args.changes, user, "changes.")
    _require_complete(s, "changes.")
    s.submitted_by_id, s.round = user.id, s.round + 1
    uow.emit(DomainEvent(EventName.SUBMITTED, ITEM, s.id, s.reference, {"round": s.round}))
    return {"changes": changes}


async def _confirm_arrangement(uow, loaded, user, args: ConfirmArrangementArgs) -> dict:
    s, today = loaded.item, _today(uow)
    errors = _check_period(args.start_date, args.end_date, start_field="start_date", end_field="end_date",
                           not_before=today)
    if args.arrangement_signed_on > today:
        errors.append({"field": "arrangement_signed_on", "message": f"must not be in the future (today is {today})"})
    if errors:
        raise InvalidInput(errors)
    s.arrangement_signed_on, s.start_date, s.end_date = args.arrangement_signed_on, args.start_date, args.end_date
    entries = [ChecklistEntry(secondment_id=s.id, item=i.value) for i in ChecklistItem]
    uow.session.add_all(entries)
    loaded.extra = [(e, None) for e in entries]
    return {"arrangement_signed_on": str(args.arrangement_signed_on), "start_date": str(args.start_date),
            "end_date": str(args.end_date)}


async def _complete_item(uow, loaded, user, args: CompleteItemArgs) -> dict:
    s = loaded.item
    for entry, _ in loaded.extra:
        if entry.item == args.item.value:
            entry.done_at, entry.done_by_id = uow.now, user.id
            uow.session.add(entry)
    loaded.extra = [(e, user.name if e.item == args.item.value else n) for e, n in loaded.extra]
    if all(e.done_at is not None for e, _ in loaded.extra):
        _milestone(uow, s, "checklist_complete")
    return {"item": args.item.value}


async def _request_extension(uow, loaded, user, args: RequestExtensionArgs) -> dict:
    s = loaded.item
    latest = add_months(s.start_date, MAX_MONTHS)
    if args.new_end_date <= s.end_date:
        raise InvalidInput.one("new_end_date", f"must be after the current end date ({s.end_date.isoformat()})")
    if args.new_end_date > latest:
        raise InvalidInput.one("new_end_date", f"a placement lasts at most {MAX_MONTHS} months: "
                                               f"on or before {latest.isoformat()}")
    s.extension_end_date, s.extension_justification = args.new_end_date, args.justification
    _co_manager_task(uow, loaded, TaskKind.EXTENSION)
    _milestone(uow, s, "extension_requested", new_end_date=str(args.new_end_date))
    return {"new_end_date": str(args.new_end_date), "justification": args.justification}


async def _decide_extension(uow, loaded, user, args: DecideExtensionArgs) -> dict:
    s = loaded.item
    _close(uow, loaded, TaskKind.EXTENSION, user)
    requested = s.extension_end_date
    details = {"decision": args.decision.value, "new_end_date": str(requested)}
    if args.decision is ExtensionDecision.APPROVE:
        details["previous_end_date"] = str(s.end_date)
        s.end_date = requested
    s.extension_end_date, s.extension_justification = None, None
    _milestone(uow, s, "extension_decided", decision=args.decision.value, new_end_date=str(requested),
               comment=args.comment)
    return details


async def _submit_final_report(uow, loaded, user, args: FinalReportArgs) -> dict:
    s = loaded.item
    s.final_report, s.final_report_at = args.report, uow.now
    _close(uow, loaded, TaskKind.FINAL_REPORT, user)
    _milestone(uow, s, "final_report_received")
    return {}


EFFECTS = {
    A.SUBMIT: _submit,
    A.DECIDE: _decide,
    A.RESUBMIT: _resubmit,
    A.CONFIRM_ARRANGEMENT: _confirm_arrangement,
    A.COMPLETE_ITEM: _complete_item,
    A.START: no_effect,
    A.REQUEST_EXTENSION: _request_extension,
    A.DECIDE_EXTENSION: _decide_extension,
    A.BEGIN_HANDOVER: no_effect,
    A.SUBMIT_FINAL_REPORT: _submit_final_report,
    A.COMPLETE: no_effect,
    A.WITHDRAW: no_effect,
    A.TERMINATE: no_effect,
}

MILESTONE_OF_STATE = {S.PRE_DEPLOYMENT: "arrangement_confirmed", S.ACTIVE: "started",
                      S.CONCLUDING: "handover_begun", S.COMPLETED: "completed", S.WITHDRAWN: "withdrawn",
                      S.TERMINATED: "terminated"}


def _enter(uow: UnitOfWork, loaded: Loaded, step: Step) -> None:
    """Open the tasks of the state the secondment enters; tell people of its milestones."""
    s, state, svc = loaded.item, step.outcome.to_state, uow.services
    comment = getattr(step.args, "comment", None)
    if state is S.UNDER_REVIEW:
        _co_manager_task(uow, loaded, TaskKind.DECISION)
    elif state is S.CONCLUDING:
        after_end = svc.policy.task(TaskKind.FINAL_REPORT).due_business_days_after_end
        due = svc.calendar.end_of_day(svc.calendar.add_business_days(s.end_date, after_end))
        loaded.tasks.append(open_task(uow, item_kind=ITEM, item_id=s.id, reference=s.reference,
                                      kind=TaskKind.FINAL_REPORT, due_at=due, role=Role.MEMBER_STATE,
                                      member_state=s.member_state))
    if step.action is A.DECIDE:
        uow.emit(DomainEvent(EventName.DECISION, ITEM, s.id, s.reference,
                             {"outcome": state.value, "reasons": [comment] if comment else []}))
    elif state in MILESTONE_OF_STATE:
        _milestone(uow, s, MILESTONE_OF_STATE[state], comment=comment, automatic=step.user is None)


EXPORT_COLUMNS = (
    Column("reference", "Reference"), Column("nominee_full_name", "Nominee"),
    Column("nominee_position", "Position"), Column("nominee_agency", "Agency"),
    Column("proposed_role", "Proposed role", wide=True), Column("member_state", "Member state"),
    Column("state", "State"), Column("proposal_reference", "Proposal"),
    Column("start_date", "Start", "date"), Column("end_date", "End", "date"),
    Column("funding_salary", "Salary paid by"), Column("funding_allowances", "Allowances paid by"),
    Column("submitted_at", "Submitted", "moment"),
    Column("updated_at", "Last change", "moment"), Column("closed_at", "Closed", "moment"),
)


SECONDMENTS = Workflow(
    kind=ITEM, path="secondments", prefix=PREFIX, model=Secondment, lifecycle=LIFECYCLE,
    task_actions={TaskKind.DECISION: SecondmentAction.DECIDE, TaskKind.EXTENSION: SecondmentAction.DECIDE_EXTENSION,
                  TaskKind.FINAL_REPORT: SecondmentAction.SUBMIT_FINAL_REPORT},
    create_schema=SecondmentCreate, update_schema=SecondmentUpdate, public_schema=SecondmentPublic,
    arguments=ARGUMENTS, effects=EFFECTS, facts=_facts, view=_view, apply_fields=_apply_fields, enter=_enter,
    title=_title, title_columns=("nominee_full_name", "proposed_role"), wording=WORDING, timers=TIMERS, extra=CHECKLIST,
    member_codes=member_codes, title_sort="nominee", export_columns=EXPORT_COLUMNS,
)
