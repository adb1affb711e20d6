"""Acting from an email: the link in a task email, received by a real SMTP server, opened by a
client with no session. Opening changes nothing; confirming acts once, as the recipient, marked
"by email link"; a used, altered, closed, expired or someone else's link gets a page saying
which. The browser walk of the same is in test_browser_email_links."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from rso.app import create_app
from rso.web.session import SESSION
from tests.conftest import ROSTER, TH, Api
from tests.test_emails import deliver_pass, parts
from tests.web.conftest import Browser

pytestmark = pytest.mark.dates  # due dates and expiry follow the calendar
BASE = "https://workflow.rso.example"


def links(message) -> dict[str, str]:
    """The action links of an email's plain part, by label: {"Endorse": "/act/…"}."""
    text, html = parts(message)
    found = dict(re.findall(rf"^- (\w[\w ]*): {re.escape(BASE)}(/act/\S+)\r?$", text, flags=re.M))
    for path in found.values():  # the HTML part carries the same links
        assert f'href="{BASE}{path}"' in html
    return found


@pytest.fixture
def world(settings, mail_settings_for, clock, smtp_inbox):
    settings = mail_settings_for(settings)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock), Browser(client, clock), settings, smtp_inbox


def reviews(api, ref):
    return [(r["country"], r["recommendation"]) for r in api.get("cm_idn", f"/proposals/{ref}").json()["reviews"]]


def test_an_email_link_shows_the_task_then_acts_once_as_its_recipient(world):
    api, browser, settings, inbox = world
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    (aus_mail,) = inbox.to(ROSTER["cm_aus"]["email"])
    (idn_mail,) = inbox.to(ROSTER["cm_idn"]["email"])
    aus, idn = links(aus_mail), links(idn_mail)
    assert list(aus) == ["Endorse", "Revise", "Decline"] and set(aus.values()).isdisjoint(idn.values())
    assert links(inbox.to(ROSTER["tha"]["email"])[0]) == {}  # the acknowledgement asks nothing

    # Opening (as a mail scanner would, twice) shows the item and changes nothing.
    for _ in range(2):
        page = browser.get(aus["Revise"])
        assert page.status_code == 200 and ref in page.text and "Confirm: Revise" in page.text
        assert "Comment <span class=\"req\">(required)</span>" in page.text  # to recommend revise
        assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert reviews(api, ref) == [] and api.get("cm_aus", "/tasks").json() != []
    before = len(api.get("cm_idn", f"/proposals/{ref}/history").json())

    # Confirming without the comment it needs: the field says so, nothing is done.
    r = browser.post(aus["Revise"], {"comment": ""})
    assert r.status_code == 422 and "required to recommend revise" in r.text and reviews(api, ref) == []
    # With it: done, once, as the co-manager, by email link; no session opened.
    r = browser.post(aus["Revise"], {"comment": "Please add a budget breakdown."})
    assert r.status_code == 200 and "Done" in r.text and "by email link" in r.text
    assert SESSION not in browser.client._cookies
    assert reviews(api, ref) == [("AUS", "revise")]
    history = api.get("cm_idn", f"/proposals/{ref}/history").json()
    assert len(history) == before + 1
    assert (history[-1]["actor"], history[-1]["via"], history[-1]["comment"]) == (
        "Co-Manager AUS", "email_link", "Please add a budget breakdown.")

    # The same link again, the task's other links, an altered one, someone else's.
    used = browser.get(aus["Revise"])
    assert used.status_code == 410 and "already been used" in used.text and "/sign-in" in used.text
    assert browser.client.post(aus["Revise"], data={"comment": "again"}).status_code == 410
    done = browser.get(aus["Endorse"])
    assert done.status_code == 410 and "already done" in done.text
    token = idn["Endorse"]
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert browser.get(altered).status_code == 400 and "altered" in browser.last.text
    browser.sign_in("cm_aus")
    mine_not = browser.get(idn["Endorse"])
    assert mine_not.status_code == 403 and "sent to someone else" in mine_not.text
    assert reviews(api, ref) == [("AUS", "revise")]

    # A link for a task that moved on: the proposal went back to its member state.
    fresh = Browser(api.client, api.clock)
    api.act("cm_idn", ref, "review", recommendation="endorse")
    moved = fresh.get(idn["Decline"])
    assert moved.status_code == 410 and "already done" in moved.text


def test_a_link_expires_30_days_after_the_due_date_and_a_delegates_acts_for_the_absent(world):
    api, browser, settings, inbox = world
    today = api.clock.today()
    r = api.post("cm_aus", "/delegations", {"delegate": ROSTER["chair_aus"]["email"], "starts_on": today.isoformat(),
                                            "ends_on": (today + timedelta(days=60)).isoformat()})
    assert r.status_code == 201
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    told, review = inbox.to(ROSTER["chair_aus"]["email"])  # named to act; then the review, for the one away
    assert told["Subject"].startswith("You act for Co-Manager AUS") and links(told) == {}
    delegate = links(review)
    idn = links(inbox.to(ROSTER["cm_idn"]["email"])[0])
    page = browser.get(delegate["Endorse"])
    assert page.status_code == 200 and "acting for Co-Manager AUS" in page.text
    assert browser.post(delegate["Endorse"], {"comment": ""}).status_code == 200
    e = api.get("cm_idn", f"/proposals/{ref}/history").json()[-1]
    assert (e["actor"], e["via"]) == ("Co-Chair AUS for Co-Manager AUS", "email_link")

    # The IDN link lives until 30 days after the due date, to the day.
    due = date.fromisoformat(api.get("cm_idn", "/tasks").json()[0]["due_date"])
    api.clock.now = TH.at(due + timedelta(days=30), 12)
    assert browser.get(idn["Endorse"]).status_code == 200
    api.clock.now = TH.at(due + timedelta(days=31), 12)
    api._tokens.clear()  # a month on: signed in again
    late = browser.get(idn["Endorse"])
    assert late.status_code == 410 and "expired" in late.text
    assert reviews(api, ref) == [("AUS", "endorse")]


def test_a_nomination_is_accepted_from_the_email(world):
    api, browser, settings, inbox = world
    s = api.nominate()
    api.s_act("tha", s["reference"], "submit")
    deliver_pass(settings)
    choices = links(inbox.to(ROSTER["cm_aus"]["email"])[0])
    assert list(choices) == ["Accept", "Decline", "Request info"]
    page = browser.get(choices["Accept"])
    assert page.status_code == 200 and s["nominee"]["full_name"] in page.text
    done = browser.post(choices["Accept"], {"comment": ""})
    assert done.status_code == 200 and s["nominee"]["full_name"] in done.text
    after = api.get("cm_idn", f"/secondments/{s['reference']}").json()
    assert after["state"] == "arranging"
    assert api.get("cm_idn", f"/secondments/{s['reference']}/history").json()[-1]["via"] == "email_link"
    # the other co-manager's link for the same shared task: done already
    other = links(inbox.to(ROSTER["cm_idn"]["email"])[0])
    assert browser.get(other["Decline"]).status_code == 410
