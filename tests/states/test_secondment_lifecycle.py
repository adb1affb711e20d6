"""The secondment lifecycle of PRODUCT.md ("Roles", "Secondment lifecycle") on the pure state module.

Every expectation here is written out from PRODUCT.md, never read from the module's own
TRANSITIONS or ACTION_ROLES: a wrong table in `states/secondment.py` must make a test fail.
"""
from __future__ import annotations

import pytest

from states.common import ActionNotAvailable, ActionRefused, Actor, NotPermitted, Role, UnknownAction
from states.secondment import (
    Outcome,
    SecondmentAction,
    SecondmentFacts,
    SecondmentState,
    available_actions,
    decide,
    diagram,
)
from tests.states.mermaid import ACTIVE, drawn_edges

S, A = SecondmentState, SecondmentAction

FINAL = (S.COMPLETED, S.DECLINED, S.WITHDRAWN, S.TERMINATED)
NOT_FINAL = tuple(s for s in S if s not in FINAL)
BEFORE_ACTIVE = (S.DRAFT, S.UNDER_REVIEW, S.INFO_REQUESTED, S.ARRANGING, S.PRE_DEPLOYMENT)
FROM_ACTIVE_ON = (S.ACTIVE, S.CONCLUDING)

# PRODUCT.md's five pre-deployment checklist items, written out.
ITEMS = ("security_clearance", "visa", "travel", "insurance", "induction_plan")
ALL_TICKED = frozenset(ITEMS)

# --- the people ------------------------------------------------------------------------------

NOMINATING_STATE = "THA"

OWNER = Actor(Role.MEMBER_STATE, user_id=1, member_state=NOMINATING_STATE)
OTHER_MEMBER_STATE = Actor(Role.MEMBER_STATE, user_id=2, member_state="PHL")
CO_MANAGER_AUS = Actor(Role.CO_MANAGER, user_id=11, country="AUS")
CO_MANAGER_IDN = Actor(Role.CO_MANAGER, user_id=12, country="IDN")
CO_CHAIR_AUS = Actor(Role.CO_CHAIR, user_id=21, country="AUS")
CO_CHAIR_IDN = Actor(Role.CO_CHAIR, user_id=22, country="IDN")
STAKEHOLDER = Actor(Role.STAKEHOLDER, user_id=41)
ADMIN = Actor(Role.ADMIN, user_id=99)

CO_MANAGERS = (CO_MANAGER_AUS, CO_MANAGER_IDN)
CO_CHAIRS = (CO_CHAIR_AUS, CO_CHAIR_IDN)

ACTORS_BY_ROLE: dict[Role, tuple[Actor, ...]] = {
    Role.MEMBER_STATE: (OWNER, OTHER_MEMBER_STATE),
    Role.CO_MANAGER: CO_MANAGERS,
    Role.STAKEHOLDER: (STAKEHOLDER,),
    Role.CO_CHAIR: CO_CHAIRS,
    Role.ADMIN: (ADMIN,),
}
EVERYONE = (OWNER, OTHER_MEMBER_STATE, *CO_MANAGERS, STAKEHOLDER, *CO_CHAIRS, ADMIN)
NOT_A_MEMBER_STATE = (*CO_MANAGERS, STAKEHOLDER, *CO_CHAIRS, ADMIN)
NOT_A_CO_MANAGER = (OWNER, OTHER_MEMBER_STATE, STAKEHOLDER, *CO_CHAIRS, ADMIN)
NOT_A_MEMBER_STATE_IDS = ["co-manager-AUS", "co-manager-IDN", "stakeholder", "co-chair-AUS", "co-chair-IDN", "admin"]
NOT_A_CO_MANAGER_IDS = ["owner-THA", "member-state-PHL", "stakeholder", "co-chair-AUS", "co-chair-IDN", "admin"]

# --- PRODUCT.md, "Secondment lifecycle", written out by hand -------------------------------------

MS, CM = frozenset({Role.MEMBER_STATE}), frozenset({Role.CO_MANAGER})

# The "who" column: the roles that may ever take each action (anyone else: 403).
ROLES_FOR_ACTION: dict[SecondmentAction, frozenset[Role]] = {
    A.SUBMIT: MS,
    A.DECIDE: CM,
    A.RESUBMIT: MS,
    A.CONFIRM_ARRANGEMENT: CM,
    A.COMPLETE_ITEM: MS | CM,
    A.START: CM,
    A.REQUEST_EXTENSION: MS,
    A.DECIDE_EXTENSION: CM,
    A.BEGIN_HANDOVER: CM,
    A.SUBMIT_FINAL_REPORT: MS,
    A.COMPLETE: CM,
    A.WITHDRAW: MS,
    A.TERMINATE: CM,
}

# Realistic arguments for each action, as a client would send them; an action with several
# variants (its routing argument, or a decision) is tried with each.
ARGUMENTS: dict[SecondmentAction, list[dict]] = {
    A.SUBMIT: [{}],
    A.DECIDE: [{"decision": d, "comment": "Considered by the Co-Managers."}
               for d in ("accept", "decline", "request_info")],
    A.RESUBMIT: [{"comment": "Position description attached."}],
    A.CONFIRM_ARRANGEMENT: [{"arrangement_signed_on": "2026-02-02", "start_date": "2026-03-02",
                             "end_date": "2026-08-31"}],
    A.COMPLETE_ITEM: [{"item": item} for item in ITEMS],
    A.START: [{}],
    A.REQUEST_EXTENSION: [{"new_end_date": "2026-10-30", "justification": "The project runs longer."}],
    A.DECIDE_EXTENSION: [{"decision": d, "comment": "Considered."} for d in ("approve", "decline")],
    A.BEGIN_HANDOVER: [{}],
    A.SUBMIT_FINAL_REPORT: [{"report": "What the secondee achieved at the RSO."}],
    A.COMPLETE: [{}],
    A.WITHDRAW: [{"comment": "The nominee is no longer available."}],
    A.TERMINATE: [{"comment": "Ended early by agreement."}],
}

# Where each (state, action) leads for its roles (the owner, a co-manager), with facts that make
# it otherwise possible. An absent pair is not available in that state (409).
LEADS_TO: dict[tuple[SecondmentState, SecondmentAction], SecondmentState] = {
    (S.DRAFT, A.SUBMIT): S.UNDER_REVIEW,
    (S.DRAFT, A.WITHDRAW): S.WITHDRAWN,
    (S.UNDER_REVIEW, A.DECIDE): None,  # depends on the decision: see DECISION_LEADS_TO
    (S.UNDER_REVIEW, A.WITHDRAW): S.WITHDRAWN,
    (S.INFO_REQUESTED, A.RESUBMIT): S.UNDER_REVIEW,
    (S.INFO_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.ARRANGING, A.CONFIRM_ARRANGEMENT): S.PRE_DEPLOYMENT,
    (S.ARRANGING, A.WITHDRAW): S.WITHDRAWN,
    (S.PRE_DEPLOYMENT, A.COMPLETE_ITEM): S.PRE_DEPLOYMENT,
    (S.PRE_DEPLOYMENT, A.START): S.ACTIVE,
    (S.PRE_DEPLOYMENT, A.WITHDRAW): S.WITHDRAWN,
    (S.ACTIVE, A.REQUEST_EXTENSION): S.ACTIVE,
    (S.ACTIVE, A.DECIDE_EXTENSION): S.ACTIVE,
    (S.ACTIVE, A.BEGIN_HANDOVER): S.CONCLUDING,
    (S.ACTIVE, A.TERMINATE): S.TERMINATED,
    (S.CONCLUDING, A.SUBMIT_FINAL_REPORT): S.CONCLUDING,
    (S.CONCLUDING, A.COMPLETE): S.COMPLETED,
    (S.CONCLUDING, A.TERMINATE): S.TERMINATED,
}

DECISION_LEADS_TO = {"accept": S.ARRANGING, "decline": S.DECLINED, "request_info": S.INFO_REQUESTED}


def leads_to(state: SecondmentState, action: SecondmentAction, arguments: dict) -> SecondmentState:
    if action is A.DECIDE:
        return DECISION_LEADS_TO[arguments["decision"]]
    return LEADS_TO[state, action]


def facts(state: SecondmentState, done=(), extension_pending=False, final_report_in=False) -> SecondmentFacts:
    return SecondmentFacts(state=state, member_state=NOMINATING_STATE, checklist_done=frozenset(done),
                           extension_pending=extension_pending, final_report_in=final_report_in)


def facts_for(state: SecondmentState, action: SecondmentAction) -> SecondmentFacts:
    """A realistic secondment in `state` whose facts would let `action` through, if the state and
    the role allow it: checklist complete for start (none ticked otherwise, so that every item
    can be ticked), an extension pending for decide_extension, the final report in for complete."""
    return facts(state,
                 done=ALL_TICKED if action is A.START else (),
                 extension_pending=action is A.DECIDE_EXTENSION,
                 final_report_in=action is A.COMPLETE)


def expected_available(f: SecondmentFacts, actor: Actor) -> set[str]:
    """PRODUCT.md's table, read for one actor and one secondment."""
    owner = actor.role is Role.MEMBER_STATE and actor.member_state == f.member_state
    co_manager = actor.role is Role.CO_MANAGER and actor.country in ("AUS", "IDN")
    open_items = set(ITEMS) - set(f.checklist_done)
    found: set[str] = set()
    if owner:
        found |= {
            S.DRAFT: {"submit", "withdraw"},
            S.UNDER_REVIEW: {"withdraw"},
            S.INFO_REQUESTED: {"resubmit", "withdraw"},
            S.ARRANGING: {"withdraw"},
            S.PRE_DEPLOYMENT: {"withdraw"} | ({"complete_item"} if open_items else set()),
            S.ACTIVE: set() if f.extension_pending else {"request_extension"},
            S.CONCLUDING: set() if f.final_report_in else {"submit_final_report"},
        }.get(f.state, set())
    if co_manager:
        found |= {
            S.UNDER_REVIEW: {"decide"},
            S.ARRANGING: {"confirm_arrangement"},
            S.PRE_DEPLOYMENT: {"complete_item"} if open_items else {"start"},
            S.ACTIVE: {"begin_handover", "terminate"} | ({"decide_extension"} if f.extension_pending else set()),
            S.CONCLUDING: {"terminate"} | ({"complete"} if f.final_report_in else set()),
        }.get(f.state, set())
    return found


def refusal(facts_: SecondmentFacts, actor: Actor, action: str, **arguments) -> ActionRefused:
    with pytest.raises(ActionRefused) as refused:
        decide(facts_, actor, action, **arguments)
    return refused.value


def assert_not_available(facts_: SecondmentFacts, actor: Actor, action: str, **arguments) -> ActionNotAvailable:
    with pytest.raises(ActionNotAvailable) as refused:
        decide(facts_, actor, action, **arguments)
    assert refused.value.action == str(action)
    assert refused.value.state == facts_.state.value
    assert refused.value.available == available_actions(facts_, actor)
    return refused.value


def is_owner(actor: Actor) -> bool:
    return actor.role is Role.MEMBER_STATE and actor.member_state == NOMINATING_STATE


# --- 1. every state x every action x every role ---------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("state", list(S))
def test_every_state_action_and_role_is_decided_as_product_md_says(state, action, role):
    secondment = facts_for(state, action)
    for actor in ACTORS_BY_ROLE[role]:
        for arguments in ARGUMENTS[action]:
            if role not in ROLES_FOR_ACTION[action]:
                with pytest.raises(NotPermitted) as refused:
                    decide(secondment, actor, action.value, **arguments)
                assert (refused.value.action, refused.value.role) == (action.value, role.value)
            elif (state, action) in LEADS_TO and (role is Role.CO_MANAGER or is_owner(actor)):
                outcome = decide(secondment, actor, action.value, **arguments)
                assert outcome == Outcome(action, state, leads_to(state, action, arguments))
            else:
                refused = assert_not_available(secondment, actor, action.value, **arguments)
                assert set(refused.available) == expected_available(secondment, actor)


@pytest.mark.parametrize("extension_pending", [False, True], ids=["no-extension", "extension-pending"])
@pytest.mark.parametrize("final_report_in", [False, True], ids=["no-report", "report-in"])
@pytest.mark.parametrize("done", [(), ITEMS[:2], ALL_TICKED], ids=["none-ticked", "two-ticked", "all-ticked"])
@pytest.mark.parametrize("state", list(S))
def test_available_actions_list_exactly_what_each_actor_may_do(state, done, final_report_in, extension_pending):
    secondment = facts(state, done, extension_pending, final_report_in)
    for actor in EVERYONE:
        available = available_actions(secondment, actor)
        assert len(available) == len(set(available)), "an action is listed twice"
        assert set(available) == expected_available(secondment, actor)


def test_admin_takes_no_workflow_decision_in_any_state():
    for state in S:
        for action in A:
            secondment = facts_for(state, action)
            assert available_actions(secondment, ADMIN) == []
            for arguments in ARGUMENTS[action]:
                with pytest.raises(NotPermitted):
                    decide(secondment, ADMIN, action.value, **arguments)


@pytest.mark.parametrize("state", list(S))
def test_another_member_state_may_take_no_action_on_the_nomination(state):
    for action in A:
        secondment = facts_for(state, action)
        assert available_actions(secondment, OTHER_MEMBER_STATE) == []
        if Role.MEMBER_STATE not in ROLES_FOR_ACTION[action]:
            continue
        for arguments in ARGUMENTS[action]:
            refused = assert_not_available(secondment, OTHER_MEMBER_STATE, action.value, **arguments)
            assert refused.available == []


@pytest.mark.parametrize("country", ["THA", "PHL", None])
def test_a_co_manager_without_an_aus_or_idn_seat_may_take_no_action(country):
    stray = Actor(Role.CO_MANAGER, user_id=13, country=country)
    for state in S:
        for action in A:
            secondment = facts_for(state, action)
            assert available_actions(secondment, stray) == []
            if Role.CO_MANAGER not in ROLES_FOR_ACTION[action]:
                continue
            for arguments in ARGUMENTS[action]:
                assert assert_not_available(secondment, stray, action.value, **arguments).available == []


@pytest.mark.parametrize("name", ["approve", "nominate", "extend", "Submit", ""])
def test_an_action_that_does_not_exist_is_unknown_whoever_asks(name):
    for actor in (OWNER, CO_MANAGER_AUS, ADMIN):
        with pytest.raises(UnknownAction) as refused:
            decide(facts(S.DRAFT), actor, name)
        assert refused.value.action == name
        assert set(refused.value.actions) == {a.value for a in A}


# --- 2. the pre-deployment checklist ----------------------------------------------------------


@pytest.mark.parametrize("missing", ITEMS)
def test_start_is_refused_while_one_checklist_item_is_open(missing):
    secondment = facts(S.PRE_DEPLOYMENT, done=ALL_TICKED - {missing})
    for co_manager in CO_MANAGERS:
        assert "start" not in available_actions(secondment, co_manager)
        refused = assert_not_available(secondment, co_manager, "start")
        assert set(refused.available) == {"complete_item"}
        assert missing in refused.reason
        assert missing in str(refused)
        for ticked in ALL_TICKED - {missing}:
            assert ticked not in refused.reason


def test_start_names_every_open_item_when_none_is_ticked():
    refused = assert_not_available(facts(S.PRE_DEPLOYMENT), CO_MANAGER_AUS, "start")
    for item in ITEMS:
        assert item in refused.reason


@pytest.mark.parametrize("ticked", [ITEMS[:1], ITEMS[1:3], ITEMS[::2]], ids=["one", "two", "three"])
def test_start_names_exactly_the_items_still_open(ticked):
    refused = assert_not_available(facts(S.PRE_DEPLOYMENT, done=ticked), CO_MANAGER_IDN, "start")
    for item in ITEMS:
        assert (item in refused.reason) is (item not in ticked)


def test_start_is_allowed_once_all_five_items_are_ticked():
    secondment = facts(S.PRE_DEPLOYMENT, done=ALL_TICKED)
    for co_manager in CO_MANAGERS:
        assert "start" in available_actions(secondment, co_manager)
        assert decide(secondment, co_manager, "start") == Outcome(A.START, S.PRE_DEPLOYMENT, S.ACTIVE)


@pytest.mark.parametrize("item", ITEMS)
@pytest.mark.parametrize("actor", [OWNER, *CO_MANAGERS], ids=["owner-THA", "co-manager-AUS", "co-manager-IDN"])
def test_the_member_state_or_a_co_manager_ticks_an_open_item(actor, item):
    for done in ((), ALL_TICKED - {item}):  # the first item ticked, and the last one
        secondment = facts(S.PRE_DEPLOYMENT, done=done)
        assert "complete_item" in available_actions(secondment, actor)
        outcome = decide(secondment, actor, "complete_item", item=item)
        assert outcome == Outcome(A.COMPLETE_ITEM, S.PRE_DEPLOYMENT, S.PRE_DEPLOYMENT)
        assert not outcome.changed


@pytest.mark.parametrize("item", ITEMS)
@pytest.mark.parametrize("actor", [OWNER, *CO_MANAGERS], ids=["owner-THA", "co-manager-AUS", "co-manager-IDN"])
def test_an_item_already_ticked_is_refused(actor, item):
    secondment = facts(S.PRE_DEPLOYMENT, done={item})
    refused = assert_not_available(secondment, actor, "complete_item", item=item)
    assert "complete_item" in refused.available  # the other four are still open
    assert "already ticked" in refused.reason


@pytest.mark.parametrize("actor", [OWNER, *CO_MANAGERS], ids=["owner-THA", "co-manager-AUS", "co-manager-IDN"])
def test_once_every_item_is_ticked_complete_item_is_no_longer_available(actor):
    secondment = facts(S.PRE_DEPLOYMENT, done=ALL_TICKED)
    assert "complete_item" not in available_actions(secondment, actor)
    for item in ITEMS:
        refused = assert_not_available(secondment, actor, "complete_item", item=item)
        assert "complete_item" not in refused.available


@pytest.mark.parametrize("item", ITEMS)
def test_another_member_state_may_not_tick_an_item(item):
    refused = assert_not_available(facts(S.PRE_DEPLOYMENT), OTHER_MEMBER_STATE, "complete_item", item=item)
    assert refused.available == []


@pytest.mark.parametrize("actor", [STAKEHOLDER, *CO_CHAIRS, ADMIN], ids=["stakeholder", "co-chair-AUS", "co-chair-IDN", "admin"])
def test_only_a_member_state_or_a_co_manager_may_tick_an_item(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.PRE_DEPLOYMENT), actor, "complete_item", item="visa")


@pytest.mark.parametrize("arguments", [{}, {"item": "passport"}, {"item": ""}, {"item": None}],
                         ids=["missing", "unknown", "empty", "none"])
def test_complete_item_needs_one_of_the_five_items(arguments):
    for actor in (OWNER, CO_MANAGER_AUS):
        with pytest.raises(ValueError, match="item"):
            decide(facts(S.PRE_DEPLOYMENT), actor, "complete_item", **arguments)


def test_the_checklist_ticked_item_by_item_unlocks_start_only_at_the_last_item():
    done: set[str] = set()
    for n, item in enumerate(ITEMS):
        secondment = facts(S.PRE_DEPLOYMENT, done=done)
        assert set(available_actions(secondment, CO_MANAGER_AUS)) == {"complete_item"}
        assert set(available_actions(secondment, OWNER)) == {"complete_item", "withdraw"}
        actor = OWNER if n % 2 else CO_MANAGER_IDN
        assert decide(secondment, actor, "complete_item", item=item).to_state is S.PRE_DEPLOYMENT
        done.add(item)
    secondment = facts(S.PRE_DEPLOYMENT, done=done)
    assert set(available_actions(secondment, CO_MANAGER_AUS)) == {"start"}
    assert set(available_actions(secondment, OWNER)) == {"withdraw"}


# --- 3. extensions -------------------------------------------------------------------------


def test_the_nominating_state_requests_an_extension_when_none_is_pending():
    secondment = facts(S.ACTIVE, done=ALL_TICKED)
    assert available_actions(secondment, OWNER) == ["request_extension"]
    outcome = decide(secondment, OWNER, "request_extension", **ARGUMENTS[A.REQUEST_EXTENSION][0])
    assert outcome == Outcome(A.REQUEST_EXTENSION, S.ACTIVE, S.ACTIVE)
    assert not outcome.changed


def test_a_second_extension_request_is_refused_while_one_is_pending():
    secondment = facts(S.ACTIVE, done=ALL_TICKED, extension_pending=True)
    assert available_actions(secondment, OWNER) == []
    refused = assert_not_available(secondment, OWNER, "request_extension", **ARGUMENTS[A.REQUEST_EXTENSION][0])
    assert refused.available == []
    assert "already waiting" in refused.reason


def test_another_member_state_may_not_request_an_extension():
    refused = assert_not_available(facts(S.ACTIVE), OTHER_MEMBER_STATE, "request_extension",
                                   **ARGUMENTS[A.REQUEST_EXTENSION][0])
    assert refused.available == []


@pytest.mark.parametrize("decision", ["approve", "decline"])
@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_a_co_manager_decides_a_pending_extension_and_the_secondment_stays_active(co_manager, decision):
    secondment = facts(S.ACTIVE, done=ALL_TICKED, extension_pending=True)
    assert "decide_extension" in available_actions(secondment, co_manager)
    outcome = decide(secondment, co_manager, "decide_extension", decision=decision, comment="considered")
    assert outcome == Outcome(A.DECIDE_EXTENSION, S.ACTIVE, S.ACTIVE)


@pytest.mark.parametrize("decision", ["approve", "decline"])
@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_no_extension_can_be_decided_when_none_was_requested(co_manager, decision):
    secondment = facts(S.ACTIVE, done=ALL_TICKED)
    assert set(available_actions(secondment, co_manager)) == {"begin_handover", "terminate"}
    refused = assert_not_available(secondment, co_manager, "decide_extension", decision=decision)
    assert set(refused.available) == {"begin_handover", "terminate"}
    assert "no extension" in refused.reason


@pytest.mark.parametrize("actor", NOT_A_CO_MANAGER, ids=NOT_A_CO_MANAGER_IDS)
def test_only_a_co_manager_may_decide_an_extension(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.ACTIVE, extension_pending=True), actor, "decide_extension", decision="approve")


@pytest.mark.parametrize("actor", NOT_A_MEMBER_STATE, ids=NOT_A_MEMBER_STATE_IDS)
def test_only_a_member_state_may_request_an_extension(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.ACTIVE), actor, "request_extension", **ARGUMENTS[A.REQUEST_EXTENSION][0])


@pytest.mark.parametrize("state", [s for s in S if s is not S.ACTIVE])
def test_extensions_are_only_for_an_active_secondment(state):
    for pending in (False, True):
        secondment = facts(state, done=ALL_TICKED, extension_pending=pending)
        refused = assert_not_available(secondment, OWNER, "request_extension", **ARGUMENTS[A.REQUEST_EXTENSION][0])
        assert "request_extension" not in refused.available
        for co_manager in CO_MANAGERS:
            refused = assert_not_available(secondment, co_manager, "decide_extension", decision="approve")
            assert "decide_extension" not in refused.available


# --- 4. the final report ---------------------------------------------------------------------


def test_the_nominating_state_submits_the_final_report_once():
    before = facts(S.CONCLUDING, done=ALL_TICKED)
    assert available_actions(before, OWNER) == ["submit_final_report"]
    outcome = decide(before, OWNER, "submit_final_report", report="What was achieved.")
    assert outcome == Outcome(A.SUBMIT_FINAL_REPORT, S.CONCLUDING, S.CONCLUDING)
    after = facts(S.CONCLUDING, done=ALL_TICKED, final_report_in=True)
    assert available_actions(after, OWNER) == []
    refused = assert_not_available(after, OWNER, "submit_final_report", report="Again.")
    assert refused.available == []
    assert "already been submitted" in refused.reason


@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_complete_only_after_the_final_report(co_manager):
    before = facts(S.CONCLUDING, done=ALL_TICKED)
    assert set(available_actions(before, co_manager)) == {"terminate"}
    refused = assert_not_available(before, co_manager, "complete")
    assert set(refused.available) == {"terminate"}
    assert "final report" in refused.reason
    after = facts(S.CONCLUDING, done=ALL_TICKED, final_report_in=True)
    assert set(available_actions(after, co_manager)) == {"complete", "terminate"}
    assert decide(after, co_manager, "complete") == Outcome(A.COMPLETE, S.CONCLUDING, S.COMPLETED)


def test_another_member_state_may_not_submit_the_final_report():
    refused = assert_not_available(facts(S.CONCLUDING), OTHER_MEMBER_STATE, "submit_final_report", report="x")
    assert refused.available == []


@pytest.mark.parametrize("actor", NOT_A_MEMBER_STATE, ids=NOT_A_MEMBER_STATE_IDS)
def test_only_a_member_state_may_submit_the_final_report(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.CONCLUDING), actor, "submit_final_report", report="x")


@pytest.mark.parametrize("actor", NOT_A_CO_MANAGER, ids=NOT_A_CO_MANAGER_IDS)
def test_only_a_co_manager_may_complete(actor):
    with pytest.raises(NotPermitted):
        decide(facts(S.CONCLUDING, final_report_in=True), actor, "complete")


@pytest.mark.parametrize("state", [s for s in S if s is not S.CONCLUDING])
def test_the_final_report_and_completion_belong_to_concluding(state):
    for report_in in (False, True):
        secondment = facts(state, done=ALL_TICKED, final_report_in=report_in)
        assert_not_available(secondment, OWNER, "submit_final_report", report="x")
        for co_manager in CO_MANAGERS:
            assert_not_available(secondment, co_manager, "complete")


@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_a_co_manager_begins_the_handover_of_an_active_secondment(co_manager):
    for pending in (False, True):
        secondment = facts(S.ACTIVE, done=ALL_TICKED, extension_pending=pending)
        outcome = decide(secondment, co_manager, "begin_handover")
        assert outcome == Outcome(A.BEGIN_HANDOVER, S.ACTIVE, S.CONCLUDING)


# --- 5. final states accept nothing --------------------------------------------------------


@pytest.mark.parametrize("state", FINAL)
def test_a_final_state_offers_no_action_to_anyone(state):
    for done in ((), ALL_TICKED):
        for pending in (False, True):
            for report_in in (False, True):
                secondment = facts(state, done, pending, report_in)
                for actor in EVERYONE:
                    assert available_actions(secondment, actor) == []


@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("state", FINAL)
def test_a_final_state_refuses_every_action_from_everyone(state, action):
    secondment = facts_for(state, action)
    for actor in EVERYONE:
        for arguments in ARGUMENTS[action]:
            refused = refusal(secondment, actor, action.value, **arguments)
            if actor.role in ROLES_FOR_ACTION[action]:
                assert isinstance(refused, ActionNotAvailable)
                assert refused.available == []
                assert state.value in str(refused) and "final" in str(refused)
            else:
                assert isinstance(refused, NotPermitted)


# --- 6. withdraw and terminate ---------------------------------------------------------------


@pytest.mark.parametrize("state", BEFORE_ACTIVE)
def test_the_nominating_state_may_withdraw_before_the_secondment_is_active(state):
    for done in ((), ALL_TICKED):
        secondment = facts(state, done=done)
        assert "withdraw" in available_actions(secondment, OWNER)
        outcome = decide(secondment, OWNER, "withdraw", comment="The nominee is no longer available.")
        assert outcome == Outcome(A.WITHDRAW, state, S.WITHDRAWN)


@pytest.mark.parametrize("state", [s for s in S if s not in BEFORE_ACTIVE])
def test_no_withdrawal_once_the_secondment_is_active(state):
    for pending in (False, True):
        for report_in in (False, True):
            secondment = facts(state, done=ALL_TICKED, extension_pending=pending, final_report_in=report_in)
            assert "withdraw" not in available_actions(secondment, OWNER)
            refused = assert_not_available(secondment, OWNER, "withdraw", comment="too late")
            assert "withdraw" not in refused.available


@pytest.mark.parametrize("state", list(S))
def test_another_member_state_may_not_withdraw_the_nomination(state):
    refused = assert_not_available(facts(state), OTHER_MEMBER_STATE, "withdraw", comment="")
    assert refused.available == []


@pytest.mark.parametrize("actor", NOT_A_MEMBER_STATE, ids=NOT_A_MEMBER_STATE_IDS)
def test_only_a_member_state_role_may_withdraw(actor):
    for state in S:
        with pytest.raises(NotPermitted):
            decide(facts(state), actor, "withdraw", comment="")


@pytest.mark.parametrize("state", FROM_ACTIVE_ON)
@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_a_co_manager_may_terminate_an_active_or_concluding_secondment(co_manager, state):
    for pending in (False, True):
        for report_in in (False, True):
            secondment = facts(state, done=ALL_TICKED, extension_pending=pending, final_report_in=report_in)
            assert "terminate" in available_actions(secondment, co_manager)
            outcome = decide(secondment, co_manager, "terminate", comment="Ended early by agreement.")
            assert outcome == Outcome(A.TERMINATE, state, S.TERMINATED)


@pytest.mark.parametrize("state", [s for s in S if s not in FROM_ACTIVE_ON])
def test_no_termination_outside_active_and_concluding(state):
    for done in ((), ALL_TICKED):
        secondment = facts(state, done=done)
        for co_manager in CO_MANAGERS:
            assert "terminate" not in available_actions(secondment, co_manager)
            refused = assert_not_available(secondment, co_manager, "terminate", comment="")
            assert "terminate" not in refused.available


@pytest.mark.parametrize("actor", NOT_A_CO_MANAGER, ids=NOT_A_CO_MANAGER_IDS)
def test_only_a_co_manager_may_terminate(actor):
    for state in S:
        with pytest.raises(NotPermitted):
            decide(facts(state), actor, "terminate", comment="")


# --- 7. the co-managers' decision on the nomination --------------------------------------------


@pytest.mark.parametrize("decision", list(DECISION_LEADS_TO))
@pytest.mark.parametrize("co_manager", CO_MANAGERS, ids=["AUS", "IDN"])
def test_either_co_manager_decides_the_nomination(co_manager, decision):
    secondment = facts(S.UNDER_REVIEW)
    assert available_actions(secondment, co_manager) == ["decide"]
    outcome = decide(secondment, co_manager, "decide", decision=decision, comment="considered")
    assert outcome == Outcome(A.DECIDE, S.UNDER_REVIEW, DECISION_LEADS_TO[decision])
    assert outcome.changed


@pytest.mark.parametrize("arguments", [{}, {"comment": "no decision"}, {"decision": "approve"},
                                       {"decision": "ACCEPT"}, {"decision": ""}, {"decision": None}],
                         ids=["missing", "comment-only", "unknown", "wrong-case", "empty", "none"])
def test_decide_needs_one_of_accept_decline_or_request_info(arguments):
    for co_manager in CO_MANAGERS:
        with pytest.raises(ValueError, match="decision"):
            decide(facts(S.UNDER_REVIEW), co_manager, "decide", **arguments)


@pytest.mark.parametrize("actor", NOT_A_CO_MANAGER, ids=NOT_A_CO_MANAGER_IDS)
def test_only_a_co_manager_may_decide_the_nomination(actor):
    for decision in DECISION_LEADS_TO:
        with pytest.raises(NotPermitted):
            decide(facts(S.UNDER_REVIEW), actor, "decide", decision=decision)


def test_a_nomination_sent_back_for_information_is_resubmitted_into_review():
    asked = decide(facts(S.UNDER_REVIEW), CO_MANAGER_AUS, "decide", decision="request_info")
    assert asked.to_state is S.INFO_REQUESTED
    assert available_actions(facts(S.INFO_REQUESTED), CO_MANAGER_AUS) == []
    assert set(available_actions(facts(S.INFO_REQUESTED), OWNER)) == {"resubmit", "withdraw"}
    again = decide(facts(S.INFO_REQUESTED), OWNER, "resubmit", comment="Position description attached.")
    assert again == Outcome(A.RESUBMIT, S.INFO_REQUESTED, S.UNDER_REVIEW)


# --- 8. the diagram ------------------------------------------------------------------------

# Every arrow of PRODUCT.md's table: (from, to, action). Staying put is an arrow too.
PRODUCT_EDGES = {
    ("draft", "under_review", "submit"),
    ("under_review", "arranging", "decide"),
    ("under_review", "declined", "decide"),
    ("under_review", "info_requested", "decide"),
    ("info_requested", "under_review", "resubmit"),
    ("arranging", "pre_deployment", "confirm_arrangement"),
    ("pre_deployment", "pre_deployment", "complete_item"),
    ("pre_deployment", "active", "start"),
    ("active", "active", "request_extension"),
    ("active", "active", "decide_extension"),
    ("active", "concluding", "begin_handover"),
    ("concluding", "concluding", "submit_final_report"),
    ("concluding", "completed", "complete"),
    *{(s.value, "withdrawn", "withdraw") for s in BEFORE_ACTIVE},
    *{(s.value, "terminated", "terminate") for s in FROM_ACTIVE_ON},
}


@pytest.mark.parametrize("state", list(S))
def test_the_diagram_is_mermaid_with_exactly_the_current_state_marked_active(state):
    text = diagram(state)
    assert "stateDiagram-v2" in text
    assert ACTIVE.findall(text) == [state.value]
    assert f"class {state.value} s_active" in text
    for other in S:
        assert f'state "{other.value}" as {other.value}' in text
        if other is not state:
            assert f"class {other.value} s_active" not in text


def test_the_diagram_accepts_the_state_by_name_and_forgets_the_previous_marking():
    assert ACTIVE.findall(diagram("draft")) == ["draft"]
    assert ACTIVE.findall(diagram("terminated")) == ["terminated"]
    assert ACTIVE.findall(diagram(S.PRE_DEPLOYMENT)) == ["pre_deployment"]


def test_the_diagram_draws_exactly_the_arrows_of_product_md():
    assert drawn_edges(diagram(S.DRAFT)) == PRODUCT_EDGES


def test_refusal_reasons_do_not_tell_an_outsider_false_facts():
    from states.secondment import SecondmentFacts as F
    phl = Actor(Role.MEMBER_STATE, user_id=7, member_state="PHL")
    active = F(state=SecondmentState.ACTIVE, member_state="THA")
    with pytest.raises(ActionNotAvailable) as refused:
        decide(active, phl, "request_extension", new_end_date=None)
    assert "already waiting" not in str(refused.value)


def test_an_extension_decision_must_be_approve_or_decline():
    from states.secondment import SecondmentFacts as F
    pending = F(state=SecondmentState.ACTIVE, member_state="THA", extension_pending=True)
    with pytest.raises(ValueError, match="decision"):
        decide(pending, Actor(Role.CO_MANAGER, user_id=3, country="AUS"), "decide_extension", decision="maybe")


def test_the_system_may_begin_a_handover_by_itself_and_take_no_other_decision():
    from states.common import SYSTEM
    active = facts(S.ACTIVE, ALL_TICKED, False, False)
    assert decide(active, SYSTEM, "begin_handover") == Outcome(A.BEGIN_HANDOVER, S.ACTIVE, S.CONCLUDING)
    for action in (A.TERMINATE, A.DECIDE_EXTENSION, A.COMPLETE):
        with pytest.raises(NotPermitted, match="a system may not"):
            decide(active, SYSTEM, action.value, decision="approve")
    assert_not_available(facts(S.CONCLUDING, ALL_TICKED, False, False), SYSTEM, "begin_handover")
