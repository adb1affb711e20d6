"""Delegation over the API: a co-manager or co-chair away names someone to act for them; the
delegate sees their tasks, gets their emails, acts in their seat; the two keys stay two
people's, over every combination: own seat, delegated seat, both, an expired delegation, an
overlapping one. Dates are the service's (the test clock), never the wall clock's."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from rso.app import create_app
from services.deadlines import sweep
from services.wiring import build_services
from tests.conftest import ROSTER, TH, Api
from tests.test_emails import deliver_pass, parts

EMAIL = {who: r["email"] for who, r in ROSTER.items()}


def name(api, who, delegate, starts: date, ends: date, expect=201, **extra):
    r = api.post(who, "/delegations", {"delegate": EMAIL.get(delegate, delegate), "starts_on": starts.isoformat(),
                                       "ends_on": ends.isoformat(), **extra})
    assert r.status_code == expect, r.text
    return r.json()


def inbox(api, who) -> list[tuple[str, str | None]]:
    return [(t["reference"], t["on_behalf_of"]) for t in api.get(who, "/tasks").json()]


def last_event(api, ref) -> dict:
    return api.get("cm_idn", f"/proposals/{ref}/history").json()[-1]


def submitted(api) -> str:
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    return ref


def sweep_at(settings, moment) -> None:
    """One deadline sweep as of `moment`, as `rso sweep --now` runs it."""
    async def run():
        svc = build_services(settings)
        try:
            await sweep(svc, moment)
        finally:
            await svc.dispose()
    asyncio.run(run())


def later(api, days: int) -> None:
    """The service's clock `days` on, at 10:00 in Bangkok."""
    api.clock.now = api.clock() + timedelta(days=days)
    api._tokens.clear()  # days later: everyone signs in again


def test_a_delegate_sees_the_absent_co_managers_tasks_and_acts_in_their_seat(api):
    today = api.clock.today()
    d = name(api, "cm_aus", "chair_aus", today, today + timedelta(days=7))
    assert (d["principal"], d["delegate"], d["status"]) == ("Co-Manager AUS", "Co-Chair AUS", "active")
    ref = submitted(api)
    # Both see the AUS seat's review; the delegate's is marked whose it is.
    assert inbox(api, "cm_aus") == [(ref, None)]
    assert inbox(api, "chair_aus") == [(ref, "Co-Manager AUS")]
    assert api.get("chair_aus", f"/proposals/{ref}").json()["available_actions"] == ["review"]
    assert api.get("cm_aus", "/me").json()["away"] == {"until": (today + timedelta(days=7)).isoformat(),
                                                       "acting": ["Co-Chair AUS"]}
    assert api.get("chair_aus", "/me").json()["acting_for"] == ["Co-Manager AUS"]

    api.act("chair_aus", ref, "review", recommendation="endorse", comment="Covering for the AUS co-manager.")
    e = last_event(api, ref)
    assert (e["actor"], e["on_behalf_of"], e["arguments"]["country"]) == (
        "Co-Chair AUS for Co-Manager AUS", "Co-Manager AUS", "AUS")
    # The AUS seat has voted: neither its holder nor its delegate votes again this round.
    assert "already been given" in api.act("cm_aus", ref, "review", expect=409, recommendation="endorse")["detail"]
    api.act("chair_aus", ref, "review", expect=409, recommendation="endorse")
    assert inbox(api, "chair_aus") == [] and inbox(api, "cm_aus") == []
    reviews = api.get("cm_idn", f"/proposals/{ref}").json()["reviews"]
    assert [(r["country"], r["reviewer"]) for r in reviews] == [("AUS", "Co-Chair AUS")]
    # Own seat: the IDN co-manager votes once, as ever.
    both = api.act("cm_idn", ref, "review", recommendation="endorse")
    assert both["available_actions"] == ["open_consultation", "refer_to_co_chairs"]
    assert last_event(api, ref)["on_behalf_of"] is None
    api.act("cm_idn", ref, "review", expect=409, recommendation="endorse")
    # The delegate holds the seat for every co-manager action: the referral, in the AUS seat.
    api.act("chair_aus", ref, "refer_to_co_chairs", comment="Both endorsed.")
    assert last_event(api, ref)["actor"] == "Co-Chair AUS for Co-Manager AUS"


def test_the_two_keys_stay_two_peoples_hands(api):
    today = api.clock.today()
    week = today + timedelta(days=4)

    def refused(who, delegate, starts, ends, field, words, **extra):
        errors = name(api, who, delegate, starts, ends, expect=422, **extra)["errors"]
        assert any(e["field"] == field and words in e["message"] for e in errors), errors

    # The holder of the other co-manager seat can never be named; nor a member state, nor oneself.
    refused("cm_aus", "cm_idn", today, week, "delegate", "other co-manager seat")
    refused("cm_aus", "tha", today, week, "delegate", "only a co-manager or a co-chair")
    refused("cm_aus", "cm_aus", today, week, "delegate", "yourself")
    refused("cm_aus", "chair_aus", week, today, "ends_on", "must not be before the first day")
    refused("cm_aus", "chair_aus", today - timedelta(days=9), today - timedelta(days=2), "ends_on", "past")
    name(api, "cm_aus", "chair_aus", today, week)
    # Overlapping: one acting person at a time, and nobody in both co-manager seats on any day.
    refused("cm_aus", "chair_idn", week, week + timedelta(days=3), "starts_on", "already acts for Co-Manager AUS")
    refused("cm_idn", "chair_aus", week, week + timedelta(days=5), "delegate", "other co-manager seat (AUS)")
    # After the AUS cover is over, the same person may cover the IDN seat.
    name(api, "cm_idn", "chair_aus", week + timedelta(days=1), week + timedelta(days=9))

    ref = submitted(api)
    api.act("chair_aus", ref, "review", recommendation="endorse")  # for the AUS co-manager
    later(api, 6)  # now in the IDN cover
    assert inbox(api, "chair_aus") == [(ref, "Co-Manager IDN")]
    assert api.get("chair_aus", f"/proposals/{ref}").json()["available_actions"] == []
    r = api.act("chair_aus", ref, "review", expect=409, recommendation="decline", comment="no")
    assert "one person gives at most one of the round's two reviews" in r["detail"]
    # The seat's own holder still votes: a split, for the co-chairs.
    api.act("cm_idn", ref, "review", recommendation="decline", comment="Out of scope.")
    # Both seats: the co-chair gave the AUS review of this round, so the other co-chair arbitrates it.
    assert api.get("chair_aus", f"/proposals/{ref}").json()["available_actions"] == []
    r = api.act("chair_aus", ref, "give_guidance", expect=409, decision="approve", comment="Approved.")
    assert "the other Co-Chair gives the guidance" in r["detail"]
    api.act("chair_idn", ref, "give_guidance", decision="approve", comment="On behalf of both co-chairs.")
    assert last_event(api, ref)["actor"] == "Co-Chair IDN"  # in their own seat: no "for"


def test_an_expired_an_ended_and_an_admins_delegation(api):
    today = api.clock.today()
    # An admin names the person away; a co-manager names only for themselves.
    assert name(api, "admin", "chair_idn", today, today, expect=422)["errors"][0]["field"] == "principal"
    name(api, "cm_idn", "chair_idn", today, today + timedelta(days=2), expect=403, principal=EMAIL["cm_aus"])
    name(api, "tha", "chair_idn", today, today + timedelta(days=2), expect=403)
    assert api.get("tha", "/delegations").status_code == 403 and api.get("iom", "/delegations").status_code == 403
    d = name(api, "admin", "chair_idn", today, today + timedelta(days=1), principal=EMAIL["cm_aus"])
    assert (d["principal"], d["created_by"]) == ("Co-Manager AUS", "Admin")
    ref = submitted(api)
    assert inbox(api, "chair_idn") == [(ref, "Co-Manager AUS")]
    assert [x["id"] for x in api.get("chair_idn", "/delegations").json()] == [d["id"]]

    later(api, 2)  # the delegation is over: the tasks and the seat go back
    assert inbox(api, "chair_idn") == []
    api.act("chair_idn", ref, "review", expect=403, recommendation="endorse")
    assert api.get("cm_aus", "/delegations").json() == []
    assert [x["status"] for x in api.get("cm_aus", "/delegations?include_past=true").json()] == ["over"]

    start = api.clock.today()
    d2 = name(api, "cm_aus", "chair_idn", start, start + timedelta(days=3))
    assert inbox(api, "chair_idn") == [(ref, "Co-Manager AUS")]
    assert api.client.delete(f"/api/v1/delegations/{d2['id']}", headers=api.headers("tha")).status_code == 404
    r = api.client.delete(f"/api/v1/delegations/{d2['id']}", headers=api.headers("cm_aus"))
    assert r.status_code == 200 and r.json()["status"] == "ended"
    assert inbox(api, "chair_idn") == []
    api.act("chair_idn", ref, "review", expect=403, recommendation="endorse")


@pytest.fixture
def mail_api(settings, mail_settings_for, clock):
    settings = mail_settings_for(settings)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock), settings


def test_the_emails_of_someone_away_go_to_both(mail_api, smtp_inbox):
    api, settings = mail_api
    today = api.clock.today()
    name(api, "cm_aus", "chair_aus", today, today + timedelta(days=40))
    name(api, "chair_idn", "cm_idn", today, today + timedelta(days=40))
    deliver_pass(settings)  # the delegates are told; the ones away named them, and hear nothing
    (told,) = smtp_inbox.to(EMAIL["chair_aus"])
    assert told["Subject"].startswith("You act for Co-Manager AUS from ")
    assert "Co-Manager AUS (co-manager, AUS) has named you to act for them from " in parts(told)[0]
    assert smtp_inbox.to(EMAIL["cm_aus"]) == [] and len(smtp_inbox.to(EMAIL["cm_idn"])) == 1
    smtp_inbox.messages.clear()
    submitted(api)
    deliver_pass(settings)
    assert len(smtp_inbox.to(EMAIL["cm_aus"])) == 1
    (copy,) = smtp_inbox.to(EMAIL["chair_aus"])
    text, html = parts(copy)
    assert copy["Subject"].startswith("Review requested") and "You are acting for Co-Manager AUS" in text
    assert "Australian" in text  # in the words of the seat covered, not the co-chair's own
    assert "/act/" in text and "Endorse" in html
    smtp_inbox.messages.clear()

    # Three business days overdue: the last reminder and the escalation, both to both.
    due = date.fromisoformat(api.get("cm_aus", "/tasks").json()[0]["due_date"])
    moment = TH.at(TH.add_business_days(due, 3), 12)

    sweep_at(settings, moment)
    deliver_pass(settings, at=moment)
    got = {who: sorted(m["Subject"].split(":")[0] for m in smtp_inbox.to(EMAIL[who]))
           for who in ("cm_aus", "chair_aus", "chair_idn", "cm_idn")}
    assert any(s.startswith("Reminder") for s in got["chair_aus"]) and any(s.startswith("Reminder") for s in got["cm_aus"])
    # The review escalates to the co-chairs: the IDN co-chair's copy goes to the co-manager acting for them.
    assert any(s.startswith("Overdue") for s in got["chair_idn"]) and any(s.startswith("Overdue") for s in got["cm_idn"])


def test_a_co_manager_replaces_an_invited_stakeholder_who_cannot_answer(api):
    ref = submitted(api)
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[EMAIL["iom"], EMAIL["tip"]])
    due = api.get("tip", "/tasks").json()[0]["due_date"]
    api.act("iom", ref, "respond", position="support")
    r = api.act("cm_idn", ref, "replace_stakeholder", expect=422, stakeholder=EMAIL["iom"], replacement=EMAIL["tip"])
    assert {e["field"] for e in r["errors"]} == {"stakeholder", "replacement"}  # answered already; invited already
    moved = api.act("cm_idn", ref, "replace_stakeholder", stakeholder=EMAIL["tip"], replacement=EMAIL["unhcr"],
                    comment="The WG secretariat is between chairs until March.")
    assert [(t["assignee"], t["due_date"]) for t in moved["tasks"]] == [("UNHCR focal point (UNHCR)", due)]
    assert api.get("tip", "/tasks").json() == [] and [t["kind"] for t in api.get("unhcr", "/tasks").json()] == [
        "consultation"]
    e = last_event(api, ref)
    assert (e["action"], e["arguments"]) == ("replace_stakeholder", {"replaced": EMAIL["tip"], "by": EMAIL["unhcr"]})
    # Other stakeholders are not told who was invited.
    assert api.get("iom", f"/proposals/{ref}/history").json()[-1]["arguments"] == {}
    assert api.act("unhcr", ref, "respond", position="concerns", comment="Protection safeguards.")["state"] == (
        "co_chair_guidance")


def test_a_delegates_own_task_emails_stay_their_own_in_the_same_sweep(mail_api, smtp_inbox):
    """One sweep sends the delegate the reminder of the task they cover and of their own: each
    speaks for its own seat, each with its links."""
    api, settings = mail_api
    today = api.clock.today()
    name(api, "cm_aus", "chair_aus", today, today + timedelta(days=60))
    covered, own = submitted(api), submitted(api)
    api.act("cm_aus", own, "review", recommendation="endorse")  # away, yet still acting in person
    api.act("cm_idn", own, "review", recommendation="decline", comment="Out of scope.")  # split: guidance
    due = date.fromisoformat(next(t for t in api.get("chair_aus", "/tasks").json()
                                  if t["reference"] == own)["due_date"])
    moment = TH.at(TH.add_business_days(due, 6), 12)  # past every reminder and escalation of both

    deliver_pass(settings)
    smtp_inbox.messages.clear()
    sweep_at(settings, moment)
    deliver_pass(settings, at=moment)
    mine = {(m["Subject"].split(":")[0], covered in m["Subject"]): parts(m)[0]
            for m in smtp_inbox.to(EMAIL["chair_aus"])}
    reminder_own = mine[("Reminder, due " + (due.strftime("%A %-d %B %Y")), False)]
    assert "acting for" not in reminder_own and "- Approve: " in reminder_own  # their own guidance
    covered_reminders = [t for (s, c), t in mine.items() if c and s.startswith("Reminder")]
    assert covered_reminders and all("You are acting for Co-Manager AUS" in t and "- Endorse: " in t
                                     for t in covered_reminders)
