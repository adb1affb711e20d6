"""The proposal lifecycle of PRODUCT.md, declared as data on `transitions`.

One shared `Machine(model=None)`; each decision wraps the facts it needs in a small
`_Subject` whose `state` is a plain attribute, so nothing is bound to a database row and
the machine is built once per process.

Guards come in two kinds:
- permission guards (`is_owner`, `is_co_manager`, `has_not_voted`, ...) decide whether the
  action is available to this actor now; they take no arguments and give
  `available_actions`;
- routing guards (`round_revise`, `guidance_approves`, ...) read the action's arguments and
  choose among the transitions of one action. Without arguments they answer True, so the
  availability check asks only "could some branch be taken".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from transitions import Machine
from transitions.extensions import GraphMachine

from states.common import SEAT_COUNTRIES, ActionNotAvailable, Actor, NotPermitted, Role, UnknownAction


class ProposalState(StrEnum):
    DRAFT = "draft"
    CO_MANAGER_REVIEW = "co_manager_review"
    REVISION_REQUESTED = "revision_requested"
    STAKEHOLDER_CONSULTATION = "stakeholder_consultation"
    CO_CHAIR_GUIDANCE = "co_chair_guidance"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


FINAL_STATES = frozenset({ProposalState.APPROVED, ProposalState.DECLINED, ProposalState.WITHDRAWN})


class ProposalAction(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"
    OPEN_CONSULTATION = "open_consultation"
    REFER_TO_CO_CHAIRS = "refer_to_co_chairs"
    RESPOND = "respond"
    CLOSE_CONSULTATION = "close_consultation"
    GIVE_GUIDANCE = "give_guidance"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"


class Recommendation(StrEnum):
    ENDORSE = "endorse"
    REVISE = "revise"
    DECLINE = "decline"


class Position(StrEnum):
    SUPPORT = "support"
    SUPPORT_WITH_CONDITIONS = "support_with_conditions"
    CONCERNS = "concerns"
    OBJECT = "object"


class GuidanceDecision(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    DECLINE = "decline"
    RETURN_TO_CO_MANAGERS = "return_to_co_managers"


class RoundOutcome(StrEnum):
    """What the co-managers' votes of one round add up to."""

    PENDING = "pending"  # fewer than two votes
    REVISE = "revise"  # any revise
    DECLINE = "decline"  # both decline
    SPLIT = "split"  # one endorse, one decline: the co-chairs arbitrate
    ENDORSED = "endorsed"  # both endorse: consultation or referral become available


# Which roles may ever take each action: asking outside these is 403, not 409.
ACTION_ROLES: dict[ProposalAction, frozenset[Role]] = {
    ProposalAction.SUBMIT: frozenset({Role.MEMBER_STATE}),
    ProposalAction.REVIEW: frozenset({Role.CO_MANAGER}),
    ProposalAction.OPEN_CONSULTATION: frozenset({Role.CO_MANAGER}),
    ProposalAction.REFER_TO_CO_CHAIRS: frozenset({Role.CO_MANAGER}),
    ProposalAction.RESPOND: frozenset({Role.STAKEHOLDER}),
    ProposalAction.CLOSE_CONSULTATION: frozenset({Role.CO_MANAGER}),
    ProposalAction.GIVE_GUIDANCE: frozenset({Role.CO_CHAIR}),
    ProposalAction.RESUBMIT: frozenset({Role.MEMBER_STATE}),
    ProposalAction.WITHDRAW: frozenset({Role.MEMBER_STATE}),
}

S, A = ProposalState, ProposalAction
_NOT_FINAL = [s.value for s in S if s not in FINAL_STATES]

# The lifecycle. Order matters within one trigger: the first branch whose guards pass is taken.
TRANSITIONS: list[dict] = [
    dict(trigger=A.SUBMIT, source=S.DRAFT, dest=S.CO_MANAGER_REVIEW, conditions=["is_owner"]),
    # review: the vote that completes a round routes the proposal; an earlier vote, or both
    # endorsing, leaves it where it is.
    dict(trigger=A.REVIEW, source=S.CO_MANAGER_REVIEW, dest=S.REVISION_REQUESTED,
         conditions=["is_co_manager", "has_not_voted", "round_revise"]),
    dict(trigger=A.REVIEW, source=S.CO_MANAGER_REVIEW, dest=S.DECLINED,
         conditions=["is_co_manager", "has_not_voted", "round_decline"]),
    dict(trigger=A.REVIEW, source=S.CO_MANAGER_REVIEW, dest=S.CO_CHAIR_GUIDANCE,
         conditions=["is_co_manager", "has_not_voted", "round_split"]),
    dict(trigger=A.REVIEW, source=S.CO_MANAGER_REVIEW, dest=None,
         conditions=["is_co_manager", "has_not_voted", "round_stays"]),
    dict(trigger=A.OPEN_CONSULTATION, source=S.CO_MANAGER_REVIEW, dest=S.STAKEHOLDER_CONSULTATION,
         conditions=["is_co_manager", "both_endorsed"]),
    dict(trigger=A.REFER_TO_CO_CHAIRS, source=S.CO_MANAGER_REVIEW, dest=S.CO_CHAIR_GUIDANCE,
         conditions=["is_co_manager", "both_endorsed"]),
    dict(trigger=A.RESPOND, source=S.STAKEHOLDER_CONSULTATION, dest=S.CO_CHAIR_GUIDANCE,
         conditions=["is_pending_stakeholder", "is_last_response"]),
    dict(trigger=A.RESPOND, source=S.STAKEHOLDER_CONSULTATION, dest=None,
         conditions=["is_pending_stakeholder", "others_pending"]),
    dict(trigger=A.CLOSE_CONSULTATION, source=S.STAKEHOLDER_CONSULTATION, dest=S.CO_CHAIR_GUIDANCE,
         conditions=["is_co_manager"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.APPROVED,
         conditions=["is_co_chair", "guidance_approves"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.DECLINED,
         conditions=["is_co_chair", "guidance_declines"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.CO_MANAGER_REVIEW,
         conditions=["is_co_chair", "guidance_returns"]),
    dict(trigger=A.RESUBMIT, source=S.REVISION_REQUESTED, dest=S.CO_MANAGER_REVIEW, conditions=["is_owner"]),
    dict(trigger=A.WITHDRAW, source=_NOT_FINAL, dest=S.WITHDRAWN, conditions=["is_owner"]),
]

# Guards that read the action's arguments; every other guard is a permission guard.
ROUTING_GUARDS = frozenset({
    "round_revise", "round_decline", "round_split", "round_stays",
    "is_last_response", "others_pending",
    "guidance_approves", "guidance_declines", "guidance_returns",
})


def round_outcome(votes: Mapping[str, str]) -> RoundOutcome:
    """Add up the co-managers' votes of one round (seat country -> recommendation)."""
    cast = [Recommendation(votes[c]) for c in SEAT_COUNTRIES if c in votes]
    if len(cast) < len(SEAT_COUNTRIES):
        return RoundOutcome.PENDING
    if Recommendation.REVISE in cast:
        return RoundOutcome.REVISE
    if all(v is Recommendation.DECLINE for v in cast):
        return RoundOutcome.DECLINE
    if Recommendation.DECLINE in cast:
        return RoundOutcome.SPLIT
    return RoundOutcome.ENDORSED


@dataclass(frozen=True)
class ProposalFacts:
    """What the lifecycle needs to know of one proposal, read from wherever it is kept."""

    state: ProposalState
    member_state: str
    votes: Mapping[str, str] = field(default_factory=dict)  # this round: seat country -> recommendation
    pending_stakeholders: frozenset[int] = frozenset()  # invited, not yet responded


class _Subject:
    """The machine's model for one decision: facts, actor, and a mutable `state`."""

    __slots__ = ("state", "facts", "actor")

    def __init__(self, facts: ProposalFacts, actor: Actor):
        self.state = facts.state.value
        self.facts = facts
        self.actor = actor

    # permission guards
    def is_owner(self, **_):
        a = self.actor
        return a.role is Role.MEMBER_STATE and a.member_state == self.facts.member_state

    def is_co_manager(self, **_):
        return self.actor.role is Role.CO_MANAGER and self.actor.country in SEAT_COUNTRIES

    def is_co_chair(self, **_):
        return self.actor.role is Role.CO_CHAIR and self.actor.country in SEAT_COUNTRIES

    def has_not_voted(self, **_):
        return self.actor.country not in self.facts.votes

    def both_endorsed(self, **_):
        return round_outcome(self.facts.votes) is RoundOutcome.ENDORSED

    def is_pending_stakeholder(self, **_):
        return self.actor.role is Role.STAKEHOLDER and self.actor.user_id in self.facts.pending_stakeholders

    # routing guards: True when the argument is absent, so availability ignores them
    def _outcome_with(self, recommendation):
        return round_outcome({**self.facts.votes, self.actor.country: recommendation})

    def round_revise(self, recommendation=None, **_):
        return recommendation is None or self._outcome_with(recommendation) is RoundOutcome.REVISE

    def round_decline(self, recommendation=None, **_):
        return recommendation is None or self._outcome_with(recommendation) is RoundOutcome.DECLINE

    def round_split(self, recommendation=None, **_):
        return recommendation is None or self._outcome_with(recommendation) is RoundOutcome.SPLIT

    def round_stays(self, recommendation=None, **_):
        return recommendation is None or self._outcome_with(recommendation) in (
            RoundOutcome.PENDING, RoundOutcome.ENDORSED)

    def is_last_response(self, position=None, **_):
        return position is None or self.facts.pending_stakeholders == {self.actor.user_id}

    def others_pending(self, position=None, **_):
        return position is None or len(self.facts.pending_stakeholders - {self.actor.user_id}) > 0

    def guidance_approves(self, decision=None, **_):
        return decision is None or GuidanceDecision(decision) in (
            GuidanceDecision.APPROVE, GuidanceDecision.APPROVE_WITH_CONDITIONS)

    def guidance_declines(self, decision=None, **_):
        return decision is None or GuidanceDecision(decision) is GuidanceDecision.DECLINE

    def guidance_returns(self, decision=None, **_):
        return decision is None or GuidanceDecision(decision) is GuidanceDecision.RETURN_TO_CO_MANAGERS


def _plain(t: dict) -> dict:
    """transitions names Enum members by `.name`: hand it the plain values."""
    value = lambda x: x.value if isinstance(x, StrEnum) else x  # noqa: E731
    src = [value(x) for x in t["source"]] if isinstance(t["source"], list) else value(t["source"])
    return {**t, "trigger": value(t["trigger"]), "source": src, "dest": value(t["dest"])}


MACHINE = Machine(
    model=None,
    states=[s.value for s in S],
    transitions=[_plain(t) for t in TRANSITIONS],
    initial=S.DRAFT.value,
    auto_transitions=False,
    send_event=False,
)


def _permitted(subject: _Subject, transition: dict) -> bool:
    return all(getattr(subject, name)() for name in transition["conditions"] if name not in ROUTING_GUARDS)


def _sources(t: dict) -> list[str]:
    return t["source"] if isinstance(t["source"], list) else [t["source"]]


def available_actions(facts: ProposalFacts, actor: Actor) -> list[str]:
    """The actions this actor may take now, in lifecycle order."""
    subject = _Subject(facts, actor)
    found: list[str] = []
    for t in TRANSITIONS:
        name = t["trigger"].value
        if name not in found and facts.state.value in _sources(t) and _permitted(subject, t):
            found.append(name)
    return found


@dataclass(frozen=True)
class Outcome:
    action: ProposalAction
    from_state: ProposalState
    to_state: ProposalState

    @property
    def changed(self) -> bool:
        return self.from_state is not self.to_state


def check(facts: ProposalFacts, actor: Actor, action: str) -> ProposalAction:
    """Whether `actor` may take `action` now, whatever its arguments.

    Raises UnknownAction (no such action), NotPermitted (never for this role) or
    ActionNotAvailable (not now: the wrong state, a vote already cast, ...).
    """
    try:
        act = ProposalAction(action)
    except ValueError:
        raise UnknownAction(action, [a.value for a in ProposalAction]) from None
    if actor.role not in ACTION_ROLES[act]:
        raise NotPermitted(act.value, actor.role.value)
    available = available_actions(facts, actor)
    if act.value not in available:
        raise ActionNotAvailable(act.value, facts.state.value, available, _why_not(facts, actor, act))
    return act


# The argument that chooses among an action's branches, and the values it takes.
ROUTING_ARGUMENTS: dict[ProposalAction, tuple[str, type[StrEnum]]] = {
    ProposalAction.REVIEW: ("recommendation", Recommendation),
    ProposalAction.RESPOND: ("position", Position),
    ProposalAction.GIVE_GUIDANCE: ("decision", GuidanceDecision),
}


def decide(facts: ProposalFacts, actor: Actor, action: str, **arguments) -> Outcome:
    """Where `action` by `actor` leads from `facts`, or why it is refused (see `check`).

    Actions with branches need their routing argument (`recommendation` for review,
    `position` for respond, `decision` for give_guidance): ValueError without it."""
    act = check(facts, actor, action)
    if act in ROUTING_ARGUMENTS:
        name, values = ROUTING_ARGUMENTS[act]
        if arguments.get(name) not in {v.value for v in values}:
            raise ValueError(f"'{act.value}' needs {name}: one of {', '.join(v.value for v in values)}")
    subject = _Subject(facts, actor)
    if not MACHINE.events[act.value].trigger(subject, **arguments):  # pragma: no cover - check() covers it
        raise ActionNotAvailable(act.value, facts.state.value, available_actions(facts, actor))
    return Outcome(act, facts.state, ProposalState(subject.state))


def _why_not(facts: ProposalFacts, actor: Actor, action: ProposalAction) -> str:
    if facts.state in FINAL_STATES:
        return f"the proposal is {facts.state.value}: a final state accepts no action"
    if not any(facts.state.value in _sources(t) for t in TRANSITIONS if t["trigger"] is action):
        return f"'{action.value}' is not available while the proposal is in '{facts.state.value}'"
    if action is ProposalAction.REVIEW and actor.country in facts.votes:
        return "you have already reviewed this proposal in this round"
    if action in (ProposalAction.OPEN_CONSULTATION, ProposalAction.REFER_TO_CO_CHAIRS):
        return "both co-managers must endorse the proposal in this round first"
    if action is ProposalAction.RESPOND:
        return "you have no open consultation on this proposal"
    return f"'{action.value}' is not available to you on this proposal now"


_DIAGRAM = GraphMachine(
    model=None,
    states=[s.value for s in S],
    transitions=[_plain(t) for t in TRANSITIONS],
    initial=S.DRAFT.value,
    auto_transitions=False,
    graph_engine="mermaid",
    show_conditions=False,
    title="Proposal lifecycle",
)


class _Marker:
    """A throwaway model: GraphMachine marks the state of the model it draws."""


def diagram(current: ProposalState | str) -> str:
    """The lifecycle as Mermaid text with the current state marked."""
    marker = _Marker()
    _DIAGRAM.add_model(marker)
    try:
        marker.state = ProposalState(current).value
        text = marker.get_graph(force_new=True).draw(None)
    finally:
        _DIAGRAM.remove_model(marker)
    # transitions writes "Class x style"; Mermaid's keyword is lower-case.
    return text.replace("\n  Class ", "\n  class ")
