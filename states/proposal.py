"""The proposal lifecycle of PRODUCT.md, declared as data for `states.lifecycle.Lifecycle`."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from states.common import SEAT_COUNTRIES, Actor, Role
from states.lifecycle import Lifecycle, Outcome, Subject  # noqa: F401  (Outcome: part of this API)


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
    REPLACE_STAKEHOLDER = "replace_stakeholder"  # an invitee who cannot answer, for another
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
    ProposalAction.REPLACE_STAKEHOLDER: frozenset({Role.CO_MANAGER}),
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
    dict(trigger=A.REPLACE_STAKEHOLDER, source=S.STAKEHOLDER_CONSULTATION, dest=None,
         conditions=["is_co_manager", "awaits_a_response"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.APPROVED,
         conditions=["is_co_chair", "did_not_review", "guidance_approves"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.DECLINED,
         conditions=["is_co_chair", "did_not_review", "guidance_declines"]),
    dict(trigger=A.GIVE_GUIDANCE, source=S.CO_CHAIR_GUIDANCE, dest=S.CO_MANAGER_REVIEW,
         conditions=["is_co_chair", "did_not_review", "guidance_returns"]),
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
    # this round: seat country -> the person who cast its vote (the holder, or a delegate)
    voters: Mapping[str, int] = field(default_factory=dict)


class _Subject(Subject):
    """The proposal's guards."""

    __slots__ = ()

    # permission guards (is_owner, is_co_manager, is_co_chair come from Subject)
    def has_not_voted(self, **_):
        # Each seat votes once a round, and so does each person: the two keys are turned by
        # two people, whoever holds each seat (a delegate acting for one has not voted for the other).
        return self.actor.country not in self.facts.votes and self.actor.person not in self.facts.voters.values()

    def did_not_review(self, **_):
        # The Co-Chairs arbitrate the Co-Managers' reviews: whoever gave one of this round's (a
        # co-chair acting for an absent co-manager) leaves the guidance to the other co-chair.
        return self.actor.person not in self.facts.voters.values()

    def both_endorsed(self, **_):
        return round_outcome(self.facts.votes) is RoundOutcome.ENDORSED

    def awaits_a_response(self, **_):
        return len(self.facts.pending_stakeholders) > 0

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


def _reason(facts: ProposalFacts, actor: Actor, action: ProposalAction) -> str | None:
    if action is ProposalAction.REVIEW and actor.country in facts.votes:
        if facts.voters.get(actor.country, actor.person) != actor.person:
            return f"the {actor.country} co-manager seat's review of this round has already been given"
        return "you have already reviewed this proposal in this round"
    if action is ProposalAction.REVIEW and actor.person in facts.voters.values():
        seat = next(c for c, p in facts.voters.items() if p == actor.person)
        return (f"you have already reviewed this proposal in this round, for the {seat} seat: one person "
                f"gives at most one of the round's two reviews")
    if action in (ProposalAction.OPEN_CONSULTATION, ProposalAction.REFER_TO_CO_CHAIRS):
        return "both co-managers must endorse the proposal in this round first"
    if action is ProposalAction.RESPOND:
        return "you have no open consultation on this proposal"
    if action is ProposalAction.GIVE_GUIDANCE and actor.person in facts.voters.values():
        seat = next(c for c, p in facts.voters.items() if p == actor.person)
        return (f"you gave this round's review for the {seat} co-manager seat: the other Co-Chair gives the "
                "guidance on it")
    if action is ProposalAction.REPLACE_STAKEHOLDER:
        return "every invited stakeholder has answered: there is nobody to replace"
    return None


# The argument that chooses among an action's branches, and the values it takes.
ROUTING_ARGUMENTS: dict[ProposalAction, tuple[str, type[StrEnum]]] = {
    ProposalAction.REVIEW: ("recommendation", Recommendation),
    ProposalAction.RESPOND: ("position", Position),
    ProposalAction.GIVE_GUIDANCE: ("decision", GuidanceDecision),
}

LIFECYCLE = Lifecycle(
    title="Proposal lifecycle", noun="proposal", states=ProposalState, actions=ProposalAction, final=FINAL_STATES,
    transitions=TRANSITIONS, action_roles=ACTION_ROLES, subject=_Subject, routing_guards=ROUTING_GUARDS,
    routing_arguments=ROUTING_ARGUMENTS, reason=_reason,
    system_actions=frozenset({ProposalAction.CLOSE_CONSULTATION}),  # days after the consultation's due date
    # The member state attaches documents while the proposal is theirs to change.
    owner_attaches=frozenset({ProposalState.DRAFT, ProposalState.REVISION_REQUESTED}),
    main_path=(("draft", (ProposalState.DRAFT,)),
               ("review", (ProposalState.CO_MANAGER_REVIEW, ProposalState.REVISION_REQUESTED)),
               ("consultation", (ProposalState.STAKEHOLDER_CONSULTATION,)),
               ("guidance", (ProposalState.CO_CHAIR_GUIDANCE,)),
               ("decision", tuple(FINAL_STATES))),
)
available_actions = LIFECYCLE.available_actions
check = LIFECYCLE.check
decide = LIFECYCLE.decide
diagram = LIFECYCLE.diagram
