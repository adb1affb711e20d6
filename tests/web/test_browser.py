"""The whole proposal walk in a real browser (Playwright driving Debian's chromium) against the
running service: forms typed into, buttons clicked, as each person would. A screenshot of
every page is kept under test-artifacts/screenshots/ (not committed)."""
from __future__ import annotations

import asyncio
import os
import contextlib
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from rso.app import create_app
from tests.conftest import PASSWORD, ROSTER

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
# As root, in a closed network: no sandbox, and no background calls that the network refuses.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def in_browser(scenario):
    """Run `scenario(browser)` in a fresh headless chromium (Playwright's async API, inside
    this test only: no event loop is left running for the tests after it)."""
    from playwright.async_api import async_playwright
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed: make test installs it (apt-get install chromium)"

    async def run():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                await scenario(browser)
            finally:
                await browser.close()
    asyncio.run(run())


@contextlib.contextmanager
def served(settings, **update):
    """The app served over HTTP on a free port, as `rso serve` would, its links to itself:
    (its address, the settings it runs with)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={**update, "base_url": f"http://127.0.0.1:{port}"})
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def service(settings):
    with served(settings) as (base, _):
        yield base


class Person:
    def __init__(self, base: str, who: str, shots: Path):
        self.base, self.who, self.shots = base, who, shots

    async def sign_in(self, browser, width: int = 1280, keyboard: bool = False):
        # a US-locale browser: its date pickers would show mm/dd/yyyy; the pages' dates are day month year
        self.context = await browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        self.page = p = await self.context.new_page()
        p.set_default_timeout(15_000)
        await p.goto(self.base + "/sign-in")
        if keyboard:  # Tab to the fields, type, Enter: no mouse
            for _ in range(6):
                await p.keyboard.press("Tab")
                if await p.evaluate("document.activeElement.id") == "email":
                    break
            assert await p.evaluate("document.activeElement.id") == "email", "the email field is not reachable by Tab"
            await p.keyboard.type(ROSTER[self.who]["email"])
            await p.keyboard.press("Tab")
            await p.keyboard.type(PASSWORD)
            await p.keyboard.press("Enter")
        else:
            await p.get_by_label("Email address").fill(ROSTER[self.who]["email"])
            await p.get_by_label("Password").fill(PASSWORD)
            await p.get_by_role("button", name="Sign in").click()
        await p.wait_for_load_state()
        return self

    async def shot(self, name: str):
        self.shots.mkdir(parents=True, exist_ok=True)
        n = len(list(self.shots.glob("*.png"))) + 1
        await self.page.screenshot(path=str(self.shots / f"{n:02d}-{self.who}-{name}.png"), full_page=True)

    async def act(self, action_label: str):
        """Open the action's form (if folded) and return it."""
        details = self.page.locator("details.action", has=self.page.locator("summary", has_text=action_label))
        if await details.get_attribute("open") is None:
            await details.locator("summary").click()
        return details

    async def close(self):
        await self.context.close()


def _fresh(path: Path) -> Path:
    """The screenshots' folder, emptied; as of another day (`make test`'s days run side by
    side), a folder of that day's own."""
    if day := os.environ.get("RSO_TEST_TODAY"):
        path = path / day
    for old in path.glob("*.png"):
        old.unlink(missing_ok=True)
    return path


def test_a_proposal_from_the_form_to_approved_through_every_persons_pages(service, db_kind, tmp_path):
    shots = _fresh(ARTIFACTS / db_kind / "walk")
    from tests.api.test_documents import make_pdf
    note = tmp_path / "Concept note.pdf"
    note.write_bytes(make_pdf())

    async def walk(browser):
        tha = await Person(service, "tha", shots).sign_in(browser)
        p = tha.page
        assert await p.get_by_role("heading", level=1).inner_text() == "My proposals and nominations"
        await p.get_by_role("link", name="New proposal").first.click()
        await p.get_by_label("Title").fill("Regional workshop on victim identification")
        await p.get_by_label("Summary").fill("Three days for frontline officers.")
        await p.get_by_label("Type of engagement").select_option("new_project")
        await p.get_by_label("Scope").select_option("regional")
        await p.get_by_label("Trafficking in persons").check()
        await p.get_by_label("Cambodia (KHM)").check()
        await p.get_by_label("Amount").fill("120000")
        await p.get_by_label("Currency (ISO code, e.g. USD)").fill("USD")
        # dates as the RSO writes them, day first, whatever the browser's language
        await p.get_by_label("Proposed start").fill("1 March 2027")
        await p.get_by_label("Proposed end").fill("30/09/2027")
        assert await p.locator("fieldset.choices.many .chosen").inner_text() == "Chosen: Cambodia (KHM)"
        await tha.shot("new-proposal-filled")
        await p.get_by_role("button", name="Save as draft").click()
        await p.wait_for_load_state()
        main = await p.inner_text("main")
        assert "Saved as a draft." in main and "Mon 1 Mar 2027" in main and "Thu 30 Sep 2027" in main
        ref = re.search(r"RSO-P-\d{4}-\d{4}", p.url).group(0)

        # the concept note, attached to the draft, then the draft submitted
        attach = await tha.act("Attach a document")
        await attach.get_by_label("Kind").select_option("concept_note")
        await attach.get_by_label("File").set_input_files(str(note))
        await tha.shot("attach")
        await attach.get_by_role("button", name="Upload").click()
        await p.wait_for_load_state()
        assert "Done: Document attached." in await p.inner_text("main")
        assert "Concept note.pdf" in await p.locator("table.documents").inner_text()
        withdraw = p.locator("details.action.danger", has=p.locator("summary", has_text="Withdraw"))
        assert await withdraw.get_attribute("open") is None  # final: folded, never the main button
        form = await tha.act("Submit")
        await form.get_by_role("button", name="Submit").click()
        await p.wait_for_load_state()
        assert "Done: Submitted." in await p.inner_text("main")
        assert await p.locator("ol.progress li[aria-current=step]").inner_text() == "2\nCo-Manager review"
        await tha.shot("submitted")

        # a co-manager asks a question, the member state answers
        cm = await Person(service, "cm_aus", shots).sign_in(browser)
        q = cm.page
        await q.get_by_role("link", name=re.compile(ref)).click()
        await q.get_by_label("Add a comment").fill("Which provinces will take part?")
        await q.get_by_role("button", name="Post the comment").click()
        await q.wait_for_load_state()
        assert "Done: Comment." in await q.inner_text("main")
        await cm.close()
        await p.goto(f"{service}/proposals/{ref}")
        assert "Which provinces will take part?" in await p.locator("ol.timeline").inner_text()
        await p.get_by_label("Add a comment").fill("Songkhla and Satun; details at https://example.org/plan")
        await p.get_by_role("button", name="Post the comment").click()
        await p.wait_for_load_state()
        assert await p.get_by_role("link", name="https://example.org/plan").count() == 1
        await tha.shot("answered")

        for who in ("cm_aus", "cm_idn"):
            cm = await Person(service, who, shots).sign_in(browser)
            q = cm.page
            assert await q.get_by_role("heading", level=1).inner_text() == "Inbox"
            assert "1 open, 0 overdue" in await q.inner_text("main")
            await cm.shot("inbox")
            await q.get_by_role("link", name=re.compile(ref)).click()
            assert "Songkhla and Satun" in await q.locator("ol.timeline").inner_text()
            if who == "cm_aus":  # reads the concept note before endorsing
                async with q.expect_download() as got:
                    await q.get_by_role("link", name="Concept note.pdf").click()
                download = await got.value
                assert download.suggested_filename == "Concept note.pdf"
                assert Path(await download.path()).read_bytes() == note.read_bytes()
            form = await cm.act("Record your recommendation")
            await form.get_by_label("Recommendation").select_option("endorse")
            await cm.shot("review")
            await form.get_by_role("button", name="Record your recommendation").click()
            await q.wait_for_load_state()
            assert "Done: Recommendation recorded." in await q.inner_text("main")
            if who == "cm_idn":
                form = await cm.act("Open a stakeholder consultation")
                await form.get_by_label("IOM focal point (IOM)").check()
                await cm.shot("open-consultation")
                await form.get_by_role("button", name="Open a stakeholder consultation").click()
                await q.wait_for_load_state()
                assert "Stakeholder consultation" in await q.inner_text("main")
                await cm.shot("consultation-opened")
            await cm.close()

        iom = await Person(service, "iom", shots).sign_in(browser, width=390, keyboard=True)  # on a phone
        q = iom.page
        assert await q.get_by_role("heading", level=1).inner_text() == "Consultation invitations"
        await iom.shot("invitations")
        await q.get_by_role("link", name=re.compile(ref)).click()
        form = await iom.act("Give your response")
        await form.get_by_label("Position").select_option("support")
        await form.get_by_label("Comment").fill("IOM can co-facilitate.")
        await iom.shot("respond")
        await form.get_by_role("button", name="Give your response").click()
        await q.wait_for_load_state()
        assert "Done: Response given." in await q.inner_text("main")
        await iom.close()

        chair = await Person(service, "chair_aus", shots).sign_in(browser)
        q = chair.page
        assert await q.get_by_role("heading", level=1).inner_text() == "Guidance queue"
        await q.get_by_role("link", name=re.compile(ref)).click()
        main = await q.inner_text("main")
        assert "Endorse" in main and "IOM can co-facilitate." in main  # the votes and the responses so far
        form = await chair.act("Give guidance")
        await form.get_by_label("Decision").select_option("approve")
        await chair.shot("guidance")
        await form.get_by_role("button", name="Give guidance").click()
        await q.wait_for_load_state()
        await chair.close()

        await p.goto(f"{service}/my")
        await p.get_by_role("link", name=ref).click()
        timeline = await p.locator("ol.timeline").inner_text()
        assert "Guidance given: Approve by Co-Chair AUS" in timeline and "Co-Chairs' guidance → Approved" in timeline
        assert await p.locator(".state").first.inner_text() == "Approved"
        steps = await p.locator("ol.progress li").evaluate_all("els => els.map(e => e.className)")
        assert steps == ["step done", "step done", "step done", "step done", "step current"]
        assert "Decision\nApproved" in await p.locator("ol.progress li[aria-current=step]").inner_text()
        # the whole lifecycle on demand, drawn at a size one can read, in the product's words
        await p.get_by_text("The whole lifecycle").click()
        await p.wait_for_selector(".diagram svg")  # Mermaid drew it, from this site's own copy
        heights = await p.locator(".diagram svg .nodeLabel").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height).filter(h => h > 0)")
        assert len(heights) >= 8 and min(heights) >= 12, heights  # each state's name, 12 px tall or more
        drawn = await p.locator(".diagram svg").evaluate("svg => svg.textContent")
        assert "Co-Manager review" in drawn and "co_manager_review" not in drawn
        await tha.shot("approved-timeline")
        await tha.close()

    in_browser(walk)


def test_a_form_with_bad_input_shows_the_messages_and_another_states_page_stays_closed(service, db_kind):
    shots = _fresh(ARTIFACTS / db_kind / "refusals")

    async def refusals(browser):
        tha = await Person(service, "tha", shots).sign_in(browser, width=390)
        p = tha.page
        await p.goto(f"{service}/proposals/new")
        await p.get_by_label("Title").fill("ab")
        await p.get_by_label("Currency (ISO code, e.g. USD)").fill("ZZZ")
        await p.get_by_label("Amount").fill("1000")
        await p.get_by_role("button", name="Save as draft").click()
        await p.wait_for_load_state()
        assert "Nothing was saved" in await p.inner_text("main")
        assert "at least 3 characters" in await p.locator("#f-title-err").inner_text()
        assert "ISO 4217" in await p.locator("#f-budget-currency-err").inner_text()
        assert await p.get_by_label("Title").input_value() == "ab"  # what was typed is kept
        await tha.shot("bad-input")
        await p.get_by_label("Title").fill("Border data exchange pilot")
        await p.get_by_label("Currency (ISO code, e.g. USD)").fill("AUD")
        await p.get_by_role("button", name="Save as draft").click()
        await p.wait_for_load_state()
        assert "Saved as a draft." in await p.inner_text("main")
        ref = re.search(r"RSO-P-\d{4}-\d{4}", p.url).group(0)

        phl = await Person(service, "phl", shots).sign_in(browser)
        response = await phl.page.goto(f"{service}/proposals/{ref}")
        assert response.status == 404 and "Border data exchange pilot" not in await phl.page.content()
        assert "not one you may see" in await phl.page.inner_text("main")
        await phl.shot("other-state-refused")
        await phl.close()
        await tha.close()

    in_browser(refusals)


def test_back_after_signing_out_shows_the_sign_in_page_not_the_confidential_one(service, db_kind):
    shots = _fresh(ARTIFACTS / db_kind / "back")

    async def scenario(browser):
        cm = await Person(service, "cm_aus", shots).sign_in(browser)
        p = cm.page
        await p.goto(service + "/tasks")
        assert await p.get_by_role("heading", level=1).inner_text() == "Inbox"
        await p.get_by_role("button", name="Sign out").click()
        await p.wait_for_load_state()
        assert "You have signed out." in await p.inner_text("main")
        await p.go_back()
        await p.wait_for_load_state()
        await cm.shot("back-after-sign-out")
        assert await p.get_by_role("heading", level=1).inner_text() == "Sign in"
        assert "Inbox" not in await p.inner_text("main")
        await cm.close()

    in_browser(scenario)


def test_the_dashboards_charts_fit_a_phone_and_their_text_stays_readable(service, api, db_kind):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    shots = _fresh(ARTIFACTS / f"dashboard-{db_kind}")

    async def scenario(browser):
        cm = await Person(service, "cm_aus", shots).sign_in(browser, width=360)
        p = cm.page
        await p.goto(service + "/dashboard")
        await cm.shot("dashboard-phone")
        charts = p.locator("svg.chart")
        assert await charts.count() >= 2
        page_width = await p.evaluate("document.documentElement.clientWidth")
        assert await p.evaluate("document.documentElement.scrollWidth") <= page_width  # nothing wider than the phone
        for i in range(await charts.count()):
            box = await charts.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= page_width
            # Each label drawn at least 11 px high on the phone's screen.
            heights = await charts.nth(i).locator("text").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().height)")
            assert heights and min(heights) >= 11, heights
        # The numbers beside each chart, as a table a screen reader reads.
        assert await p.get_by_role("table").count() >= 4
        await cm.close()
    in_browser(scenario)
