"""Each user's private calendar feed: their inbox's open tasks as iCalendar, at a secret address
read without a session, that they can renew (the old address then stops working)."""
from __future__ import annotations

from datetime import date, timedelta

from icalendar import Calendar

from services.engine import delegations
from services.engine.models import User
from services.infra.signing import Signer
from tests.conftest import ROSTER

BASE = "https://workflow.rso.example"  # the test settings' base_url


def events(client, url: str) -> dict[str, object]:
    """The feed's events by UID, read as a calendar app would."""
    assert url.startswith(BASE + "/calendar/") and url.endswith(".ics")
    r = client.get(url.removeprefix(BASE))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "set-cookie" not in r.headers  # no session made for a calendar app
    return {str(e["UID"]): e for e in Calendar.from_ical(r.content).walk("VEVENT")}


def matches_inbox(api, who: str, found: dict) -> None:
    """The feed says what the inbox says: the same tasks, each on its due day, with its item."""
    tasks = api.get(who, "/tasks").json()
    assert set(found) == {f"task-{t['id']}@rso-workflow" for t in tasks}
    for t in tasks:
        e = found[f"task-{t['id']}@rso-workflow"]
        due = date.fromisoformat(t["due_date"])
        assert e.decoded("DTSTART") == due and e.decoded("DTEND") == due + timedelta(days=1)
        summary, link = str(e["SUMMARY"]), f"{BASE}/proposals/{t['reference']}"
        assert t["reference"] in summary and t["title"] in summary and "review" in summary
        assert str(e["URL"]) == link and link in str(e["DESCRIPTION"])


def later(api, days: int) -> None:
    """The service's clock `days` after the test's start; everyone signs in afresh (a session
    does not last days)."""
    api.clock.now = api.clock.start + timedelta(days=days)
    api._tokens.clear()


def test_a_co_managers_feed_follows_their_inbox_and_a_renewed_address_replaces_the_old(api, clock, settings):
    clock.now = clock.start
    first = api.act("tha", api.create(title="Workshop on victim identification")["id"], "submit")
    later(api, 3)  # a later submission, due later
    second = api.act("tha", api.create(title="Study on online recruitment")["id"], "submit")
    url = api.get("cm_aus", "/calendar").json()["url"]
    assert api.get("cm_aus", "/calendar").json()["url"] == url  # the same address until renewed

    found = events(api.client, url)
    assert len(found) == 2
    matches_inbox(api, "cm_aus", found)
    assert {e.decoded("DTSTAMP") for e in found.values()} == {clock.now}  # the service's clock
    assert set(events(api.client, url)) == set(found)  # UIDs stable from one fetch to the next
    cal = Calendar.from_ical(api.client.get(url.removeprefix(BASE)).content)
    assert str(cal["X-WR-CALNAME"]) == "RSO Workflow tasks — Co-Manager AUS"

    # Done: gone. A split vote goes to the co-chairs, who return it for a new round, due later.
    api.act("cm_aus", first["reference"], "review", recommendation="endorse")
    after = events(api.client, url)
    assert set(after) == set(found) - {f"task-{t['id']}@rso-workflow" for t in first["tasks"]}
    api.act("cm_idn", first["reference"], "review", recommendation="decline", comment="Too costly.")
    later(api, 8)
    returned = api.act("chair_idn", first["reference"], "give_guidance", decision="return_to_co_managers",
                       comment="Please agree a reduced budget.")
    assert returned["round"] == 2
    again = events(api.client, url)
    new_uid = {f"task-{t['id']}@rso-workflow" for t in returned["tasks"]} & set(again)
    assert len(again) == 2 and len(new_uid) == 1 and not (set(found) - set(after)) & set(again)
    matches_inbox(api, "cm_aus", again)
    [new] = [again[u] for u in new_uid]
    [old_due] = {found[u].decoded("DTSTART") for u in set(found) - set(after)}
    assert new.decoded("DTSTART") > old_due  # the new round's due day, not the last one's

    # Renewing: the old address stops working, the new one works; each user's is their own.
    renewed = api.post("cm_aus", "/calendar/renew").json()["url"]
    assert renewed != url and api.get("cm_aus", "/calendar").json()["url"] == renewed
    gone = api.client.get(url.removeprefix(BASE))
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("text/plain")
    assert "renewed" in gone.text and "set-cookie" not in gone.headers
    assert set(events(api.client, renewed)) == set(again)
    others = events(api.client, api.get("cm_idn", "/calendar").json()["url"])
    matches_inbox(api, "cm_idn", others)
    assert not set(others) & set(again)

    # Tampered, or signed for another purpose: no calendar.
    token = renewed.removeprefix(BASE + "/calendar/").removesuffix(".ics")
    assert api.client.get(f"/calendar/{token[:-2]}xx.ics").status_code == 404
    user_id = Signer(settings.signing_key(), "calendar-feed").read(token)["u"]  # ids only, nothing secret
    other = Signer(settings.signing_key(), "email-action").sign({"u": user_id, "g": 1})
    assert api.client.get(f"/calendar/{other}.ics").status_code == 404
    assert api.client.get(f"/calendar/{Signer('another service', 'calendar-feed').sign({'u': user_id, 'g': 1})}.ics"
                          ).status_code == 404

    # Someone acting for the co-manager while away has their tasks in their own feed, marked whose.
    async def name_acting():
        svc = api.client.app.state.services
        async with svc.uow(write=False) as uow:
            away = await uow.session.get(User, user_id)
        today = api.clock.today()
        await delegations.create(svc, user=away, delegate=ROSTER["chair_aus"]["email"], starts_on=today,
                                 ends_on=today + timedelta(days=5))
    api.client.portal.call(name_acting)
    acting = events(api.client, api.get("chair_aus", "/calendar").json()["url"])
    matches_inbox(api, "chair_aus", acting)
    assert set(acting) == set(again)
    assert all(str(e["SUMMARY"]).endswith(" for Co-Manager AUS") for e in acting.values())

    # A deactivated user's feed is gone with their account.
    assert api.post("admin", f"/admin/users/{user_id}/deactivate").status_code == 204
    assert api.client.get(renewed.removeprefix(BASE)).status_code == 404


def test_the_account_page_shows_the_feeds_address_and_renews_it(web):
    browser = web()
    browser.sign_in("cm_aus")
    assert 'href="/account/calendar"' in browser.get("/account").text
    page = browser.get("/account/calendar")
    assert page.status_code == 200 and "keep this address private" in page.text.lower()
    url = page.text.split('id="feed-url" type="text" readonly value="')[1].split('"')[0]
    assert events(browser.client, url) == {}  # nothing to do yet

    assert browser.client.post("/account/calendar/renew", data={"csrf": "forged"}).status_code == 403
    assert events(browser.client, url) == {}  # a forged form renews nothing
    done = browser.post("/account/calendar/renew", {})
    assert done.status_code == 200 and "old address has stopped working" in done.text
    new = done.text.split('id="feed-url" type="text" readonly value="')[1].split('"')[0]
    assert new != url and browser.client.get(url.removeprefix(BASE)).status_code == 404
    assert events(browser.client, new) == {}
