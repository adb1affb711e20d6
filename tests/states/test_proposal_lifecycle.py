"""The proposal lifecycle of PRODUCT.md ("Roles", "Proposal lifecycle") on the pure state module.

Every expectation here is written out from PRODUCT.md, never read from the module's own
TRANSITIONS or ACTION_ROLES: a wrong table in `states/proposal.py` must make a test fail.
"""
from __future__ import annotations

import pytest

from states.common import ActionNotAvailable, ActionRefused, Actor, NotPermitted, Role, UnknownAction
from states.proposal import (
    Outcome,
    ProposalAction,
    ProposalFacts,
    ProposalState,
    RoundOutcome,
    available_actions,
    decide,
    diagram,
    round_outcome,
)
from tests.states.mermaid import ACTIVE, drawn_edges

S, A = ProposalState, ProposalAction

FINAL = (S.APPROVED, S.DECLINED, S.WITHDRAWN)
NOT_FINAL = tuple(s for s in S if s not in FINAL)

# --- the people ------------------------------------------------------------------------------

OWNER_STATE = "THA"
STAKEHOLDER_ID, OTHER_STAKEHOLDER_ID, UNINVITED_STAKEHOLDER_ID = 41, 42, 43

OWNER = Actor(Role.MEMBER_STATE, user_id=1, member_state=OWNER_STATE)
OTHER_MEMBER_STATE = Actor(Role.MEMBER_STATE, user_id=2, member_state="IDN")
CO_MANAGER_AUS = Actor(Role.CO_MANAGER, user_id=11, country="AUS")
CO_MANAGER_IDN = Actor(Role.CO_MANAGER, user_id=12, country="IDN")
CO_CHAIR_AUS = Actor(Role.CO_CHAIR, user_id=21, country="AUS")
CO_CHAIR_IDN = Actor(Role.CO_CHAIR, user_id=22, country="IDN")
STAKEHOLDER = Actor(Role.STAKEHOLDER, user_id=STAKEHOLDER_ID)
ADMIN = Actor(Role.ADMIN, user_id=99)

CO_MANAGERS = (CO_MANAGER_AUS, CO_MANAGER_IDN)
CO_CHAIRS = (CO_CHAIR_AUS, CO_CHAIR_IDN)
CO_MANAGER_BY_SEAT = {"AUS": CO_MANAGER_AUS, "IDN": CO_MANAGER_IDN}

ACTORS_BY_ROLE: dict[Role, tuple[Actor, ...]] = {
    Role.MEMBER_STATE: (OWNER,),
    Role.CO_MANAGER: CO_MANAGERS,
    Role.STAKEHOLDER: (STAKEHOLDER,),
    Role.CO_CHAIR: CO_CHAIRS,
    Role.ADMIN: (ADMIN,),
}
EVERYONE = (OWNER, OTHER_MEMBER_STATE, *CO_MANAGERS, STAKEHOLDER, *CO_CHAIRS, ADMIN)

# --- PRODUCT.md, "Proposal lifecycle", written out by hand --------------------------------------

# The "who" column: the one role that may ever take each action (anyone else: 403).
ROLE_FOR_ACTION: dict[ProposalAction, Role] = {
    A.SUBMIT: Role.MEMBER_STATE,
    A.REVIEW: Role.CO_MANAGER,
    A.OPEN_CONSULTATION: Role.CO_MANAGER,
    A.REFER_TO_CO_CHAIRS: Role.CO_MANAGER,
    A.RESPOND: Role.STAKEHOLDER,
    A.CLOSE_CONSULTATION: Role.CO_MANAGER,
    A.REPLACE_STAKEHOLDER: Role.CO_MANAGER,
    A.GIVE_GUIDANCE: Role.CO_CHAIR,
    A.RESUBMIT: Role.MEMBER_STATE,
    A.WITHDRAW: Role.MEMBER_STATE,
}

# Realistic arguments for each action, as a client would send them.
ARGUMENTS: dict[ProposalAction, dict] = {
    A.SUBMIT: {},
    A.REVIEW: {"recommendation": "endorse", "comment": "Fits the RSO work plan."},
    A.OPEN_CONSULTATION: {"stakeholders": ["wg-tip@baliprocess.example"]},
    A.REFER_TO_CO_CHAIRS: {"comment": "No consultation needed."},
    A.RESPOND: {"position": "support", "comment": "We support it."},
    A.CLOSE_CONSULTATION: {"comment": "Enough views gathered."},
    A.REPLACE_STAKEHOLDER: {"stakeholder": "wg-tip@baliprocess.example", "replacement": "iom@baliprocess.example"},
    A.GIVE_GUIDANCE: {"decision": "approve", "comment": "Approved on behalf of both Co-Chairs."},
    A.RESUBMIT: {"comment": "Budget revised."},
    A.WITHDRAW: {"comment": "No longer needed."},
}


def facts(state: ProposalState, votes=None, pending=()) -> ProposalFacts:
    return ProposalFacts(state=state, member_state=OWNER_STATE, votes=dict(votes or {}),
                         pending_stakeholders=frozenset(pending))


# One realistic proposal per state. The stakeholder is listed as pending in every state, so
# that in the matrix only the state can stop them from responding.
BOTH_PENDING = (STAKEHOLDER_ID, OTHER_STAKEHOLDER_ID)
MATRIX_FACTS: dict[ProposalState, ProposalFacts] = {
    S.DRAFT: facts(S.DRAFT, pending=BOTH_PENDING),
    S.CO_MANAGER_REVIEW: facts(S.CO_MANAGER_REVIEW, pending=BOTH_PENDING),  # round opened, no vote yet
    S.REVISION_REQUESTED: facts(S.REVISION_REQUESTED, {"AUS": "revise", "IDN": "endorse"}, BOTH_PENDING),
    S.STAKEHOLDER_CONSULTATION: facts(S.STAKEHOLDER_CONSULTATION, {"AUS": "endorse", "IDN": "endorse"},
                                      BOTH_PENDING),
    S.CO_CHAIR_GUIDANCE: facts(S.CO_CHAIR_GUIDANCE, {"AUS": "endorse", "IDN": "decline"}, BOTH_PENDING),
    S.APPROVED: facts(S.APPROVED, {"AUS": "endorse", "IDN": "endorse"}, BOTH_PENDING),
    S.DECLINED: facts(S.DECLINED, {"AUS": "decline", "IDN": "decline"}, BOTH_PENDING),
    S.WITHDRAWN: facts(S.WITHDRAWN, pending=BOTH_PENDING),
}

# Where each (state, action) leads for its role with MATRIX_FACTS and ARGUMENTS. A pair that
# is absent is not available in that state (409).
LEADS_TO: dict[tuple[ProposalState, ProposalAction], ProposalState] = {
    (S.DRAFT, A.SUBMIT): S.CO_MANAGER_REVIEW,
    (S.DRAFT, A.WITHDRAW): S.WITHDRAWN,
    (S.CO_MANAGER_REVIEW, A.REVIEW): S.CO_MANAGER_REVIEW,  # first vote of the round: stays
    (S.CO_MANAGER_REVIEW, A.WITHDRAW): S.WITHDRAWN,
    (S.REVISION_REQUESTED, A.RESUBMIT): S.CO_MANAGER_REVIEW,
    (S.REVISION_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.STAKEHOLDER_CONSULTATION, A.RESPOND): S.STAKEHOLDER_CONSULTATION,  # another still pending
    (S.STAKEHOLDER_CONSULTATION, A.CLOSE_CONSULTATION): S.CO_CHAIR_GUIDANCE,
    (S.STAKEHOLDER_CONSULTATION, A.REPLACE_STAKEHOLDER): S.STAKEHOLDER_CONSULTATION,  # one invitee for another
    (S.STAKEHOLDER_CONSULTATION, A.WITHDRAW): S.WITHDRAWN,
    (S.CO_CHAIR_GUIDANCE, A.GIVE_GUIDANCE): S.APPROVED,
    (S.CO_CHAIR_GUIDANCE, A.WITHDRAW): S.WITHDRAWN,
}


def expected_available(state: ProposalState, role: Role) -> set[str]:
    return {a.value for (s, a) in LEADS_TO if s is state and ROLE_FOR_ACTION[a] is role}


def refusal(facts_: ProposalFacts, actor: Actor, action: str, **arguments) -> ActionRefused:
    with pytest.raises(ActionRefused) as refused:
        decide(facts_, actor, action, **arguments)
    return refused.value


def assert_not_available(facts_: ProposalFacts, actor: Actor, action: str, **arguments) -> ActionNotAvailable:
    with pytest.raises(ActionNotAvailable) as refused:
        decide(facts_, actor, action, **arguments)
    assert refused.value.action == str(action)
    assert refused.value.state == facts_.state.value
    assert refused.value.available == available_actions(facts_, actor)
    return refused.value


# --- 1. every state x every action x every role ---------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("state", list(S))
def test_every_state_action_and_role_is_decided_as_product_md_says(state, action, role):
    proposal = MATRIX_FACTS[state]
    for actor in ACTORS_BY_ROLE[role]:
        if role is not ROLE_FOR_ACTION[action]:
            with pytest.raises(NotPermitted):
                decide(proposal, actor, action.value, **ARGUMENTS[action])
        elif (state, action) in LEADS_TO:
            outcome = decide(proposal, actor, action.value, **ARGUMENTS[action])
            assert outcome == Outcome(action, state, LEADS_TO[state, action])
        else:
            refused = assert_not_available(proposal, actor, action.value, **ARGUMENTS[action])
            assert set(refused.available) == expected_available(state, role)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", list(S))
def test_available_actions_list_exactly_what_the_role_may_do_in_the_state(state, role):
    for actor in ACTORS_BY_ROLE[role]:
        available = available_actions(MATRIX_FACTS[state], actor)
        assert len(available) == len(set(available)), "an action is listed twice"
        assert set(available) == expected_available(state, role)


def test_admin_takes_no_workflow_decision_in_any_state():
    for state in S:
        assert available_actions(MATRIX_FACTS[state], ADMIN) == []
        for action in A:
            with pytest.raises(NotPermitted):
                decide(MATRIX_FACTS[state], ADMIN, action.value, **ARGUMENTS[action])


def test_not_permitted_names_the_action_and_the_role():
    refused = refusal(MATRIX_FACTS[S.DRAFT], CO_MANAGER_AUS, "submit")
    assert isinstance(refused, NotPermitted)
    assert (refused.action, refused.role) == ("submit", "co_manager")


# --- 2. the co-managers' review round -------------------------------------------------------

SEATS = ("AUS", "IDN")
RECOMMENDATIONS = ("endorse", "revise", "decline")

# PRODUCT.md: any revise -> revise; both decline -> decline; endorse + decline -> split;
# both endorse -> endorsed. Keys are (one vote, the other vote); order must not matter.
TWO_VOTES = {
    ("endorse", "endorse"): RoundOutcome.ENDORSED,
    ("endorse", "revise"): RoundOutcome.REVISE,
    ("endorse", "decline"): RoundOutcome.SPLIT,
    ("revise", "endorse"): RoundOutcome.REVISE,
    ("revise", "revise"): RoundOutcome.REVISE,
    ("revise", "decline"): RoundOutcome.REVISE,
    ("decline", "endorse"): RoundOutcome.SPLIT,
    ("decline", "revise"): RoundOutcome.REVISE,
    ("decline", "decline"): RoundOutcome.DECLINE,
}
ROUND_LEADS_TO = {
    RoundOutcome.REVISE: S.REVISION_REQUESTED,
    RoundOutcome.DECLINE: S.DECLINED,
    RoundOutcome.SPLIT: S.CO_CHAIR_GUIDANCE,
    RoundOutcome.ENDORSED: S.CO_MANAGER_REVIEW,
}


def other_seat(seat: str) -> str:
    return "IDN" if seat == "AUS" else "AUS"


def test_a_round_with_no_vote_is_pending():
    assert round_outcome({}) is RoundOutcome.PENDING


@pytest.mark.parametrize("recommendation", RECOMMENDATIONS)
@pytest.mark.parametrize("seat", SEATS)
def test_a_round_with_one_vote_is_pending_whatever_the_vote(seat, recommendation):
    assert round_outcome({seat: recommendation}) is RoundOutcome.PENDING


@pytest.mark.parametrize(("aus", "idn"), list(TWO_VOTES))
def test_two_votes_add_up_as_product_md_says(aus, idn):
    assert round_outcome({"AUS": aus, "IDN": idn}) is TWO_VOTES[aus, idn]


@pytest.mark.parametrize("recommendation", RECOMMENDATIONS)
@pytest.mark.parametrize("seat", SEATS)
def test_first_vote_of_a_round_keeps_the_proposal_in_co_manager_review(seat, recommendation):
    outcome = decide(facts(S.CO_MANAGER_REVIEW), CO_MANAGER_BY_SEAT[seat], "review",
                     recommendation=recommendation, comment="first look")
    assert outcome.to_state is S.CO_MANAGER_REVIEW
    assert not outcome.changed


@pytest.mark.parametrize(("first", "second"), list(TWO_VOTES))
@pytest.mark.parametrize("first_seat", SEATS)
def test_the_vote_that_completes_the_round_routes_the_proposal(first_seat, first, second):
    second_seat = other_seat(first_seat)
    proposal = facts(S.CO_MANAGER_REVIEW, votes={first_seat: first})
    outcome = decide(proposal, CO_MANAGER_BY_SEAT[second_seat], "review", recommendation=second, comment="")
    assert outcome.to_state is ROUND_LEADS_TO[TWO_VOTES[first, second]]


@pytest.mark.parametrize("first_seat", SEATS)
@pytest.mark.parametrize(("first", "second"), [
    ("revise", "endorse"), ("endorse", "revise"),
    ("revise", "decline"), ("decline", "revise"),
    ("revise", "revise"),
])
def test_any_revise_in_the_round_requests_a_revision(first_seat, first, second):
    proposal = facts(S.CO_MANAGER_REVIEW, votes={first_seat: first})
    outcome = decide(proposal, CO_MANAGER_BY_SEAT[other_seat(first_seat)], "review", recommendation=second)
    assert outcome.to_state is S.REVISION_REQUESTED


@pytest.mark.parametrize("first_seat", SEATS)
def test_both_declining_declines_the_proposal(first_seat):
    proposal = facts(S.CO_MANAGER_REVIEW, votes={first_seat: "decline"})
    outcome = decide(proposal, CO_MANAGER_BY_SEAT[other_seat(first_seat)], "review", recommendation="decline")
    assert outcome.to_state is S.DECLINED


@pytest.mark.parametrize("first_seat", SEATS)
@pytest.mark.parametrize(("first", "second"), [("endorse", "decline"), ("decline", "endorse")])
def test_a_split_round_goes_to_the_co_chairs_in_either_order(first_seat, first, second):
    proposal = facts(S.CO_MANAGER_REVIEW, votes={first_seat: first})
    outcome = decide(proposal, CO_MANAGER_BY_SEAT[other_seat(first_seat)], "review", recommendation=second)
    assert outcome.to_state is S.CO_CHAIR_GUIDANCE
    assert round_outcome({first_seat: first, other_seat(first_seat): second}) is RoundOutcome.SPLIT


@pytest.mark.parametrize("first_seat", SEATS)
def test_both_endorsing_keeps_the_proposal_in_co_manager_review(first_seat):
    proposal = facts(S.CO_MANAGER_REVIEW, votes={first_seat: "endorse"})
    outcome = decide(proposal, CO_MANAGER_BY_SEAT[other_seat(first_seat)], "review", recommendation="endorse")
    assert outcome.to_state is S.CO_MANAGER_REVIEW


def test_after_both_endorse_either_co_manager_may_open_consultation_or_refer_to_the_co_chairs():
    endorsed = facts(S.CO_MANAGER_REVIEW, votes={"AUS": "endorse", "IDN": "endorse"})
    for co_manager in CO_MANAGERS:
        assert set(available_actions(endorsed, co_manager)) == {"open_consultation", "refer_to_co_chairs"}
        opened = decide(endorsed, co_manager, "open_consultation",
                        stakeholders=["wg-tip@baliprocess.example"], due_date="2026-03-02")
        assert opened.to_state is S.STAKEHOLDER_CONSULTATION
        referred = decide(endorsed, co_manager, "refer_to_co_chairs", comment="straight to the Co-Chairs")
        assert referred.to_state is S.CO_CHAIR_GUIDANCE


@pytest.mark.parametrize("votes", [{}, {"AUS": "endorse"}, {"IDN": "endorse"}], ids=["no-vote", "AUS-endorsed", "IDN-endorsed"])
def test_open_consultation_and_refer_are_not_available_before_both_endorse(votes):
    proposal = facts(S.CO_MANAGER_REVIEW, votes=votes)
    for co_manager in CO_MANAGERS:
        available = available_actions(proposal, co_manager)
        assert "open_consultation" not in available
        assert "refer_to_co_chairs" not in available
        for action in ("open_consultation", "refer_to_co_chairs"):
            refused = assert_not_available(proposal, co_manager, action)
            assert "both co-managers must endorse" in str(refused)


def test_a_round_played_vote_by_vote_unlocks_consultation_only_on_the_second_endorsement():
    proposal = facts(S.CO_MANAGER_REVIEW)
    assert decide(proposal, CO_MANAGER_AUS, "review", recommendation="endorse").to_state is S.CO_MANAGER_REVIEW
    proposal = facts(S.CO_MANAGER_REVIEW, votes={"AUS": "endorse"})
    assert available_actions(proposal, CO_MANAGER_AUS) == []
    assert available_actions(proposal, CO_MANAGER_IDN) == ["review"]
    assert decide(proposal, CO_MANAGER_IDN, "review", recommendation="endorse").to_state is S.CO_MANAGER_REVIEW
    proposal = facts(S.CO_MANAGER_REVIEW, votes={"AUS": "endorse", "IDN": "endorse"})
    for co_manager in CO_MANAGERS:
        assert set(available_actions(proposal, co_manager)) == {"open_consultation", "refer_to_co_chairs"}


@pytest.mark.parametrize("second", RECOMMENDATIONS)
@pytest.mark.parametrize("first", RECOMMENDATIONS)
@pytest.mark.parametrize("seat", SEATS)
def test_a_co_manager_cannot_vote_twice_in_a_round(seat, first, second):
    proposal = facts(S.CO_MANAGER_REVIEW, votes={seat: first})
    co_manager = CO_MANAGER_BY_SEAT[seat]
    assert "review" not in available_actions(proposal, co_manager)
    refused = assert_not_available(proposal, co_manager, "review", recommendation=second)
    assert str(refused) == "you have already reviewed this proposal in this round"


def test_neither_co_manager_may_review_again_once_both_endorsed():
    endorsed = facts(S.CO_MANAGER_REVIEW, votes={"AUS": "endorse", "IDN": "endorse"})
    for co_manager in CO_MANAGERS:
        refused = assert_not_available(endorsed, co_manager, "review", recommendation="decline")
        assert "already reviewed" in str(refused)


@pytest.mark.parametrize("country", ["THA", "PHL", None])
def test_a_co_manager_without_an_aus_or_idn_seat_cannot_review(country):
    stray = Actor(Role.CO_MANAGER, user_id=13, country=country)
    proposal = facts(S.CO_MANAGER_REVIEW)
    assert available_actions(proposal, stray) == []
    refused = refusal(proposal, stray, "review", recommendation="endorse")
    assert isinstance(refused, ActionNotAvailable)
    assert refused.available == []


@pytest.mark.parametrize("country", ["THA", None])
def test_a_co_manager_without_a_seat_cannot_open_refer_or_close(country):
    stray = Actor(Role.CO_MANAGER, user_id=13, country=country)
    endorsed = facts(S.CO_MANAGER_REVIEW, votes={"AUS": "endorse", "IDN": "endorse"})
    consulting = facts(S.STAKEHOLDER_CONSULTATION, pending=BOTH_PENDING)
    assert available_actions(endorsed, stray) == []
    assert available_actions(consulting, stray) == []
    for proposal, action in ((endorsed, "open_consultation"), (endorsed, "refer_to_co_chairs"),
                             (consulting, "close_consultation")):
        assert isinstance(refusal(proposal, stray, action), ActionNotAvailable)


# --- 3. stakeholder consultation -----------------------------------------------------------

POSITIONS = ("support", "support_with_conditions", "concerns", "object")


@pytest.mark.parametrize("position", POSITIONS)
def test_a_response_while_others_are_pending_keeps_the_consultation_open(position):
    proposal = facts(S.STAKEHOLDER_CONSULTATION, pending=BOTH_PENDING)
    outcome = decide(proposal, STAKEHOLDER, "respond", position=position, comment="our view")
    assert outcome == Outcome(A.RESPOND, S.STAKEHOLDER_CONSULTATION, S.STAKEHOLDER_CONSULTATION)


@pytest.mark.parametrize("position", POSITIONS)
def test_the_last_response_moves_the_proposal_to_co_chair_guidance(position):
    proposal = facts(S.STAKEHOLDER_CONSULTATION, pending=[STAKEHOLDER_ID])
    outcome = decide(proposal, STAKEHOLDER, "respond", position=position, comment="our view")
    assert outcome.to_state is S.CO_CHAIR_GUIDANCE


def test_the_last_of_several_stakeholders_to_respond_moves_the_proposal_on():
    second = Actor(Role.STAKEHOLDER, user_id=OTHER_STAKEHOLDER_ID)
    first_response = decide(facts(S.STAKEHOLDER_CONSULTATION, pending=BOTH_PENDING), STAKEHOLDER,
                            "respond", position="concerns")
    assert first_response.to_state is S.STAKEHOLDER_CONSULTATION
    last_response = decide(facts(S.STAKEHOLDER_CONSULTATION, pending=[OTHER_STAKEHOLDER_ID]), second,
                           "respond", position="support")
    assert last_response.to_state is S.CO_CHAIR_GUIDANCE


def test_a_stakeholder_who_was_not_invited_cannot_respond():
    uninvited = Actor(Role.STAKEHOLDER, user_id=UNINVITED_STAKEHOLDER_ID)
    proposal = facts(S.STAKEHOLDER_CONSULTATION, pending=BOTH_PENDING)
    assert available_actions(proposal, uninvited) == []
    refused = assert_not_available(proposal, uninvited, "respond", position="support")
    assert refused.available == []
    assert str(refused) == "you have no open consultation on this proposal"


def test_a_stakeholder_who_already_responded_cannot_respond_again():
    proposal = facts(S.STAKEHOLDER_CONSULTATION, pending=[OTHER_STAKEHOLDER_ID])  # 41 has responded
    assert available_actions(proposal, STAKEHOLDER) == []
    refused = assert_not_available(proposal, STAKEHOLDER, "respond", position="object")
    assert refused.available == []
    assert str(refused) == "you have no open consultation on this proposal"


@pytest.mark.parametrize("pending", [BOTH_PENDING, (OTHER_STAKEHOLDER_ID,)], ids=["none-answered", "one-answered"])
def test_either_co_manager_may_close_the_consultation_into_co_chair_guidance(pending):
    proposal = facts(S.STAKEHOLDER_CONSULTATION, votes={"AUS": "endorse", "IDN": "endorse"}, pending=pending)
    for co_manager in CO_MANAGERS:
        # while someone is still to answer, an invitee who cannot may also be replaced
        assert available_actions(proposal, co_manager) == ["close_consultation", "replace_stakeholder"]
        outcome = decide(proposal, co_manager, "close_consultation", comment="closing early")
        assert outcome == Outcome(A.CLOSE_CONSULTATION, S.STAKEHOLDER_CONSULTATION, S.CO_CHAIR_GUIDANCE)
    answered = facts(S.STAKEHOLDER_CONSULTATION, votes={"AUS": "endorse", "IDN": "endorse"}, pending=())
    refused = assert_not_available(answered, CO_MANAGERS[0], "replace_stakeholder")
    assert "nobody to replace" in str(refused)


@pytest.mark.parametrize("actor", [OWNER, STAKEHOLDER, *CO_CHAIRS, ADMIN],
                         ids=["owner", "stakeholder", "co-chair-AUS", "co-chair-IDN", "admin"])
def test_only_a_co_manager_may_close_a_consultation(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.STAKEHOLDER_CONSULTATION, pending=BOTH_PENDING), actor, "close_consultation")


# --- 4. the co-chairs' guidance ------------------------------------------------------------

GUIDANCE_LEADS_TO = {
    "approve": S.APPROVED,
    "approve_with_conditions": S.APPROVED,
    "decline": S.DECLINED,
    "return_to_co_managers": S.CO_MANAGER_REVIEW,
}


@pytest.mark.parametrize("decision", list(GUIDANCE_LEADS_TO))
@pytest.mark.parametrize("co_chair", CO_CHAIRS, ids=["AUS", "IDN"])
def test_either_co_chair_gives_guidance_that_settles_the_proposal(co_chair, decision):
    proposal = MATRIX_FACTS[S.CO_CHAIR_GUIDANCE]
    extra = {"conditions": "Quarterly reports to the RSO."} if decision == "approve_with_conditions" else {}
    outcome = decide(proposal, co_chair, "give_guidance", decision=decision, comment="on behalf of both", **extra)
    assert outcome == Outcome(A.GIVE_GUIDANCE, S.CO_CHAIR_GUIDANCE, GUIDANCE_LEADS_TO[decision])


@pytest.mark.parametrize("decision", list(GUIDANCE_LEADS_TO))
@pytest.mark.parametrize("actor", [OWNER, OTHER_MEMBER_STATE, *CO_MANAGERS, STAKEHOLDER, ADMIN],
                         ids=["owner", "other-member-state", "co-manager-AUS", "co-manager-IDN", "stakeholder", "admin"])
def test_only_a_co_chair_may_give_guidance(actor, decision):
    with pytest.raises(NotPermitted):
        decide(MATRIX_FACTS[S.CO_CHAIR_GUIDANCE], actor, "give_guidance", decision=decision)


@pytest.mark.parametrize("state", [s for s in S if s is not S.CO_CHAIR_GUIDANCE])
def test_a_co_chair_cannot_give_guidance_outside_co_chair_guidance(state):
    for co_chair in CO_CHAIRS:
        refused = assert_not_available(MATRIX_FACTS[state], co_chair, "give_guidance", decision="approve")
        assert refused.available == []


# --- 5. final states accept nothing --------------------------------------------------------


@pytest.mark.parametrize("state", FINAL)
def test_a_final_state_offers_no_action_to_anyone(state):
    for actor in EVERYONE:
        assert available_actions(MATRIX_FACTS[state], actor) == []


@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("state", FINAL)
def test_a_final_state_refuses_every_action_from_everyone(state, action):
    for actor in EVERYONE:
        refused = refusal(MATRIX_FACTS[state], actor, action.value, **ARGUMENTS[action])
        if actor.role is ROLE_FOR_ACTION[action]:
            assert isinstance(refused, ActionNotAvailable)
            assert refused.available == []
            assert state.value in str(refused) and "final" in str(refused)
        else:
            assert isinstance(refused, NotPermitted)


# --- 6. withdraw ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", NOT_FINAL)
def test_the_owner_may_withdraw_from_every_state_that_is_not_final(state):
    assert "withdraw" in available_actions(MATRIX_FACTS[state], OWNER)
    outcome = decide(MATRIX_FACTS[state], OWNER, "withdraw", comment="no longer needed")
    assert outcome == Outcome(A.WITHDRAW, state, S.WITHDRAWN)


@pytest.mark.parametrize("state", NOT_FINAL)
def test_another_member_state_may_not_withdraw_the_proposal(state):
    assert available_actions(MATRIX_FACTS[state], OTHER_MEMBER_STATE) == []
    refused = assert_not_available(MATRIX_FACTS[state], OTHER_MEMBER_STATE, "withdraw", comment="")
    assert refused.available == []


@pytest.mark.parametrize("action", [A.SUBMIT, A.RESUBMIT, A.WITHDRAW])
@pytest.mark.parametrize("state", list(S))
def test_another_member_state_may_take_no_owner_action_in_any_state(state, action):
    refused = assert_not_available(MATRIX_FACTS[state], OTHER_MEMBER_STATE, action.value, **ARGUMENTS[action])
    assert refused.available == []


@pytest.mark.parametrize("actor", [*CO_MANAGERS, STAKEHOLDER, *CO_CHAIRS, ADMIN],
                         ids=["co-manager-AUS", "co-manager-IDN", "stakeholder", "co-chair-AUS", "co-chair-IDN", "admin"])
def test_only_a_member_state_role_may_withdraw(actor):
    for state in NOT_FINAL:
        with pytest.raises(NotPermitted):
            decide(MATRIX_FACTS[state], actor, "withdraw", comment="")


# --- 7. unknown actions --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["approve", "delete", "submit_proposal", "Submit", ""])
def test_an_action_that_does_not_exist_is_unknown_whoever_asks(name):
    for actor in (OWNER, CO_MANAGER_AUS, ADMIN):
        with pytest.raises(UnknownAction) as refused:
            decide(MATRIX_FACTS[S.DRAFT], actor, name)
        assert refused.value.action == name
        assert set(refused.value.actions) == {a.value for a in A}


# --- 8. the diagram ------------------------------------------------------------------------

# Every arrow of PRODUCT.md's table: (from, to, action). Staying put is an arrow too.
PRODUCT_EDGES = {
    ("draft", "co_manager_review", "submit"),
    ("co_manager_review", "co_manager_review", "review"),
    ("co_manager_review", "revision_requested", "review"),
    ("co_manager_review", "declined", "review"),
    ("co_manager_review", "co_chair_guidance", "review"),
    ("co_manager_review", "stakeholder_consultation", "open_consultation"),
    ("co_manager_review", "co_chair_guidance", "refer_to_co_chairs"),
    ("stakeholder_consultation", "stakeholder_consultation", "respond"),
    ("stakeholder_consultation", "co_chair_guidance", "respond"),
    ("stakeholder_consultation", "co_chair_guidance", "close_consultation"),
    ("stakeholder_consultation", "stakeholder_consultation", "replace_stakeholder"),  # issue 16: one invitee for another
    ("co_chair_guidance", "approved", "give_guidance"),
    ("co_chair_guidance", "declined", "give_guidance"),
    ("co_chair_guidance", "co_manager_review", "give_guidance"),
    ("revision_requested", "co_manager_review", "resubmit"),
    *{(s.value, "withdrawn", "withdraw") for s in NOT_FINAL},
}


@pytest.mark.parametrize("state", list(S))
def test_the_diagram_is_mermaid_with_exactly_the_current_state_marked_active(state):
    text = diagram(state)
    assert "stateDiagram-v2" in text
    assert ACTIVE.findall(text) == [state.value]
    for other in S:
        assert f'state "{other.value}" as {other.value}' in text


def test_the_diagram_accepts_the_state_by_name_and_forgets_the_previous_marking():
    assert ACTIVE.findall(diagram("draft")) == ["draft"]
    assert ACTIVE.findall(diagram("approved")) == ["approved"]
    assert ACTIVE.findall(diagram(S.DRAFT)) == ["draft"]


def test_the_diagram_draws_exactly_the_arrows_of_product_md():
    assert drawn_edges(diagram(S.DRAFT)) == PRODUCT_EDGES


def test_an_action_with_branches_needs_its_routing_argument_to_decide():
    facts = ProposalFacts(state=S.CO_MANAGER_REVIEW, member_state=OWNER_STATE)
    with pytest.raises(ValueError, match="recommendation"):
        decide(facts, CO_MANAGER_AUS, "review")
    with pytest.raises(ValueError, match="recommendation"):
        decide(facts, CO_MANAGER_AUS, "review", recommendation="maybe")


def test_the_system_may_close_a_consultation_by_itself_and_take_no_other_decision():
    from states.common import SYSTEM
    from states.proposal import ProposalFacts, ProposalState, decide as decide_
    consulting = ProposalFacts(state=ProposalState.STAKEHOLDER_CONSULTATION, member_state="THA",
                               pending_stakeholders=frozenset({41}))
    outcome = decide_(consulting, SYSTEM, "close_consultation")
    assert outcome.to_state is ProposalState.CO_CHAIR_GUIDANCE
    for action in ("refer_to_co_chairs", "review", "withdraw"):
        with pytest.raises(ActionRefused):
            decide_(consulting, SYSTEM, action, recommendation="endorse")
