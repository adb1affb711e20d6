"""The list pages as a person uses them: a filter form whose values are the address (so the
list can be bookmarked and shared), paging links and export links that keep it, a clear
message when nothing matches, and a filter that cannot be read told by its field."""
from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import parse_qsl, urlsplit

import openpyxl
import pytest

from tests.conftest import PASSWORD, ROSTER, Api, complete_proposal
from tests.web.test_browser import ARTIFACTS, Person, _fresh, in_browser, service  # noqa: F401 (a fixture)

pytestmark = pytest.mark.dates


@pytest.fixture
def made(web, clock):
    """Proposals through the API of the same app: THA's three submitted and a draft, PHL's one."""
    browser = web()
    api = Api(browser.client._client, clock)
    refs = {}
    for key, who, title, areas in (("alpha", "tha", "Alpha maritime patrols", ["people_smuggling"]),
                                   ("bravo", "phl", "Bravo border data", ["irregular_migration"]),
                                   ("charlie", "tha", "Charlie victim care", ["trafficking_in_persons"]),
                                   ("delta", "tha", "Delta coastal watch", ["trafficking_in_persons"])):
        r = api.post(who, "/proposals", {**complete_proposal(), "title": title, "thematic_areas": areas})
        assert r.status_code == 201, r.text
        refs[key] = r.json()["reference"]
        assert api.post(who, f"/proposals/{refs[key]}/actions/submit").status_code == 200
    refs["draft"] = api.post("tha", "/proposals", {"title": "Echo unsent draft"}).json()["reference"]
    return refs


def rows(page: str) -> list[str]:
    return re.findall(r'<td data-label="Reference"><a href="/proposals/([^"]+)">', page)


def link(page: str, rel_text: str) -> str:
    m = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(rel_text)}</a>', page)
    assert m, f"no link '{rel_text}'"
    return html.unescape(m.group(1))


def selected(page: str, name: str) -> str | None:
    block = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', page, re.S)
    assert block, f"no select {name}"
    m = re.search(r'<option value="([^"]*)" selected>', block.group(0))
    return m and m.group(1)


def test_the_filter_form_is_the_address_and_its_links_keep_it(web, made):
    b = web()
    b.sign_in("cm_aus")
    r = b.get("/proposals")
    assert r.status_code == 200 and "<h1>Proposals</h1>" in r.text
    assert rows(r.text) == [made["delta"], made["charlie"], made["bravo"], made["alpha"]]
    assert "4 in all." in r.text
    # The form is a GET: what it sends is the address.
    assert re.search(r'<form method="get" action="/proposals" class="filters" role="search"', r.text)

    address = "/proposals?q=a&thematic_area=trafficking_in_persons&member_state=tha&sort=title"
    r = b.get(address)
    assert rows(r.text) == [made["charlie"], made["delta"]]
    assert "2 match the filter." in r.text
    assert 'id="f-q" name="q" value="a"' in r.text
    assert selected(r.text, "thematic_area") == "trafficking_in_persons"
    assert selected(r.text, "member_state") == "THA" and selected(r.text, "sort") == "title"
    assert selected(r.text, "state") is None  # "Any"

    wanted = {("q", "a"), ("thematic_area", "trafficking_in_persons"), ("member_state", "THA"), ("sort", "title")}
    for text, fmt in (("Export CSV", "csv"), ("Export XLSX", "xlsx")):
        href = link(r.text, text)
        assert urlsplit(href).path == "/proposals"
        assert set(parse_qsl(urlsplit(href).query)) == wanted | {("format", fmt)}

    # Shared: another person opening the same address sees the same list (as far as they may see).
    other = web()
    other.sign_in("chair_idn")
    assert rows(other.get(address).text) == [made["charlie"], made["delta"]]


def test_paging_links_keep_the_filter_and_walk_every_item_once(web, made):
    b = web()
    b.sign_in("tha")
    r = b.get("/proposals?sort=title&limit=2&q=a")
    seen, pages = rows(r.text), 1
    assert "Next page" in r.text and "First page" not in r.text
    while "Next page" in r.text:
        nxt = link(r.text, "Next page →")
        assert ("sort", "title") in parse_qsl(urlsplit(nxt).query) and ("q", "a") in parse_qsl(urlsplit(nxt).query)
        r = b.get(nxt)
        assert "First page" in r.text
        seen += rows(r.text)
        pages += 1
    assert seen == [made["alpha"], made["charlie"], made["delta"], made["draft"]] and pages == 3
    assert "No more items" in r.text  # the last page, empty: said so
    assert set(parse_qsl(urlsplit(link(r.text, "← First page")).query)) == {("sort", "title"), ("q", "a"),
                                                                            ("limit", "2")}


def test_nothing_matching_says_so_and_offers_to_clear_the_filter(web, made):
    b = web()
    b.sign_in("cm_idn")
    r = b.get("/proposals?q=no+such+thing")
    assert r.status_code == 200 and rows(r.text) == []
    assert "Nothing matches this filter." in r.text and "0 match the filter." in r.text
    assert '<a href="/proposals">Clear the filter</a>' in r.text
    assert "Export CSV" not in r.text  # nothing to export
    r = b.get("/proposals?submitted_from=2027-05-02&submitted_to=2027-05-01")
    assert "the “submitted from” day is after the “to” day" in r.text


def test_a_filter_that_cannot_be_read_is_told_by_its_field_and_what_was_asked_is_kept(web, made):
    b = web()
    b.sign_in("cm_aus")
    r = b.get("/proposals?state=nonsense&submitted_from=5+May&q=kept")
    assert r.status_code == 422
    assert "This filter cannot be used as it is" in r.text
    assert re.search(r'<p class="error" id="f-state-err">must be one of draft, ', r.text)
    assert re.search(r'<p class="error" id="f-submitted_from-err">must be a day as YYYY-MM-DD', r.text)
    assert 'id="f-q" name="q" value="kept"' in r.text and rows(r.text) == []
    r = b.get("/proposals?format=pdf")
    assert r.status_code == 422 and "Format: must be one of json, csv, xlsx" in r.text


def test_the_page_exports_exactly_its_filtered_list(web, made):
    b = web()
    b.sign_in("admin")
    page = b.get("/proposals?sort=-title&q=a&member_state=THA")
    listed = rows(page.text)
    assert listed == [made["delta"], made["charlie"], made["alpha"]]
    r = b.get(link(page.text, "Export CSV"))
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="proposals-\d{4}-\d{2}-\d{2}\.csv"', r.headers["content-disposition"])
    assert [x["Reference"] for x in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))] == listed
    r = b.get(link(page.text, "Export XLSX"))
    ws = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == listed


def test_each_list_offers_only_its_own_filters_and_a_member_state_sees_its_own(web, made):
    b = web()
    b.sign_in("tha")
    r = b.get("/proposals")
    assert rows(r.text) == [made["draft"], made["delta"], made["charlie"], made["alpha"]]
    assert 'name="member_state"' not in r.text  # its own member state's only: nothing to choose
    assert 'name="thematic_area"' in r.text and 'name="engagement_type"' in r.text
    assert made["bravo"] not in b.get("/proposals?member_state=PHL").text
    r = b.get("/secondments")
    assert r.status_code == 200 and 'name="thematic_area"' not in r.text and 'value="nominee"' in r.text
    r = b.get("/secondments?thematic_area=people_smuggling")
    assert r.status_code == 422 and "only proposals can be filtered by thematic area" in r.text


@pytest.mark.slow
def test_at_phone_width_the_filter_makes_a_short_address_and_the_export_downloads(service, db_kind):
    """In a real browser 375 pixels wide: nothing wider than the screen, the form's address
    holding only what was chosen, Back giving a usable form, and the export a download."""
    import httpx

    with httpx.Client(base_url=service) as http:
        token = http.post("/api/v1/auth/token", data={"username": ROSTER["tha"]["email"], "password": PASSWORD}
                          ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        made = []
        for title in ("Alpha maritime patrols", "Alpha border data", "Bravo victim care"):
            made.append(http.post("/api/v1/proposals", json={**complete_proposal(), "title": title},
                                  headers=auth).json()["reference"])
            assert http.post(f"/api/v1/proposals/{made[-1]}/actions/submit", headers=auth).status_code == 200
    shots = _fresh(ARTIFACTS / db_kind / "lists")

    async def scenario(browser):
        cm = await Person(service, "cm_aus", shots).sign_in(browser, width=375)
        p = cm.page
        wide = "document.documentElement.scrollWidth <= window.innerWidth"
        await p.goto(service + "/proposals")
        assert await p.evaluate(wide), "the list is wider than a phone"
        folded = p.locator("details.more-filters")
        assert await folded.get_attribute("open") is None  # on a phone the list comes first
        await p.get_by_label("Search").fill("alpha")
        await p.get_by_text("Filters and order").click()
        await p.get_by_label("State", exact=True).select_option("co_manager_review")
        await p.get_by_role("button", name="Show").click()
        await p.wait_for_load_state()
        assert set(parse_qsl(urlsplit(p.url).query)) == {("q", "alpha"), ("state", "co_manager_review")}
        assert await p.locator("table.items tbody tr").count() == 2
        assert await folded.get_attribute("open") is not None  # a filter chosen: shown
        assert "(1 chosen)" in await p.locator("details.more-filters > summary").inner_text()
        assert await p.evaluate(wide), "the filtered list is wider than a phone"
        await cm.shot("filtered-list")
        await p.go_back()
        await p.wait_for_load_state()
        assert await p.locator("form.filters [disabled]").count() == 0
        await p.go_forward()
        await p.wait_for_load_state()
        async with p.expect_download() as found:
            await p.get_by_role("link", name="Export CSV").click()
        download = await found.value
        assert re.fullmatch(r"proposals-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
        text = open(await download.path(), encoding="utf-8-sig").read()
        assert [r["Reference"] for r in csv.DictReader(io.StringIO(text))] == made[1::-1]
        await cm.close()

    in_browser(scenario)
