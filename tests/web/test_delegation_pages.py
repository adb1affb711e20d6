"""Cover while away, on the pages: a co-manager names a co-chair to act for them, the inbox of
the one away says so and shows who acts, the delegate's inbox and the item page mark what is
done for whom, and the history says "X for Y"; a refused name says why by its field."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ROSTER

pytestmark = pytest.mark.dates  # the period is days of the service's calendar


def day(d) -> str:
    return d.strftime("%-d %B %Y")


def test_cover_while_away_through_the_pages(web, api):
    today = api.clock.today()
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")

    member = web()
    member.sign_in("tha")
    assert member.get("/delegations").status_code == 403  # member states neither cover nor are covered
    away = web()
    away.sign_in("cm_aus")
    page = away.get("/delegations")
    assert page.status_code == 200 and "Cover while away" in page.text and "No delegation is scheduled" in page.text
    # The other co-manager seat's holder: refused, the reason by the field, what was typed kept.
    r = away.post("/delegations", {"delegate": ROSTER["cm_idn"]["email"], "starts_on": day(today),
                                   "ends_on": day(today + timedelta(days=6))})
    assert r.status_code == 422 and "nobody may hold both co-manager seats" in r.text
    assert 'id="f-delegate-err"' in r.text and f'value="{day(today)}"' in r.text
    r = away.post("/delegations", {"delegate": ROSTER["chair_aus"]["email"], "starts_on": "someday",
                                   "ends_on": day(today + timedelta(days=6))})
    assert r.status_code == 422 and 'id="f-starts_on-err"' in r.text
    r = away.post("/delegations", {"delegate": ROSTER["chair_aus"]["email"], "starts_on": day(today),
                                   "ends_on": day(today + timedelta(days=6))})
    assert r.status_code == 200 and "the delegation is saved" in r.text and "Acting now" in r.text

    inbox = away.get("/tasks")
    assert f"You are away until {day(today + timedelta(days=6))}" in inbox.text and "Co-Chair AUS" in inbox.text

    acting = web()
    acting.sign_in("chair_aus")
    inbox = acting.get("/tasks")
    assert "You are acting for Co-Manager AUS today" in inbox.text and "for Co-Manager AUS</span>" in inbox.text
    item = acting.get(f"/proposals/{ref}")
    assert "Co-Manager AUS is away, Co-Chair AUS acts" in away.get(f"/proposals/{ref}").text  # by the AUS review
    assert ROSTER["cm_idn"]["email"] not in away.get("/delegations").text  # the other seat's holder: not offered
    assert "Record your recommendation" in item.text and "for Co-Manager AUS</span>" in item.text
    r = acting.post(f"/proposals/{ref}/actions/review", {"recommendation": "endorse", "version": "", "comment": ""})
    assert r.status_code == 200, r.text
    assert "Co-Chair AUS for Co-Manager AUS" in acting.get(f"/proposals/{ref}").text  # the timeline

    # Ended early by the one away: the delegate's inbox no longer holds the seat's tasks.
    page = away.get("/delegations")
    (end_action,) = [p for p in page.text.split('action="')[1:] if p.startswith("/delegations/") and "/end" in p[:40]]
    r = away.post(end_action.split('"')[0], {})
    assert "the delegation has ended" in r.text and "No delegation is scheduled" in r.text
    assert "You are acting for" not in acting.get("/tasks").text


def test_a_co_manager_replaces_an_invitee_from_the_item_page(web, api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["tip"]["email"]])
    api.act("iom", ref, "respond", position="support")
    b = web()
    b.sign_in("cm_idn")
    page = b.get(f"/proposals/{ref}").text
    form = page[page.index('actions/replace_stakeholder"'):]
    form = form[:form.index("</form>")]
    # The invitee still to answer, to replace; the stakeholders not invited, to invite instead.
    assert f'<option value="{ROSTER["tip"]["email"]}"' in form.split('name="replacement"')[0]
    assert f'value="{ROSTER["iom"]["email"]}"' not in form
    assert f'<option value="{ROSTER["unhcr"]["email"]}"' in form.split('name="replacement"')[1]
    r = b.post(f"/proposals/{ref}/actions/replace_stakeholder",
               {"stakeholder": ROSTER["tip"]["email"], "replacement": ROSTER["unhcr"]["email"], "version": "",
                "comment": "The WG secretariat is between chairs."})
    assert r.status_code == 200 and "Invited stakeholder replaced" in r.text
    assert "UNHCR focal point" in r.text  # the open task, now theirs
