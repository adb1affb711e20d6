"""The pages as a person meets them, through a cookie-keeping client: signing in and out,
each role's home, CSRF on every form, a form refused field by field with what was typed
kept, and no way into another member state's items. (The whole walk in a real browser is
in test_browser.py.)"""
from __future__ import annotations

import re

import pytest

from tests.conftest import ROSTER

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others


@pytest.mark.parametrize("who, home, heading", [
    ("tha", "/my", "My proposals and nominations"), ("cm_aus", "/tasks", "Inbox"),
    ("iom", "/tasks", "Consultation invitations"), ("chair_idn", "/tasks", "Guidance queue"),
    ("admin", "/admin", "Administration")])
def test_each_role_lands_on_its_own_home_page(web, who, home, heading):
    b = web()
    r = b.sign_in(who)
    assert r.url.path == home and f"<h1>{heading}</h1>" in r.text
    assert ROSTER[who]["name"] in r.text


def test_a_wrong_password_is_refused_and_the_email_kept_and_signing_out_ends_the_session(web):
    b = web()
    r = b.post("/sign-in", {"email": ROSTER["tha"]["email"], "password": "nope"}, csrf_from="/sign-in")
    assert r.status_code == 401 and "The email address or the password is not right." in r.text
    assert f'value="{ROSTER["tha"]["email"]}"' in r.text
    b.sign_in("tha")
    r = b.post("/sign-out", {}, csrf_from="/my")
    assert r.url.path == "/sign-in" and "You have signed out." in r.text
    r = b.get("/my", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=/my"


def test_a_form_without_its_csrf_token_changes_nothing(web):
    b = web()
    b.sign_in("tha")
    r = b.client.post("/proposals/new", data={"title": "Forged", "intent": "draft"})
    assert r.status_code == 403 and "This form has expired" in r.text
    r = b.client.post("/proposals/new", data={"title": "Forged", "intent": "draft", "csrf": "0" * 64})
    assert r.status_code == 403
    assert "Forged" not in b.get("/my").text
    other = web()  # a sign-in form's token must match that browser's own cookie
    r = other.client.post("/sign-in", data={"email": ROSTER["tha"]["email"], "password": "x", "csrf": "abc"})
    assert r.status_code == 403


def test_a_proposal_form_with_bad_input_shows_each_message_by_its_field_and_keeps_what_was_typed(web):
    b = web()
    b.sign_in("tha")
    r = b.post("/proposals/new", {"title": "ab", "summary": "Typed summary stays", "budget.amount": "lots",
                                  "budget.currency": "XXX", "proposed_start": "2027-05-01",
                                  "proposed_end": "2027-04-01", "thematic_areas": ["people_smuggling"],
                                  "intent": "draft"}, csrf_from="/proposals/new")
    assert r.status_code == 422
    assert "Nothing was saved" in r.text

    def error_of(field_id):
        m = re.search(rf'<p class="error" id="{field_id}-err">([^<]+)</p>', r.text)
        return m and m.group(1)

    assert "at least 3 characters" in error_of("f-title")
    assert error_of("f-budget-amount") and error_of("f-budget-currency").startswith("must be an ISO 4217")
    # The end before the start: said by the end date, in the words of the form, with the rest.
    assert error_of("f-proposed_end") == "must not be before the proposed start (1 May 2027)"
    assert "proposed_start" not in r.text.split("<form")[0]  # no code names at the top
    assert ">Typed summary stays</textarea>" in r.text and 'value="1 May 2027"' in r.text
    assert re.search(r'value="people_smuggling" checked', r.text)
    assert "RSO-P-" not in b.get("/my").text  # nothing was created


def test_save_as_draft_then_edit_then_submit_through_the_forms(web):
    b = web()
    b.sign_in("tha")
    r = b.post("/proposals/new", {"title": "Maritime search and rescue coordination", "intent": "draft"},
               csrf_from="/proposals/new")
    assert r.status_code == 200 and "Saved as a draft." in r.text
    ref = re.search(r"(RSO-P-\d{4}-\d{4})", r.url.path).group(1)
    r = b.post(f"/proposals/{ref}/edit", {"intent": "submit", "title": "Maritime search and rescue coordination",
                                          "summary": "Typed, then refused"}, csrf_from=f"/proposals/{ref}/edit")
    assert r.status_code == 422 and "Nothing was saved" in r.text
    assert re.search(r'id="f-scope-err">required before the proposal can be submitted<', r.text)
    assert "Typed, then refused" in r.text  # kept on the form...
    assert "Typed, then refused" not in b.get(f"/proposals/{ref}").text  # ...and not half-saved
    fields = {"title": "Maritime search and rescue coordination", "summary": "Two workshops.",
              "engagement_type": "new_project", "scope": "regional", "thematic_areas": ["irregular_migration"],
              "partner_member_states": ["IDN", "MYS"], "budget.amount": "50000", "budget.currency": "usd",
              "proposed_start": "2027-06-01", "proposed_end": "2027-12-01", "intent": "submit"}
    version = re.search(r'name="version" value="(\d+)"', b.get(f"/proposals/{ref}/edit").text).group(1)
    r = b.post(f"/proposals/{ref}/edit", {**fields, "version": version})
    assert r.status_code == 200 and "Submitted." in r.text and "Co-Manager review" in r.text
    assert "USD 50,000.00" in r.text and "IDN, MYS" in r.text


def test_save_and_submit_of_an_incomplete_new_proposal_leaves_no_stray_draft(web):
    b = web()
    b.sign_in("tha")
    r = b.post("/proposals/new", {"title": "Half-made idea", "intent": "submit"}, csrf_from="/proposals/new")
    assert r.status_code == 422 and "Nothing was saved" in r.text
    assert re.search(r'id="f-summary-err">required before the proposal can be submitted<', r.text)
    assert "Half-made idea" not in b.get("/my").text


def test_a_member_state_cannot_open_another_states_items(web):
    tha, phl = web(), web()
    tha.sign_in("tha")
    tha.post("/proposals/new", {"title": "Thai proposal, not for others", "intent": "draft"}, csrf_from="/proposals/new")
    ref = re.search(r"(RSO-P-\d{4}-\d{4})", tha.last.url.path).group(1)
    phl.sign_in("phl")
    for path in (f"/proposals/{ref}", f"/proposals/{ref}/edit"):
        r = phl.get(path)
        assert r.status_code == 404 and "not one you may see" in r.text and "Thai proposal" not in r.text
    r = phl.post(f"/proposals/{ref}/actions/withdraw", {}, csrf_from="/my")
    assert r.status_code == 404
    assert "Thai proposal" not in phl.get("/proposals").text


def test_an_action_refused_for_its_arguments_keeps_the_form_open_with_the_message(web, api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    b = web()
    b.sign_in("cm_aus")
    r = b.post(f"/proposals/{ref}/actions/review", {"recommendation": "revise", "comment": ""},
               csrf_from=f"/proposals/{ref}")
    assert r.status_code == 422
    assert re.search(r'id="f-review-comment-err">a comment is required to recommend revise<', r.text)
    assert '<details class="action" open>' in r.text and 'value="revise" selected' in r.text
    r = b.post(f"/proposals/{ref}/actions/review", {"recommendation": "endorse"})
    assert r.status_code == 200 and "Done: Recommendation recorded." in r.text
    assert "Recommendation recorded</strong>: Endorse by Co-Manager AUS" in r.text


def test_every_page_has_every_string(web, api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    pages = {"tha": ["/my", "/proposals/new", "/secondments/new", f"/proposals/{ref}"],
             "cm_aus": ["/tasks", "/proposals", "/secondments", f"/proposals/{ref}"],
             "admin": ["/admin"], "iom": ["/tasks"], "chair_aus": ["/tasks"]}
    for who, paths in pages.items():
        b = web()
        b.sign_in(who)
        for path in paths:
            r = b.get(path)
            assert r.status_code == 200, (who, path)
            missing = re.findall(r">\s*((?:nav|item|form|inbox|admin|home|list|my|sign_in|error|field|state|action|choice|history|task)\.[a-z_.]+)\s*<", r.text)
            assert not missing, (who, path, missing)


def test_the_admin_adds_a_user_and_sees_the_outbox(web):
    b = web()
    b.sign_in("admin")
    r = b.post("/admin/users", {"email": "new@stakeholders.example", "password": "long enough", "role": "stakeholder"},
               csrf_from="/admin")
    assert r.status_code == 422 and "a stakeholder needs an organisation" in r.text
    assert 'value="new@stakeholders.example"' in r.text and "long enough" not in r.text
    r = b.post("/admin/users", {"email": "new@stakeholders.example", "password": "long enough", "role": "stakeholder",
                                "organisation": "UNODC"})
    assert r.status_code == 200 and "Added new@stakeholders.example." in r.text and "UNODC" in r.text
    assert "Captured emails" in r.text and "Outbox" in r.text
    other = web()
    other.sign_in("tha")
    assert other.get("/admin").status_code == 403


def test_after_a_revision_request_the_member_state_resubmits_the_edited_proposal_from_its_page(web, api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="revise", comment="Add the partner agencies.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    b = web()
    b.sign_in("tha")
    r = b.get(f"/proposals/{ref}")
    assert "Revision requested" in r.text and "Add the partner agencies." in r.text
    assert 'name="changes.title" value="Regional workshop on victim identification"' in r.text  # current values
    form = {"changes.title": "Regional workshop on victim identification, with partner agencies",
            "changes.summary": "Now with the partner agencies named.", "comment": "Partners added.",
            # the boxes come ticked with the current choices, and a browser posts them
            "changes.thematic_areas": ["trafficking_in_persons"], "changes.partner_member_states": ["KHM", "LAO"]}
    assert re.search(r'name="changes.partner_member_states" value="KHM" checked', r.text)
    r = b.post(f"/proposals/{ref}/actions/resubmit", form, csrf_from=f"/proposals/{ref}")
    assert r.status_code == 200 and "Done: Resubmitted." in r.text and "Co-Manager review" in r.text, re.findall(r"class=\"error[s]?\"[^>]*>([^<]+)", r.text)
    assert "with partner agencies" in r.text and "(round 2)" in r.text


def test_an_item_page_is_read_in_one_transaction(web, api, db_kind):
    """Everything a page shows of an item (details, actions with their choices, timeline,
    diagram) comes from one read of the database, the item itself read once. (Who is signed in
    is a read of its own on SQLite; on PostgreSQL the worker knows the live session already.)"""
    from sqlalchemy import event

    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    b = web()
    b.sign_in("cm_aus")
    engine = b.client._client.app.state.services.engine.sync_engine
    transactions: list[list[str]] = []
    current: dict[int, list[str]] = {}

    def begin(conn):
        current[id(conn)] = []
        transactions.append(current[id(conn)])

    def statement(conn, cursor, sql, *_):
        current.setdefault(id(conn), []).append(sql)

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        page = b.get(f"/proposals/{ref}")
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", statement)
    assert page.status_code == 200 and "Record your recommendation" in page.text and "Timeline" in page.text
    sessions = [t for t in transactions if any("FROM sessions" in sql for sql in t)]
    the_page = [t for t in transactions if t not in sessions]
    assert len(sessions) == (0 if db_kind == "postgresql" else 1) and len(the_page) == 1
    assert sum("FROM proposals" in sql for sql in the_page[0]) == 1  # the item, once
