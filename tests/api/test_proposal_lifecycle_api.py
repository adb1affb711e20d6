"""The proposal lifecycle over HTTP, as the people in each role live it."""
from __future__ import annotations

import pytest
import re
from datetime import date, timedelta

from tests.conftest import ROSTER, TH

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others


def states_of(api, who="cm_aus"):
    return {p["reference"]: p["state"] for p in api.get(who, "/proposals").json()}


def history_actions(api, ref, who="tha"):
    return [(e["action"], e["from_state"], e["to_state"]) for e in api.get(who, f"/proposals/{ref}/history").json()]


def test_a_member_state_drafts_a_proposal_with_a_reference_and_sees_what_it_can_do(api):
    p = api.create()
    year = api.clock.today().year
    assert re.fullmatch(rf"RSO-P-{year}-0001", p["reference"])
    assert p["state"] == "draft" and p["version"] == 1 and p["round"] == 0
    assert p["available_actions"] == ["submit", "withdraw"]
    assert p["budget"] == {"amount": "120000.00", "currency": "USD"}
    assert api.create()["reference"].endswith("-0002")
    assert history_actions(api, p["reference"]) == [("create", None, "draft")]


def test_submitting_opens_one_review_task_per_co_manager_in_their_inboxes(api):
    p = api.create()
    p = api.act("tha", p["id"], "submit")
    assert p["state"] == "co_manager_review" and p["round"] == 1
    assert sorted(t["assignee"] for t in p["tasks"]) == ["co-manager (AUS)", "co-manager (IDN)"]
    for who in ("cm_aus", "cm_idn"):
        inbox = api.get(who, "/tasks").json()
        assert [(t["kind"], t["reference"]) for t in inbox] == [("review", p["reference"])]
        assert inbox[0]["overdue"] is False
    # Ten business days from the service's today in Bangkok, in Thailand's calendar: two weeks
    # at the least, more around public holidays.
    due = date.fromisoformat(p["tasks"][0]["due_date"])
    today = api.clock.today()
    assert due == TH.add_business_days(today, 10) and TH.is_business_day(due)
    assert TH.business_days_between(today, due) == 10 and (due - today).days >= 14
    assert api.get("chair_aus", "/tasks").json() == []


def test_both_endorse_then_consultation_then_responses_then_co_chair_approves_with_conditions(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    after_first = api.act("cm_aus", ref, "review", recommendation="endorse")
    assert after_first["state"] == "co_manager_review"
    assert after_first["available_actions"] == []  # the AUS seat has voted; IDN has not
    assert api.get("cm_idn", f"/proposals/{ref}").json()["available_actions"] == ["review"]
    both = api.act("cm_idn", ref, "review", recommendation="endorse", comment="Well scoped.")
    assert both["state"] == "co_manager_review"
    assert both["available_actions"] == ["open_consultation", "refer_to_co_chairs"]
    assert both["tasks"] == []

    consulting = api.act("cm_idn", ref, "open_consultation",
                         stakeholders=[ROSTER["iom"]["email"], ROSTER["tip"]["email"].upper()])
    assert consulting["state"] == "stakeholder_consultation"
    assert sorted(t["assignee"] for t in consulting["tasks"]) == [
        "IOM focal point (IOM)", "WG TIP secretariat (Working Group on Trafficking in Persons)"]
    assert [t["kind"] for t in api.get("iom", "/tasks").json()] == ["consultation"]
    assert api.get("unhcr", f"/proposals/{ref}").status_code == 404  # not invited

    still = api.act("iom", ref, "respond", position="support")
    assert still["state"] == "stakeholder_consultation"
    api.act("iom", ref, "respond", expect=409, position="support")  # once only
    guidance = api.act("tip", ref, "respond", position="concerns", comment="Overlaps with the WG's 2027 plan.")
    assert guidance["state"] == "co_chair_guidance"
    assert [t["assignee"] for t in guidance["tasks"]] == ["both co-chairs"]
    assert [t["kind"] for t in api.get("chair_idn", "/tasks").json()] == ["guidance"]

    approved = api.act("chair_aus", ref, "give_guidance", decision="approve_with_conditions",
                       conditions="Coordinate with the Working Group's 2027 plan.", comment="On behalf of both.")
    assert approved["state"] == "approved" and approved["conditions"].startswith("Coordinate")
    assert approved["tasks"] == [] and approved["available_actions"] == []
    assert api.get("chair_idn", "/tasks").json() == []  # the shared task was completed for both
    api.act("chair_idn", ref, "give_guidance", expect=409, decision="approve")

    staff_view = api.get("cm_aus", f"/proposals/{ref}").json()
    assert [(r["country"], r["recommendation"]) for r in staff_view["reviews"]] == [("AUS", "endorse"), ("IDN", "endorse")]
    assert [r["position"] for r in staff_view["consultation_responses"]] == ["support", "concerns"]
    assert api.get("tha", f"/proposals/{ref}").json()["reviews"] is None  # internal to the RSO

    assert history_actions(api, ref) == [
        ("create", None, "draft"),
        ("submit", "draft", "co_manager_review"),
        ("review", "co_manager_review", "co_manager_review"),
        ("review", "co_manager_review", "co_manager_review"),
        ("open_consultation", "co_manager_review", "stakeholder_consultation"),
        ("respond", "stakeholder_consultation", "stakeholder_consultation"),
        ("respond", "stakeholder_consultation", "co_chair_guidance"),
        ("give_guidance", "co_chair_guidance", "approved"),
    ]
    last = api.get("tha", f"/proposals/{ref}/history").json()[-1]
    assert last["actor"] == "Co-Chair AUS" and last["actor_role"] == "co_chair"
    assert last["arguments"] == {"decision": "approve_with_conditions",
                                 "conditions": "Coordinate with the Working Group's 2027 plan."}
    assert last["comment"] == "On behalf of both."


def test_any_revise_requests_revision_and_resubmission_starts_a_new_round(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    p = api.act("cm_idn", ref, "review", recommendation="revise", comment="Add a budget breakdown.")
    assert p["state"] == "revision_requested" and p["tasks"] == []
    assert p["available_actions"] == []  # the caller's: the co-manager has nothing left to do
    assert api.get("tha", f"/proposals/{ref}").json()["available_actions"] == ["resubmit", "withdraw"]
    assert api.get("tha2", f"/proposals/{ref}").json()["available_actions"] == ["resubmit", "withdraw"]

    p = api.act("tha2", ref, "resubmit", changes={"summary": "Now with a budget breakdown by activity."},
                comment="Breakdown added.")
    assert p["state"] == "co_manager_review" and p["round"] == 2
    assert p["summary"] == "Now with a budget breakdown by activity."
    assert len(p["tasks"]) == 2
    # Last round's votes do not count: both co-managers review again.
    assert api.get("cm_aus", f"/proposals/{ref}").json()["available_actions"] == ["review"]
    event = api.get("tha", f"/proposals/{ref}/history").json()[-1]
    assert event["arguments"] == {"changes": {"summary": "Now with a budget breakdown by activity."}}


def test_both_decline_is_final_and_a_final_state_accepts_nothing(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="decline", comment="Out of mandate.")
    p = api.act("cm_idn", ref, "review", recommendation="decline", comment="Out of mandate.")
    assert p["state"] == "declined" and p["closed_at"] is not None
    r = api.post("tha", f"/proposals/{ref}/actions/withdraw", {})
    assert r.status_code == 409
    assert r.json()["available_actions"] == [] and "final state" in r.json()["detail"]


def test_a_split_vote_goes_to_the_co_chairs_who_may_return_it_for_a_new_round(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_idn", ref, "review", recommendation="decline", comment="Too costly.")
    p = api.act("cm_aus", ref, "review", recommendation="endorse")
    assert p["state"] == "co_chair_guidance" and p["split"] is True
    api.act("chair_idn", ref, "give_guidance", expect=422, decision="return_to_co_managers")  # needs a reason
    p = api.act("chair_idn", ref, "give_guidance", decision="return_to_co_managers",
                comment="Please agree a reduced budget.")
    assert p["state"] == "co_manager_review" and p["round"] == 2 and len(p["tasks"]) == 2


def test_closing_consultation_expires_unanswered_invitations(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["unhcr"]["email"]],
            due_date=(api.clock.today() + timedelta(days=20)).isoformat())
    api.act("iom", ref, "respond", position="object", comment="Duplicates an IOM programme.")
    p = api.act("cm_idn", ref, "close_consultation", comment="Enough views gathered.")
    assert p["state"] == "co_chair_guidance"
    assert api.get("unhcr", "/tasks").json() == []
    assert api.get("unhcr", f"/proposals/{ref}").status_code == 200  # still sees what it was invited to
    assert api.get("unhcr", f"/proposals/{ref}").json()["available_actions"] == []
    close = api.get("cm_aus", f"/proposals/{ref}/history").json()[-1]
    assert close["action"] == "close_consultation" and close["arguments"] == {"no_response": 1}


def test_referral_skips_consultation_and_withdrawal_cancels_open_tasks(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    assert api.act("cm_aus", ref, "refer_to_co_chairs", comment="Straightforward.")["state"] == "co_chair_guidance"
    p = api.act("tha", ref, "withdraw", comment="Funding found elsewhere.")
    assert p["state"] == "withdrawn" and p["tasks"] == []
    assert api.get("chair_aus", "/tasks").json() == []


def test_consultation_needs_stakeholder_users_and_a_future_due_date(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    r = api.post("cm_aus", f"/proposals/{ref}/actions/open_consultation",
                 {"stakeholders": [ROSTER["iom"]["email"], ROSTER["chair_aus"]["email"], "nobody@nowhere.example"],
                  "due_date": "2020-01-01"})
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(fields) == {"stakeholders.1", "stakeholders.2", "due_date"}
    assert "is not a stakeholder user" in fields["stakeholders.1"]
    assert api.get("cm_aus", f"/proposals/{ref}").json()["state"] == "co_manager_review"  # nothing half-done
    assert api.get("iom", "/tasks").json() == []
    too_far = (api.clock.today() + timedelta(days=400)).isoformat()
    r = api.post("cm_aus", f"/proposals/{ref}/actions/open_consultation",
                 {"stakeholders": [ROSTER["iom"]["email"]], "due_date": too_far})
    assert r.status_code == 422 and "within a year" in r.json()["errors"][0]["message"]
    chosen = (api.clock.today() + timedelta(days=60)).isoformat()
    given = api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"]], due_date=chosen)
    assert given["tasks"][0]["due_date"] == chosen


def test_submitting_an_incomplete_draft_names_what_is_missing(api):
    p = api.create(summary="", thematic_areas=[], engagement_type=None)
    r = api.post("tha", f"/proposals/{p['id']}/actions/submit", {})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"summary", "thematic_areas", "engagement_type"}
    assert api.get("tha", f"/proposals/{p['id']}").json()["state"] == "draft"


def test_the_owner_edits_a_draft_but_not_a_submitted_proposal(api):
    p = api.create()
    r = api.patch("tha", f"/proposals/{p['id']}", {"title": "A sharper title", "budget": None},
                  headers={"If-Match": str(p["version"])})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "A sharper title" and r.json()["budget"] is None and r.json()["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert api.patch("tha", f"/proposals/{p['id']}", {"title": "Stale"}, headers={"If-Match": "1"}).status_code == 409
    assert api.patch("phl", f"/proposals/{p['id']}", {"title": "Not mine"}).status_code == 404
    assert api.patch("tha", f"/proposals/{p['id']}", {"proposed_end": "2027-01-01"}).json()["errors"][0]["field"] \
        == "proposed_end"
    api.act("tha", p["id"], "submit")
    r = api.patch("tha", f"/proposals/{p['id']}", {"title": "Too late"})
    assert r.status_code == 409 and "resubmit" in r.json()["detail"]
    assert history_actions(api, p["reference"])[1] == ("edit", "draft", "draft")


def test_if_match_guards_actions_against_stale_versions(api):
    p = api.create()
    r = api.post("tha", f"/proposals/{p['id']}/actions/submit", {}, headers={"If-Match": "7"})
    assert r.status_code == 409 and r.json()["current_version"] == 1
    r = api.post("tha", f"/proposals/{p['id']}/actions/submit", {}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2


def test_idempotency_key_returns_the_same_proposal_on_a_retry(api):
    body = {"title": "Retried create"}
    first = api.post("tha", "/proposals", body, headers={"Idempotency-Key": "abc-123"})
    again = api.post("tha", "/proposals", body, headers={"Idempotency-Key": "abc-123"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert [p["title"] for p in api.get("tha", "/proposals").json()] == ["Retried create"]
    other = api.post("tha", "/proposals", {"title": "Another body"}, headers={"Idempotency-Key": "abc-123"})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys belong to the caller: another official's same key makes their own proposal.
    assert api.post("tha2", "/proposals", body, headers={"Idempotency-Key": "abc-123"}).json()["id"] != first.json()["id"]


def test_each_role_sees_only_what_it_may(api):
    draft = api.create()["reference"]
    submitted = api.create(title="Submitted one")["reference"]
    api.act("tha", submitted, "submit")
    phl = api.create("phl", title="Philippine proposal")["reference"]
    api.act("phl", phl, "submit")

    assert set(states_of(api, "tha")) == {draft, submitted}
    assert set(states_of(api, "tha2")) == {draft, submitted}  # same member state
    assert set(states_of(api, "phl")) == {phl}
    for staff in ("cm_aus", "chair_idn", "admin"):
        assert set(states_of(api, staff)) == {submitted, phl}  # drafts stay with their author
        assert api.get(staff, f"/proposals/{draft}").status_code == 404
    assert states_of(api, "iom") == {}
    assert api.get("phl", f"/proposals/{submitted}").status_code == 404
    assert api.get("phl", f"/proposals/{submitted}/history").status_code == 404
    assert api.get("cm_aus", "/proposals", params={"state": "co_manager_review"}).status_code == 200
    r = api.get("cm_aus", "/proposals", params={"state": "limbo"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"


def test_roles_outside_an_action_get_403_and_the_wrong_moment_gets_409_with_what_is_allowed(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    assert api.post("iom", "/proposals", {"title": "Not a member state"}).status_code == 403
    assert api.post("admin", f"/proposals/{ref}/actions/review", {"recommendation": "endorse"}).status_code == 403
    assert api.post("chair_aus", f"/proposals/{ref}/actions/review", {"recommendation": "endorse"}).status_code == 403
    r = api.post("cm_aus", f"/proposals/{ref}/actions/open_consultation", {"stakeholders": ["iom@stakeholders.example"]})
    assert r.status_code == 409
    assert r.json()["available_actions"] == ["review"] and r.json()["state"] == "co_manager_review"
    r = api.post("cm_aus", f"/proposals/{ref}/actions/teleport", {})
    assert r.status_code == 404 and "review" in r.json()["actions"]


def test_bad_input_gets_field_messages_never_a_500(api):
    ref = api.create()["reference"]
    cases = [
        ({"title": "ab"}, "title"),
        ({"title": "Fine", "colour": "blue"}, "colour"),
        ({"title": "Fine", "thematic_areas": ["piracy"]}, "thematic_areas.0"),
        ({"title": "Fine", "thematic_areas": "people_smuggling"}, "thematic_areas"),
        ({"title": "Fine", "budget": {"amount": -1, "currency": "USD"}}, "budget.amount"),
        ({"title": "Fine", "budget": {"amount": 10, "currency": "XYZ"}}, "budget.currency"),
        ({"title": "Fine", "partner_member_states": ["ATL"]}, "partner_member_states"),
        ({"title": "Fine", "proposed_start": "2027-05-01", "proposed_end": "2027-04-01"}, "proposed_end"),
        ({"title": "Fine", "proposed_start": "next spring"}, "proposed_start"),
        ({"title": 12345}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Fine", "summary": "s" * 5001}, "summary"),
    ]
    for body, field in cases:
        r = api.post("tha", "/proposals", body)
        assert r.status_code == 422, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (body, r.json())
    for raw, ctype in [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"null", "application/json")]:
        r = api.client.post("/api/v1/proposals", content=raw, headers={**api.headers("tha"), "Content-Type": ctype})
        assert r.status_code == 422, raw
    r = api.client.post("/api/v1/proposals", content=b"title=x", headers={
        **api.headers("tha"), "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = api.client.post("/api/v1/proposals", content=b'{"title": "' + b"a" * 300_000 + b'"}',
                        headers={**api.headers("tha"), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert api.post("cm_aus", f"/proposals/{ref}/actions/review", {}).status_code == 404  # draft: not visible
    api.act("tha", ref, "submit")
    r = api.post("cm_aus", f"/proposals/{ref}/actions/review", {"recommendation": "maybe"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "recommendation"
    r = api.post("cm_aus", f"/proposals/{ref}/actions/review", {"recommendation": "decline"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "comment", "message": "a comment is required to recommend decline"}]
    for path in ("/proposals/999999", "/proposals/RSO-P-1999-0001", "/proposals/" + "9" * 40, "/proposals/%00"):
        assert api.get("cm_aus", path).status_code == 404, path
    assert api.get("cm_aus", "/proposals", params={"limit": 0}).status_code == 422
    assert api.get("cm_aus", "/proposals", params={"limit": "many"}).status_code == 422


def test_lookup_by_reference_in_any_case_and_the_diagram_marks_the_current_state(api):
    p = api.create()
    api.act("tha", p["id"], "submit")
    assert api.get("tha", f"/proposals/{p['reference'].lower()}").json()["id"] == p["id"]
    r = api.get("tha", f"/proposals/{p['reference']}/diagram")
    assert r.status_code == 200 and r.text.lstrip("-\n").startswith("title") or "stateDiagram-v2" in r.text
    assert re.search(r"^\s*class co_manager_review s_active$", r.text, re.M)
    assert not re.search(r"^\s*class draft s_active$", r.text, re.M)


def test_signing_in(api, clock):
    assert api.client.post("/api/v1/auth/token", data={"username": "cm.aus@rso.example", "password": "wrong"}).status_code == 401
    assert api.client.post("/api/v1/auth/token", data={"username": "ghost@rso.example", "password": "x"}).status_code == 401
    assert api.client.get("/api/v1/proposals").status_code == 401
    assert api.client.get("/api/v1/proposals", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert api.get("cm_aus", "/me").json()["country"] == "AUS"
    # A token issued nine hours ago has expired (tokens last eight).
    clock.now = clock() - timedelta(hours=9)
    old = api.client.post("/api/v1/auth/token", data={"username": "cm.idn@rso.example", "password": "correct horse battery"})
    clock.now = None
    r = api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {old.json()['access_token']}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_the_inbox_is_soonest_due_first_and_marks_overdue(api, clock):
    first = api.create(title="Older one")["reference"]
    clock.now = clock() - timedelta(days=30)
    api.act("tha", first, "submit")
    clock.now = None
    second = api.create(title="Newer one")["reference"]
    api.act("tha", second, "submit")
    inbox = api.get("cm_aus", "/tasks").json()
    assert [(t["reference"], t["overdue"]) for t in inbox] == [(first, True), (second, False)]


def test_nul_characters_are_refused_as_input_not_crashed_on(api):
    r = api.post("tha", "/proposals", {"title": "Bad\x00title", "thematic_areas": ["people_smuggling"]})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "title", "message": "must not contain NUL characters"}]
    assert api.client.post("/api/v1/auth/token", data={"username": "a\x00@x.example", "password": "p"}).status_code == 401
    assert api.get("cm_aus", "/proposals/RSO-P-2026-%00001").status_code == 404


def test_null_cannot_empty_a_required_field_anywhere(api):
    for body in ({"title": "Fine", "thematic_areas": None}, {"title": None}):
        r = api.post("tha", "/proposals", body)
        assert r.status_code == 422 and "may not be null" in r.json()["errors"][0]["message"]
    assert api.get("tha", "/proposals").json() == []  # nothing half-written
    p = api.create()
    for field in ("title", "summary", "thematic_areas", "partner_member_states"):
        r = api.patch("tha", f"/proposals/{p['id']}", {field: None})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    cleared = api.patch("tha", f"/proposals/{p['id']}", {"budget": None, "proposed_start": None, "scope": None}).json()
    assert cleared["budget"] is None and cleared["scope"] is None
    assert api.get("tha", "/proposals").status_code == 200


def test_resubmission_cannot_blank_what_submission_requires(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="revise", comment="More detail.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    r = api.post("tha", f"/proposals/{ref}/actions/resubmit", {"changes": {"summary": "", "thematic_areas": []}})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"changes.summary", "changes.thematic_areas"}
    assert api.get("tha", f"/proposals/{ref}").json()["state"] == "revision_requested"


def test_a_draft_withdrawn_before_submission_never_reaches_the_rso(api):
    ref = api.create()["reference"]
    assert api.act("tha", ref, "withdraw")["state"] == "withdrawn"
    assert api.get("cm_aus", f"/proposals/{ref}").status_code == 404
    assert api.get("admin", "/proposals", params={"state": "withdrawn"}).json() == []
    assert api.get("tha", f"/proposals/{ref}").status_code == 200


def test_numbers_out_of_range_are_404_or_422_not_500(api):
    assert api.get("tha", "/proposals/2147483648").status_code == 404
    assert api.post("tha", "/proposals/99999999999/actions/submit", {}).status_code == 404
    assert api.get("tha", "/proposals", params={"before": 9223372036854775808}).status_code == 422
    p = api.create()
    r = api.patch("tha", f"/proposals/{p['id']}", {"title": "New"}, headers={"If-Match": "9" * 5000})
    assert r.status_code == 409


def test_a_new_round_clears_the_split_mark(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    assert api.act("cm_idn", ref, "review", recommendation="decline", comment="No.")["split"] is True
    p = api.act("chair_aus", ref, "give_guidance", decision="return_to_co_managers", comment="Agree first.")
    assert p["round"] == 2 and p["split"] is False


def test_the_rsos_deliberations_stay_internal_except_what_the_owner_must_act_on(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse", comment="Private view: strong partner.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["tip"]["email"]])
    api.act("tip", ref, "respond", position="object", comment="TIP objects strongly.")

    def said(who):
        return [(e["action"], e["comment"]) for e in api.get(who, f"/proposals/{ref}/history").json()
                if e["action"] in ("review", "respond")]

    assert said("cm_idn") == [("review", "Private view: strong partner."), ("review", None),
                              ("respond", "TIP objects strongly.")]
    assert said("tha") == [("review", None), ("review", None), ("respond", None)]
    assert said("iom") == [("review", None), ("review", None), ("respond", None)]
    assert said("tip") == [("review", None), ("review", None), ("respond", "TIP objects strongly.")]

    ref2 = api.create()["reference"]
    api.act("tha", ref2, "submit")
    api.act("cm_aus", ref2, "review", recommendation="revise", comment="Add a budget breakdown.")
    owner_sees = api.get("tha", f"/proposals/{ref2}/history").json()[-1]
    assert owner_sees["comment"] == "Add a budget breakdown." and owner_sees["arguments"]["recommendation"] == "revise"


def test_a_list_pages_by_keyset_newest_first_each_item_once(api):
    made = [api.create(title=f"Proposal {n}")["reference"] for n in range(7)]
    seen, path, pages = [], "/proposals?limit=3", 0
    while path:
        r = api.get("tha", path)
        assert r.status_code == 200
        seen += [p["reference"] for p in r.json()]
        pages += 1
        link = r.headers.get("Link")
        path = link.split(">")[0].lstrip("<").removeprefix("/api/v1") if link else None
        if pages == 1:
            api.create(title="Made while paging")  # newer than the cursor: shifts nothing
    assert seen == made[::-1] and pages == 3
    assert api.get("tha", "/proposals", params={"before": 0}).status_code == 422
