"""Secondments through the API, as member states and the RSO use them: nomination to
completion, who sees what, the checklist, extensions, and every refusal a clear 4xx."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.config.calendar import BusinessCalendar, add_months
from tests.conftest import ROSTER, complete_secondment

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others

ALL_ITEMS = ["security_clearance", "visa", "travel", "insurance", "induction_plan"]


def arrange(api, ref, start_in_days=30, months=5):
    today = api.clock.today()
    start = today + timedelta(days=start_in_days)
    return api.s_act("cm_idn", ref, "confirm_arrangement", arrangement_signed_on=today.isoformat(),
                     start_date=start.isoformat(), end_date=add_months(start, months).isoformat())


def to_active(api, ref):
    api.s_act("tha", ref, "submit")
    api.s_act("cm_aus", ref, "decide", decision="accept")
    arrange(api, ref)
    for item in ALL_ITEMS:
        api.s_act("tha", ref, "complete_item", item=item)
    return api.s_act("cm_aus", ref, "start")


def inbox(api, who) -> list[tuple[str, str]]:
    return [(t["reference"], t["kind"]) for t in api.get(who, "/tasks").json()]


def test_a_nomination_from_draft_to_completion(api):
    r = api.post("tha", "/secondments", complete_secondment(api.clock.today()), headers={"Idempotency-Key": "nom-1"})
    assert r.status_code == 201 and r.headers["Location"] == f"/api/v1/secondments/{r.json()['id']}"
    s = r.json()
    ref = s["reference"]
    assert ref.startswith("RSO-S-") and s["state"] == "draft" and s["available_actions"] == ["submit", "withdraw"]
    again = api.post("tha", "/secondments", complete_secondment(api.clock.today()), headers={"Idempotency-Key": "nom-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == s["id"]

    s = api.s_act("tha", ref, "submit")
    assert s["state"] == "under_review"
    # One decision task shared by the co-managers: both see it; whoever acts first completes it.
    assert (ref, "decision") in inbox(api, "cm_aus") and (ref, "decision") in inbox(api, "cm_idn")
    assert s["tasks"][0]["assignee"] == "both co-managers"
    s = api.s_act("cm_idn", ref, "decide", decision="accept", comment="Welcome.")
    assert s["state"] == "arranging" and inbox(api, "cm_aus") == [] and inbox(api, "cm_idn") == []

    s = arrange(api, ref)
    assert s["state"] == "pre_deployment" and s["arrangement_signed_on"] == api.clock.today().isoformat()
    assert [(c["item"], c["done"]) for c in s["checklist"]] == [(i, False) for i in ALL_ITEMS]
    refused = api.post("cm_aus", f"/secondments/{ref}/actions/start", {})
    assert refused.status_code == 409
    assert "security_clearance" in refused.json()["detail"] and "start" not in refused.json()["available_actions"]

    api.s_act("tha", ref, "complete_item", item="visa")
    s = api.s_act("cm_aus", ref, "complete_item", item="induction_plan")
    ticked = {c["item"]: c for c in s["checklist"] if c["done"]}
    assert ticked["visa"]["done_by"] == "Thai official" and ticked["induction_plan"]["done_by"] == "Co-Manager AUS"
    assert ticked["visa"]["done_at"]
    assert api.post("tha", f"/secondments/{ref}/actions/complete_item", {"item": "visa"}).status_code == 409
    for item in ("security_clearance", "travel", "insurance"):
        s = api.s_act("tha", ref, "complete_item", item=item)
    assert "start" in api.get("cm_aus", f"/secondments/{ref}").json()["available_actions"]
    s = api.s_act("cm_aus", ref, "start")
    assert s["state"] == "active"

    end = date.fromisoformat(s["end_date"])
    new_end = end + timedelta(days=30)
    s = api.s_act("tha", ref, "request_extension", new_end_date=new_end.isoformat(),
                  justification="The pilot runs a month longer.")
    assert s["extension_request"] == {"new_end_date": new_end.isoformat(), "justification": "The pilot runs a month longer."}
    assert (ref, "extension") in inbox(api, "cm_aus")
    assert "request_extension" not in s["available_actions"]  # one pending request at a time
    s = api.s_act("cm_aus", ref, "decide_extension", decision="approve")
    assert s["end_date"] == new_end.isoformat() and s["extension_request"] is None and inbox(api, "cm_aus") == []

    s = api.s_act("cm_idn", ref, "begin_handover")
    assert s["state"] == "concluding"
    (task,) = s["tasks"]
    assert task["kind"] == "final_report" and task["assignee"] == "member-state (THA)"
    assert task["due_date"] == BusinessCalendar("TH").add_business_days(new_end, 10).isoformat()
    assert (ref, "final_report") in inbox(api, "tha2")  # every official of the nominating state
    assert api.post("cm_aus", f"/secondments/{ref}/actions/complete", {}).status_code == 409
    s = api.s_act("tha2", ref, "submit_final_report", report="Objectives met; casework handed over.")
    assert s["final_report"] == "Objectives met; casework handed over." and s["tasks"] == []
    s = api.s_act("cm_aus", ref, "complete")
    assert s["state"] == "completed" and s["closed_at"] and s["available_actions"] == []

    history = api.get("tha", f"/secondments/{ref}/history").json()
    assert [e["action"] for e in history] == [
        "create", "submit", "decide", "confirm_arrangement", "complete_item", "complete_item", "complete_item",
        "complete_item", "complete_item", "start", "request_extension", "decide_extension", "begin_handover",
        "submit_final_report", "complete"]
    assert history[2]["actor"] == "Co-Manager IDN" and history[2]["to_state"] == "arranging"
    assert history[11]["arguments"]["previous_end_date"] == end.isoformat()
    diagram = api.get("cm_aus", f"/secondments/{ref}/diagram")
    assert diagram.headers["content-type"].startswith("text/vnd.mermaid") and "completed" in diagram.text


def test_only_the_nominating_state_and_rso_staff_see_a_secondment(api):
    draft = api.nominate()["reference"]
    ref = api.nominate()["reference"]
    api.s_act("tha", ref, "submit")
    assert api.get("tha2", f"/secondments/{ref}").status_code == 200
    for who in ("phl", "iom"):
        assert api.get(who, f"/secondments/{ref}").status_code == 404
        assert api.get(who, "/secondments").json() == []
    for who in ("cm_aus", "chair_idn", "admin"):
        assert api.get(who, f"/secondments/{ref}").status_code == 200
        assert api.get(who, f"/secondments/{draft}").status_code == 404  # a draft stays with its author
        assert [s["reference"] for s in api.get(who, "/secondments").json()] == [ref]
    assert api.post("chair_aus", f"/secondments/{ref}/actions/decide", {"decision": "accept"}).status_code == 403
    assert api.post("cm_aus", "/secondments", complete_secondment(api.clock.today())).status_code == 403
    assert api.get("tha", f"/secondments/{ref.lower()}").json()["reference"] == ref
    assert api.get("tha", "/secondments", params={"state": "under_review"}).json()[0]["reference"] == ref
    assert api.get("tha", "/secondments", params={"state": "nonsense"}).status_code == 422


def fields_of(r) -> set[str]:
    assert r.status_code == 422, r.text
    return {e["field"] for e in r.json()["errors"]}


def test_dates_nominee_and_funding_are_validated_field_by_field(api):
    start = api.clock.today() + timedelta(days=40)
    for end, ok in ((start + timedelta(days=20), False), (add_months(start, 1), True), (add_months(start, 12), True),
                    (add_months(start, 12) + timedelta(days=1), False)):
        r = api.post("tha", "/secondments", complete_secondment(api.clock.today()) | {"start_date": start.isoformat(),
                                                                     "end_date": end.isoformat()})
        assert (r.status_code == 201) is ok, r.text
        if not ok:
            assert fields_of(r) == {"end_date"}
    past = complete_secondment(api.clock.today(), start_in_days=-3)
    assert fields_of(api.post("tha", "/secondments", past)) == {"start_date"}
    bad = complete_secondment(api.clock.today()) | {"nominee": {"full_name": "A Person", "email": "not-an-address"},
                                   "funding": {"salary": "rso", "allowances": "shared"}}
    assert fields_of(api.post("tha", "/secondments", bad)) == {"nominee.email", "funding.salary"}
    assert fields_of(api.post("tha", "/secondments", {"nominee": {"full_name": "A Person"}})) == {
        "nominee.email", "proposed_role"}
    # A draft may be partial; it cannot be submitted until it is whole.
    partial = api.nominate(**{"nominee": {"full_name": "A Person", "email": "a.person@x.example"},
                              "start_date": None, "end_date": None, "funding": None, "justification": ""})
    r = api.post("tha", f"/secondments/{partial['reference']}/actions/submit", {})
    assert fields_of(r) == {"nominee.position", "nominee.agency", "start_date", "end_date", "funding",
                            "justification"}
    assert api.get("tha", f"/secondments/{partial['reference']}").json()["state"] == "draft"


def test_a_linked_proposal_must_be_approved_and_visible_to_the_nominating_state(api):
    def approved(who):
        ref = api.create(who)["reference"]
        api.act(who, ref, "submit")
        api.act("cm_aus", ref, "review", recommendation="endorse")
        api.act("cm_idn", ref, "review", recommendation="endorse")
        api.act("cm_aus", ref, "refer_to_co_chairs")
        api.act("chair_aus", ref, "give_guidance", decision="approve")
        return ref

    own, theirs = approved("tha"), approved("phl")
    in_review = api.create("tha")["reference"]
    api.act("tha", in_review, "submit")
    s = api.nominate(proposal_reference=own.lower())
    assert s["proposal_reference"] == own
    for ref, says in ((theirs, "that you can see"), (in_review, "approved"), ("RSO-P-2026-9999", "that you can see"),
                      ("nonsense", "that you can see")):
        r = api.post("tha", "/secondments", complete_secondment(api.clock.today()) | {"proposal_reference": ref})
        assert fields_of(r) == {"proposal_reference"} and says in r.json()["errors"][0]["message"]
    edited = api.patch("tha", f"/secondments/{s['reference']}", {"proposal_reference": None})
    assert edited.status_code == 200 and edited.json()["proposal_reference"] is None


def test_a_request_for_information_goes_back_to_the_member_state_and_returns(api):
    ref = api.nominate()["reference"]
    api.s_act("tha", ref, "submit")
    r = api.post("cm_aus", f"/secondments/{ref}/actions/decide", {"decision": "request_info"})
    assert r.json()["errors"] == [{"field": "comment", "message": "a comment is required to request info"}]
    s = api.s_act("cm_aus", ref, "decide", decision="request_info", comment="Which languages does the nominee speak?")
    assert s["state"] == "info_requested" and s["available_actions"] == []
    assert api.get("tha", f"/secondments/{ref}").json()["available_actions"] == ["resubmit", "withdraw"]
    s = api.s_act("tha", ref, "resubmit", changes={"languages": ["Thai", "English", "Bahasa Indonesia"]},
                  comment="Languages added.")
    assert s["state"] == "under_review" and s["languages"][-1] == "Bahasa Indonesia"
    assert (ref, "decision") in inbox(api, "cm_idn")
    assert api.patch("tha", f"/secondments/{ref}", {"proposed_role": "Another role"}).status_code == 409


def test_extensions_stay_within_twelve_months_and_one_at_a_time(api):
    ref = api.nominate()["reference"]
    s = to_active(api, ref)
    start, end = date.fromisoformat(s["start_date"]), date.fromisoformat(s["end_date"])
    too_far = add_months(start, 12) + timedelta(days=1)
    r = api.post("tha", f"/secondments/{ref}/actions/request_extension",
                 {"new_end_date": too_far.isoformat(), "justification": "More time."})
    assert fields_of(r) == {"new_end_date"} and add_months(start, 12).isoformat() in r.text
    r = api.post("tha", f"/secondments/{ref}/actions/request_extension",
                 {"new_end_date": end.isoformat(), "justification": "More time."})
    assert fields_of(r) == {"new_end_date"}
    assert api.post("cm_aus", f"/secondments/{ref}/actions/decide_extension", {"decision": "approve"}).status_code == 409
    api.s_act("tha", ref, "request_extension", new_end_date=add_months(start, 7).isoformat(), justification="More.")
    r = api.post("tha", f"/secondments/{ref}/actions/request_extension",
                 {"new_end_date": add_months(start, 8).isoformat(), "justification": "Even more."})
    assert r.status_code == 409 and "already waiting" in r.json()["detail"]
    assert fields_of(api.post("cm_idn", f"/secondments/{ref}/actions/decide_extension", {"decision": "decline"}))
    s = api.s_act("cm_idn", ref, "decide_extension", decision="decline", comment="The workplan ends in March.")
    assert s["end_date"] == end.isoformat() and s["extension_request"] is None
    assert "request_extension" in api.get("tha", f"/secondments/{ref}").json()["available_actions"]


def test_withdrawal_before_the_start_and_termination_after_it(api):
    ref = api.nominate()["reference"]
    api.s_act("tha", ref, "submit")
    api.s_act("cm_aus", ref, "decide", decision="accept")
    arrange(api, ref)
    s = api.s_act("tha", ref, "withdraw", comment="The nominee was promoted at home.")
    assert s["state"] == "withdrawn" and s["tasks"] == [] and s["closed_at"]

    ref = api.nominate()["reference"]
    to_active(api, ref)
    assert api.post("tha", f"/secondments/{ref}/actions/withdraw", {}).status_code == 409
    assert fields_of(api.post("cm_aus", f"/secondments/{ref}/actions/terminate", {})) == {"comment"}
    s = api.s_act("cm_aus", ref, "terminate", comment="Recalled by the sending agency.")
    assert s["state"] == "terminated"
    r = api.post("cm_aus", f"/secondments/{ref}/actions/begin_handover", {})
    assert r.status_code == 409 and "final state" in r.json()["detail"]


def test_if_match_guards_every_action_and_edit(api):
    s = api.nominate()
    ref = s["reference"]
    stale = str(s["version"])
    api.patch("tha", f"/secondments/{ref}", {"languages": ["Thai"]}, headers={"If-Match": stale})
    r = api.post("tha", f"/secondments/{ref}/actions/submit", {}, headers={"If-Match": stale})
    assert r.status_code == 409 and "not current" in r.json()["detail"]
    assert api.get("tha", f"/secondments/{ref}").json()["state"] == "draft"
    current = api.get("tha", f"/secondments/{ref}").headers["ETag"]
    assert api.post("tha", f"/secondments/{ref}/actions/submit", {}, headers={"If-Match": current}).status_code == 200


def test_an_unknown_action_or_secondment_is_404(api):
    ref = api.nominate()["reference"]
    r = api.post("tha", f"/secondments/{ref}/actions/promote", {})
    assert r.status_code == 404 and "request_extension" in r.text
    assert api.get("tha", "/secondments/RSO-S-2026-9999").status_code == 404
    assert api.get("tha", "/secondments/RSO-P-2026-0001").status_code == 404


@pytest.mark.parametrize("who", ["tha", "cm_aus"])
def test_the_inbox_mixes_proposals_and_secondments_soonest_due_first(api, who):
    p = api.create()["reference"]
    api.act("tha", p, "submit")
    s = api.nominate()["reference"]
    to_active(api, s)
    api.s_act("cm_aus", s, "begin_handover")
    tasks = api.get(who, "/tasks").json()
    if who == "tha":
        assert [(t["reference"], t["kind"]) for t in tasks] == [(s, "final_report")]
        assert tasks[0]["title"] == "Somchai Wongsakul, Trafficking in persons investigations adviser"
    else:
        assert [(t["reference"], t["kind"]) for t in tasks] == [(p, "review")]
    assert ROSTER[who]


@pytest.mark.parametrize("who", ["tha", "cm_aus"])
def test_a_list_shows_each_item_as_its_own_page_does(api, who):
    """Lists are read as plain rows, an item's page through the engine's load: the two agree
    for items in every state, with their tasks, checklist ticks (and who ticked) and votes."""
    today = api.clock.today()
    drafted = api.post("tha", "/secondments", complete_secondment(today)).json()["reference"]
    submitted = api.post("tha", "/secondments", complete_secondment(today)).json()["reference"]
    api.s_act("tha", submitted, "submit")
    ticking = api.post("tha", "/secondments", complete_secondment(today)).json()["reference"]
    api.s_act("tha", ticking, "submit")
    api.s_act("cm_aus", ticking, "decide", decision="accept")
    arrange(api, ticking)
    api.s_act("tha", ticking, "complete_item", item="visa")
    api.s_act("cm_aus", ticking, "complete_item", item="travel")
    active = api.post("tha", "/secondments", complete_secondment(today)).json()["reference"]
    to_active(api, active)
    reviewed = api.create()["reference"]
    api.act("tha", reviewed, "submit")
    api.act("cm_idn", reviewed, "review", recommendation="revise", comment="More detail.")
    api.create()

    for path in ("/secondments", "/proposals"):
        listed = api.get(who, path).json()
        assert listed, path
        for item in listed:
            page = api.get(who, f"{path}/{item['reference']}").json()
            page.pop("reviews", None), page.pop("consultation_responses", None)  # staff's extra read, not in lists
            item.pop("reviews", None), item.pop("consultation_responses", None)
            assert item == page, item["reference"]
    listed = {s["reference"]: s for s in api.get(who, "/secondments").json()}
    assert {c["item"]: c["done_by"] for c in listed[ticking]["checklist"] if c["done"]} == {
        "visa": "Thai official", "travel": "Co-Manager AUS"}
    assert (drafted in listed) == (who == "tha") and listed[submitted]["tasks"]
    assert [t["kind"] for t in {p["reference"]: p for p in api.get(who, "/proposals").json()}[reviewed]["tasks"]] == ["review"]
