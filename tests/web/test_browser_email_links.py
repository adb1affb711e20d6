"""Acting from an email in a real browser: a real SMTP server receives the review request, the
browser opens the link found in the message's body, the confirm page shows, the co-manager
confirms with a comment, the recommendation is recorded "by email link", and the same link
opened again is refused; an altered link too. Screenshots under test-artifacts/."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from rso.app import create_app
from tests.conftest import ROSTER, Api
from tests.test_emails import deliver_pass, parts
from tests.web.test_browser import ARTIFACTS, _fresh, in_browser, served

pytestmark = pytest.mark.slow


@pytest.fixture
def live(settings, mail_settings_for, clock):
    """The service over HTTP with a real SMTP server, its emails' links pointing at it."""
    with served(mail_settings_for(settings)) as (base, settings), TestClient(create_app(settings, clock=clock)) as client:
        yield base, Api(client, clock), settings


def test_a_co_manager_declines_from_the_email_in_a_browser_and_the_link_then_dies(live, smtp_inbox, db_kind):
    base, api, settings = live
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    (message,) = smtp_inbox.to(ROSTER["cm_idn"]["email"])
    text, _ = parts(message)
    link = re.search(rf"^- Decline: ({re.escape(base)}/act/\S+?)\r?$", text, flags=re.M).group(1)
    shots = _fresh(ARTIFACTS / f"email-link-{db_kind}")

    async def scenario(browser):
        context = await browser.new_context(viewport={"width": 390, "height": 844})  # read on a phone
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await page.goto(link)
        assert await page.get_by_role("heading", level=1).inner_text() == "Record your recommendation: Decline"
        assert ref in await page.content()
        await page.screenshot(path=str(shots / "01-confirm.png"), full_page=True)
        await page.get_by_label("Comment").fill("Outside the RSO's mandate for 2027.")
        await page.get_by_role("button", name="Confirm: Decline").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("heading", level=1).inner_text() == "Done"
        assert "by email link" in await page.get_by_role("status").inner_text()
        await page.screenshot(path=str(shots / "02-done.png"), full_page=True)
        assert [c["name"] for c in await context.cookies() if c["name"] == "rso_session"] == []  # no session

        await page.goto(link)  # the second use
        assert await page.get_by_role("heading", level=1).inner_text() == "This link has already been used"
        assert await page.get_by_role("link", name="sign in to RSO Workflow").count() == 1
        await page.screenshot(path=str(shots / "03-used.png"), full_page=True)
        await page.goto(link[:-4] + ("xxxx" if not link.endswith("xxxx") else "yyyy"))
        assert await page.get_by_role("heading", level=1).inner_text() == "This link is not valid"
        await context.close()

    shots.mkdir(parents=True, exist_ok=True)
    in_browser(scenario)
    review = api.get("cm_aus", f"/proposals/{ref}").json()["reviews"]
    assert [(r["country"], r["recommendation"], r["comment"]) for r in review] == [
        ("IDN", "decline", "Outside the RSO's mandate for 2027.")]
    event = api.get("cm_aus", f"/proposals/{ref}/history").json()[-1]
    assert (event["actor"], event["via"]) == ("Co-Manager IDN", "email_link")
