"""The secondment lifecycle of PRODUCT.md, declared as data for `states.lifecycle.Lifecycle`:
from a member state's nomination of an official to the end of the placement."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from states.common import Actor, Role
from states.lifecycle import Lifecycle, Outcome, Subject  # noqa: F401  (Outcome: part of this API)


class SecondmentState(StrEnum):
    DRAFT = "draft"
    UNDER_REVIEW = "under_review"
    INFO_REQUESTED = "info_requested"
    ARRANGING = "arranging"
    PRE_DEPLOYMENT = "pre_deployment"
    ACTIVE = "active"
    CONCLUDING = "concluding"
    COMPLETED = "completed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    TERMINATED = "terminated"


FINAL_STATES = frozenset({SecondmentState.COMPLETED, SecondmentState.DECLINED, SecondmentState.WITHDRAWN,
                          SecondmentState.TERMINATED})


class SecondmentAction(StrEnum):
    SUBMIT = "submit"
    DECIDE = "decide"
    RESUBMIT = "resubmit"
    CONFIRM_ARRANGEMENT = "confirm_arrangement"
    COMPLETE_ITEM = "complete_item"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    BEGIN_HANDOVER = "begin_handover"
    SUBMIT_FINAL_REPORT = "submit_final_report"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"
    TERMINATE = "terminate"


class NominationDecision(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    REQUEST_INFO = "request_info"


class ExtensionDecision(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


class ChecklistItem(StrEnum):
    SECURITY_CLEARANCE = "security_clearance"
    VISA = "visa"
    TRAVEL = "travel"
    INSURANCE = "insurance"
    INDUCTION_PLAN = "induction_plan"


MS, CM = frozenset({Role.MEMBER_STATE}), frozenset({Role.CO_MANAGER})
ACTION_ROLES: dict[SecondmentAction, frozenset[Role]] = {
    SecondmentAction.SUBMIT: MS,
    SecondmentAction.DECIDE: CM,
    SecondmentAction.RESUBMIT: MS,
    SecondmentAction.CONFIRM_ARRANGEMENT: CM,
    SecondmentAction.COMPLETE_ITEM: MS | CM,
    SecondmentAction.START: CM,
    SecondmentAction.REQUEST_EXTENSION: MS,
    SecondmentAction.DECIDE_EXTENSION: CM,
    SecondmentAction.BEGIN_HANDOVER: CM,  # also the system, before the end date (the sweep)
    SecondmentAction.SUBMIT_FINAL_REPORT: MS,
    SecondmentAction.COMPLETE: CM,
    SecondmentAction.WITHDRAW: MS,
    SecondmentAction.TERMINATE: CM,
}

S, A = SecondmentState, SecondmentAction
_BEFORE_ACTIVE = [S.DRAFT, S.UNDER_REVIEW, S.INFO_REQUESTED, S.ARRANGING, S.PRE_DEPLOYMENT]

TRANSITIONS: list[dict] = [
    dict(trigger=A.SUBMIT, source=S.DRAFT, dest=S.UNDER_REVIEW, conditions=["is_owner"]),
    dict(trigger=A.DECIDE, source=S.UNDER_REVIEW, dest=S.ARRANGING, conditions=["is_co_manager", "accepts"]),
    dict(trigger=A.DECIDE, source=S.UNDER_REVIEW, dest=S.DECLINED, conditions=["is_co_manager", "declines"]),
    dict(trigger=A.DECIDE, source=S.UNDER_REVIEW, dest=S.INFO_REQUESTED, conditions=["is_co_manager", "asks_for_info"]),
    dict(trigger=A.RESUBMIT, source=S.INFO_REQUESTED, dest=S.UNDER_REVIEW, conditions=["is_owner"]),
    dict(trigger=A.CONFIRM_ARRANGEMENT, source=S.ARRANGING, dest=S.PRE_DEPLOYMENT, conditions=["is_co_manager"]),
    dict(trigger=A.COMPLETE_ITEM, source=S.PRE_DEPLOYMENT, dest=None,
         conditions=["is_owner_or_co_manager", "has_open_items", "item_is_open"]),
    dict(trigger=A.START, source=S.PRE_DEPLOYMENT, dest=S.ACTIVE, conditions=["is_co_manager", "checklist_complete"]),
    dict(trigger=A.REQUEST_EXTENSION, source=S.ACTIVE, dest=None, conditions=["is_owner", "no_extension_pending"]),
    dict(trigger=A.DECIDE_EXTENSION, source=S.ACTIVE, dest=None, conditions=["is_co_manager", "extension_pending"]),
    dict(trigger=A.BEGIN_HANDOVER, source=S.ACTIVE, dest=S.CONCLUDING, conditions=["is_co_manager"]),
    dict(trigger=A.SUBMIT_FINAL_REPORT, source=S.CONCLUDING, dest=None, conditions=["is_owner", "no_final_report"]),
    dict(trigger=A.COMPLETE, source=S.CONCLUDING, dest=S.COMPLETED, conditions=["is_co_manager", "final_report_in"]),
    dict(trigger=A.WITHDRAW, source=_BEFORE_ACTIVE, dest=S.WITHDRAWN, conditions=["is_owner"]),
    dict(trigger=A.TERMINATE, source=[S.ACTIVE, S.CONCLUDING], dest=S.TERMINATED, conditions=["is_co_manager"]),
]

ROUTING_GUARDS = frozenset({"accepts", "declines", "asks_for_info", "item_is_open"})
ROUTING_ARGUMENTS: dict[SecondmentAction, tuple[str, type[StrEnum]]] = {
    SecondmentAction.DECIDE: ("decision", NominationDecision),
    SecondmentAction.COMPLETE_ITEM: ("item", ChecklistItem),
    SecondmentAction.DECIDE_EXTENSION: ("decision", ExtensionDecision),
}


@dataclass(frozen=True)
class SecondmentFacts:
    """What the lifecycle needs to know of one secondment."""

    state: SecondmentState
    member_state: str  # the nominating member state
    checklist_done: frozenset[str] = frozenset()  # ticked pre-deployment items
    extension_pending: bool = False
    final_report_in: bool = False


class _Subject(Subject):
    """The secondment's guards."""

    __slots__ = ()

    def is_owner_or_co_manager(self, **_):
        return self.is_owner() or self.is_co_manager()

    def has_open_items(self, **_):
        return bool({i.value for i in ChecklistItem} - set(self.facts.checklist_done))

    def checklist_complete(self, **_):
        return {i.value for i in ChecklistItem} <= set(self.facts.checklist_done)

    def extension_pending(self, **_):
        return self.facts.extension_pending

    def no_extension_pending(self, **_):
        return not self.facts.extension_pending

    def final_report_in(self, **_):
        return self.facts.final_report_in

    def no_final_report(self, **_):
        return not self.facts.final_report_in

    # routing guards: True when the argument is absent, so availability ignores them
    def accepts(self, decision=None, **_):
        return decision is None or NominationDecision(decision) is NominationDecision.ACCEPT

    def declines(self, decision=None, **_):
        return decision is None or NominationDecision(decision) is NominationDecision.DECLINE

    def asks_for_info(self, decision=None, **_):
        return decision is None or NominationDecision(decision) is NominationDecision.REQUEST_INFO

    def item_is_open(self, item=None, **_):
        return item is None or ChecklistItem(item).value not in self.facts.checklist_done


def _reason(facts: SecondmentFacts, actor: Actor, action: SecondmentAction) -> str | None:
    who = _Subject(facts, actor)
    if not (who.is_owner() or who.is_co_manager()):
        return None  # not theirs to act on: the facts below would mislead
    if action is SecondmentAction.START:
        missing = [i.value for i in ChecklistItem if i.value not in facts.checklist_done]
        return f"the pre-deployment checklist is not complete: {', '.join(missing)} still open"
    if action is SecondmentAction.COMPLETE_ITEM:
        if _Subject(facts, actor).has_open_items():
            return "that checklist item is already ticked"
        return "every checklist item is already ticked"
    if action is SecondmentAction.DECIDE_EXTENSION:
        return "no extension has been requested"
    if action is SecondmentAction.REQUEST_EXTENSION:
        return "an extension request is already waiting for a decision"
    if action is SecondmentAction.COMPLETE:
        return "the final report has not been received yet"
    if action is SecondmentAction.SUBMIT_FINAL_REPORT:
        return "the final report has already been submitted"
    return None


LIFECYCLE = Lifecycle(
    title="Secondment lifecycle", noun="secondment", states=SecondmentState, actions=SecondmentAction,
    final=FINAL_STATES, transitions=TRANSITIONS, action_roles=ACTION_ROLES, subject=_Subject,
    routing_guards=ROUTING_GUARDS, routing_arguments=ROUTING_ARGUMENTS, reason=_reason,
    system_actions=frozenset({SecondmentAction.BEGIN_HANDOVER}),  # 30 days before the end date
    # The member state attaches documents while the nomination is theirs to change (a CV), and
    # while the secondment is concluding (its final report).
    owner_attaches=frozenset({SecondmentState.DRAFT, SecondmentState.INFO_REQUESTED, SecondmentState.CONCLUDING}),
    main_path=(("draft", (SecondmentState.DRAFT,)),
               ("review", (SecondmentState.UNDER_REVIEW, SecondmentState.INFO_REQUESTED)),
               ("arranging", (SecondmentState.ARRANGING,)),
               ("pre_deployment", (SecondmentState.PRE_DEPLOYMENT,)),
               ("active", (SecondmentState.ACTIVE,)),
               ("concluding", (SecondmentState.CONCLUDING,)),
               ("outcome", tuple(FINAL_STATES))),
)
available_actions = LIFECYCLE.available_actions
check = LIFECYCLE.check
decide = LIFECYCLE.decide
diagram = LIFECYCLE.diagram
