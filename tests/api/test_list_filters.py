"""The lists people work with, over the API: each filter, the search, every order, paging by
the Link header in any order, the export as CSV and XLSX holding exactly the filtered list,
and the same visibility for a list and its export, role by role."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import openpyxl
import pytest

from tests.conftest import BANGKOK, ROSTER



def base_day(api) -> date:
    return api.clock.start.astimezone(BANGKOK).date()


def at(api, days: int, hour: int = 10, minute: int = 0) -> datetime:
    """Stop the service's clock `days` after the test day, at this hour in Bangkok. Tokens are
    signed in again (one issued days before has expired by the service's clock)."""
    api.clock.now = datetime.combine(base_day(api) + timedelta(days=days), time(hour, minute), BANGKOK).astimezone(UTC)
    api._tokens.clear()
    return api.clock.now


def stop_at(api, moment: datetime) -> None:
    api.clock.now = moment
    api._tokens.clear()


def refs(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [p["reference"] for p in r.json()]


def propose(api, who, title, *, submit=True, **fields):
    p = api.create(who, title=title, **fields)
    if submit:
        api.act(who, p["reference"], "submit")
    return p["reference"]


@pytest.fixture
def seeded(api):
    """Five proposals, in the order they happen:
    A (THA) submitted three days before the test day, then both co-managers endorse and a
    consultation of IOM opens; B (PHL) submitted just after midnight, Bangkok time, the day
    before (still the day before that in UTC); C (THA) submitted late the day before, then sent
    back for revision (no open task); D (THA) and E (PHL) drafts made on the test day."""
    at(api, -3)
    a = propose(api, "tha", "Alpha maritime patrols", thematic_areas=["people_smuggling"],
                engagement_type="collaboration", scope="bilateral")
    at(api, -1, 0, 30)
    b = propose(api, "phl", "Bravo border data", thematic_areas=["irregular_migration", "trafficking_in_persons"],
                engagement_type="new_project", scope="regional")
    at(api, -1, 23, 30)
    c = propose(api, "tha", "Charlie victim care", thematic_areas=["trafficking_in_persons"],
                engagement_type="funding_support", scope="regional")
    at(api, 0)
    d = propose(api, "tha", "Delta draft", submit=False)
    e = propose(api, "phl", "Echo draft", submit=False)
    api.act("cm_aus", c, "review", recommendation="endorse")
    api.act("cm_idn", c, "review", recommendation="revise", comment="Add the partners' letters.")
    api.act("cm_aus", a, "review", recommendation="endorse")
    api.act("cm_idn", a, "review", recommendation="endorse")
    api.act("cm_aus", a, "open_consultation", stakeholders=[ROSTER["iom"]["email"]])
    return dict(A=a, B=b, C=c, D=d, E=e)


@pytest.mark.dates  # the days submitted on, and what is overdue, follow the test day
def test_each_filter_narrows_the_list_to_what_it_names(api, seeded):
    s = seeded

    def staff(**params):
        return refs(api.get("cm_aus", "/proposals", params=params))

    assert staff() == [s["C"], s["B"], s["A"]]  # newest first; no draft reaches the RSO
    assert staff(state="co_manager_review") == [s["B"]]
    assert staff(state="revision_requested") == [s["C"]]
    assert staff(member_state="THA") == [s["C"], s["A"]]
    assert staff(member_state="phl") == [s["B"]]  # a code in any case
    assert staff(thematic_area="trafficking_in_persons") == [s["C"], s["B"]]
    assert staff(thematic_area="people_smuggling") == [s["A"]]
    assert staff(thematic_area="technology_misuse") == []
    assert staff(engagement_type="new_project") == [s["B"]]
    assert staff(scope="regional") == [s["C"], s["B"]]
    assert staff(scope="regional", member_state="THA", thematic_area="trafficking_in_persons") == [s["C"]]
    # An empty value is no filter (what a form sends for "any").
    assert staff(state="", member_state="", q="") == [s["C"], s["B"], s["A"]]
    assert refs(api.get("tha", "/proposals", params={"state": "draft"})) == [s["D"]]


def test_search_finds_a_part_of_the_reference_or_the_title_in_any_case(api, seeded):
    s = seeded

    def search(q, who="cm_idn"):
        return refs(api.get(who, "/proposals", params={"q": q}))

    assert search("bravo") == [s["B"]]
    assert search("  VICTIM   care ") == [s["C"]]  # spaces around and between, as typed
    assert search(s["A"][-4:]) == [s["A"]]
    assert search(s["A"].lower()) == [s["A"]]
    assert search("a") == [s["C"], s["B"], s["A"]]
    # The wildcards of SQL are plain characters in a search.
    assert search("%") == [] and search("_") == [] and search("\\") == []
    assert search("draft") == []  # staff see no draft
    assert search("draft", who="phl") == [s["E"]]


@pytest.mark.dates  # the days submitted on, and what is overdue, follow the test day
def test_submitted_between_counts_whole_days_in_the_rsos_time_zone(api, seeded):
    s = seeded
    day = base_day(api)

    def between(**days):
        return refs(api.get("chair_aus", "/proposals",
                            params={k: (day + timedelta(days=v)).isoformat() for k, v in days.items()}))

    assert between(submitted_from=-1) == [s["C"], s["B"]]
    # B was submitted at 00:30 in Bangkok: the day before in UTC, but not in the RSO's days.
    assert between(submitted_to=-2) == [s["A"]]
    assert between(submitted_from=-1, submitted_to=-1) == [s["C"], s["B"]]
    assert between(submitted_from=-3, submitted_to=-3) == [s["A"]]
    assert between(submitted_from=0) == []
    assert between(submitted_from=0, submitted_to=-3) == []  # a range ending before it starts: nothing
    # A member state's drafts have not been submitted: a day filter leaves them out.
    assert refs(api.get("tha", "/proposals", params={"submitted_to": day.isoformat()})) == [s["C"], s["A"]]


@pytest.mark.dates  # the days submitted on, and what is overdue, follow the test day
def test_overdue_means_an_open_task_past_its_due_moment_by_the_service_clock(api, seeded):
    s = seeded
    assert refs(api.get("cm_aus", "/proposals", params={"overdue": "true"})) == []
    assert refs(api.get("cm_aus", "/proposals", params={"overdue": "false"})) == [s["C"], s["B"], s["A"]]
    listed = {p["reference"]: p for p in api.get("cm_aus", "/proposals").json()}
    # The moment after B's review tasks are due: B is overdue, A's consultation (due later) not yet.
    review_due = max(datetime.fromisoformat(t["due_at"]) for t in listed[s["B"]]["tasks"])
    consultation_due = datetime.fromisoformat(listed[s["A"]]["tasks"][0]["due_at"])
    assert consultation_due > review_due
    stop_at(api, review_due + timedelta(seconds=1))
    assert refs(api.get("cm_aus", "/proposals", params={"overdue": "true"})) == [s["B"]]
    assert refs(api.get("cm_aus", "/proposals", params={"overdue": "0"})) == [s["C"], s["A"]]
    stop_at(api, consultation_due + timedelta(seconds=1))
    assert refs(api.get("cm_aus", "/proposals", params={"overdue": "yes"})) == [s["B"], s["A"]]
    # The member state sees its own items' deadlines too (their open tasks are in its list).
    assert refs(api.get("tha", "/proposals", params={"overdue": "true"})) == [s["A"]]


def test_every_order_sorts_and_an_empty_value_sorts_last_either_way(api, seeded):
    s = seeded

    def order(sort, who="tha"):
        return refs(api.get(who, "/proposals", params={"sort": sort}))

    assert order("-created") == [s["D"], s["C"], s["A"]] == order("") == order("-created", "tha")
    assert order("created") == [s["A"], s["C"], s["D"]]
    assert order("title") == [s["A"], s["C"], s["D"]] and order("-title") == [s["D"], s["C"], s["A"]]
    assert order("reference") == [s["A"], s["C"], s["D"]]
    assert order("submitted") == [s["A"], s["C"], s["D"]]  # D, a draft: never submitted, last
    assert order("-submitted") == [s["C"], s["A"], s["D"]]  # ...and last this way too
    assert order("state") == [s["D"], s["C"], s["A"]]  # draft, revision_requested, stakeholder_consultation
    # A and C changed at the same moment (the clock stopped): the later id first, the same way.
    assert order("-updated", "cm_aus") == [s["C"], s["A"], s["B"]]
    assert order("updated", "cm_aus") == [s["B"], s["A"], s["C"]]
    # Soonest due first: B's reviews (due ten business days after the day before), then A's
    # consultation (fifteen from today); C has no open task: last, either way.
    assert order("due", "cm_aus") == [s["B"], s["A"], s["C"]]
    assert order("-due", "cm_aus") == [s["A"], s["B"], s["C"]]
    assert order("member_state", "cm_aus") == [s["B"], s["A"], s["C"]]  # PHL, then THA by id


def walk(api, who, path, **params) -> tuple[list[str], int]:
    """Every page of a list by its Link header: the references in order, and how many pages."""
    seen, pages = [], 0
    r = api.get(who, path, params=params)
    while True:
        seen += refs(r)
        pages += 1
        link = r.headers.get("Link")
        if not link:
            return seen, pages
        assert link.endswith('>; rel="next"')
        r = api.get(who, link.split(">")[0].lstrip("<").removeprefix("/api/v1"))


@pytest.mark.parametrize("sort", ["-created", "created", "title", "-title", "submitted", "-submitted", "state",
                                  "-state", "due", "-due", "reference", "member_state", "-updated"])
def test_paging_by_the_link_header_walks_any_order_each_item_once(api, sort):
    at(api, 0)
    made = []
    for n, title in enumerate(["Kilo", "Golf", "Alpha", "Hotel", "Alpha", "Bravo", "Juliet"]):
        made.append(propose(api, "tha", f"{title} plan", submit=n % 3 != 0))  # some drafts: empty days
    made.append(propose(api, "phl", "Zulu plan"))
    everything = refs(api.get("tha", "/proposals", params={"sort": sort, "limit": 200}))
    assert sorted(everything) == sorted(made[:7])
    paged, pages = walk(api, "tha", "/proposals", sort=sort, limit=2)
    assert paged == everything and pages == 4  # the fourth page is empty: seven items, two a page
    # With a filter, the pages keep it.
    filtered = refs(api.get("tha", "/proposals", params={"sort": sort, "q": "plan", "state": "co_manager_review"}))
    assert walk(api, "tha", "/proposals", sort=sort, q="plan", state="co_manager_review", limit=3)[0] == filtered


def test_the_default_order_still_pages_with_before_and_after_works_the_same(api, seeded):
    s = seeded
    r = api.get("tha", "/proposals", params={"limit": 2})
    assert refs(r) == [s["D"], s["C"]] and "before=" in r.headers["Link"] and "after=" not in r.headers["Link"]
    last = r.json()[-1]["id"]
    assert refs(api.get("tha", "/proposals", params={"before": last})) == [s["A"]]
    assert refs(api.get("tha", "/proposals", params={"after": last})) == [s["A"]]
    # `before` is a filter (older than that item) whatever the order.
    assert refs(api.get("tha", "/proposals", params={"before": last, "sort": "title"})) == [s["A"]]


def test_an_after_id_outside_the_callers_list_gives_an_empty_page_and_tells_nothing(api, seeded):
    s = seeded
    other = api.get("phl", f"/proposals/{s['E']}").json()["id"]  # PHL's draft
    for sort in ("title", "-submitted", "due", "-created"):
        assert refs(api.get("tha", "/proposals", params={"sort": sort, "after": other})) == []
    assert refs(api.get("tha", "/proposals", params={"after": 99_999})) == []


@pytest.mark.parametrize("params, field, words", [
    ({"state": "approved_ish"}, "state", "must be one of draft, co_manager_review"),
    ({"member_state": "XYZ"}, "member_state", "not a member code"),
    ({"thematic_area": "piracy"}, "thematic_area", "must be one of people_smuggling"),
    ({"engagement_type": "loan"}, "engagement_type", "must be one of collaboration"),
    ({"overdue": "maybe"}, "overdue", "true or false"),
    ({"submitted_from": "05/12/2026"}, "submitted_from", "YYYY-MM-DD"),
    ({"submitted_to": "2026-02-30"}, "submitted_to", "YYYY-MM-DD"),
    ({"sort": "colour"}, "sort", "must be one of created, updated"),
    ({"sort": "--title"}, "sort", "must be one of"),
    ({"limit": "0"}, "limit", "from 1 to 200"),
    ({"limit": "201"}, "limit", "from 1 to 200"),
    ({"before": "0"}, "before", "id of an item"),
    ({"after": "abc"}, "after", "id of an item"),
    ({"after": "99999999999"}, "after", "id of an item"),
    ({"q": "x" * 101}, "q", "at most 100 characters"),
    ({"format": "pdf"}, "format", ""),
])
def test_a_value_that_cannot_be_read_is_a_422_naming_the_field_and_why(api, params, field, words):
    r = api.get("cm_aus", "/proposals", params=params)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["errors"]
    assert problem["field"] == field and words in problem["message"], problem


def test_every_bad_value_is_told_at_once_and_control_characters_are_no_500(api):
    r = api.get("cm_aus", "/proposals", params={"state": "x", "overdue": "x", "sort": "x"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["state", "overdue", "sort"]
    for q in ("\x00", "a\x00b", "\u202e\u0000", "ñandú 東京 🌏"):
        assert api.get("cm_aus", "/proposals", params={"q": q}).status_code == 200


def test_secondments_refuse_the_filters_only_proposals_have_saying_so(api):
    r = api.get("cm_aus", "/secondments", params={"thematic_area": "people_smuggling", "engagement_type": "loan"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "thematic_area", "message": "secondments have no thematic area: only proposals can be filtered "
                                              "by thematic area"},
        {"field": "engagement_type", "message": "secondments have no engagement type: only proposals can be "
                                                "filtered by engagement type"}]
    assert api.get("cm_aus", "/secondments", params={"sort": "title"}).status_code == 422  # theirs is `nominee`


def test_secondments_filter_search_and_sort_by_nominee(api):
    at(api, 0)
    first = api.nominate("tha", nominee={**_nominee("Zainab Rahman")})["reference"]
    api.s_act("tha", first, "submit")
    second = api.nominate("phl", nominee={**_nominee("Andres Cruz")}, proposed_role="Data analyst")["reference"]
    api.s_act("phl", second, "submit")
    draft = api.nominate("tha", nominee={**_nominee("Budi Santoso")})["reference"]

    def staff(**params):
        return refs(api.get("cm_idn", "/secondments", params=params))

    assert staff() == [second, first]
    assert staff(sort="nominee") == [second, first] and staff(sort="-nominee") == [first, second]
    assert staff(q="zainab") == [first] and staff(q="data ANALYST") == [second]
    assert staff(member_state="PHL") == [second] and staff(state="under_review", overdue="false") == [second, first]
    assert refs(api.get("tha", "/secondments", params={"state": "draft"})) == [draft]


def _nominee(name: str) -> dict:
    return {"full_name": name, "email": f"{name.split()[0].lower()}@agency.example", "position": "Inspector",
            "agency": "National police"}


# --- export -------------------------------------------------------------------------------------

def csv_rows(content: bytes) -> list[dict]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads the accents
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(content: bytes) -> list[dict]:
    ws = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    header, *rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(header, row)) for row in rows]


def local(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment).astimezone(BANGKOK).replace(microsecond=0) if moment else None


@pytest.mark.dates  # the days submitted on, and what is overdue, follow the test day
def test_the_export_is_exactly_the_filtered_list_in_its_order_as_csv_and_xlsx(api, seeded):
    at(api, 0, 15)
    for n in range(3):  # more than a page of the list, which the export does not stop at
        propose(api, "phl", f"Foxtrot {n} exchange", thematic_areas=["trafficking_in_persons"])
    params = {"thematic_area": "trafficking_in_persons", "sort": "title", "limit": 2}
    listed = api.get("cm_aus", "/proposals", params={**params, "limit": 200}).json()
    assert len(listed) == 5 and "Link" in api.get("cm_aus", "/proposals", params=params).headers
    today = api.clock.today().isoformat()

    r = api.get("cm_aus", "/proposals", params={**params, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="proposals-{today}.csv"'
    rows = csv_rows(r.content)
    assert [(x["Reference"], x["Title"], x["Member state"], x["State"]) for x in rows] == [
        (p["reference"], p["title"], p["member_state"], p["state"]) for p in listed]
    for row, p in zip(rows, listed):
        # Moments as the RSO's clock shows them, the offset said.
        assert datetime.fromisoformat(row["Submitted"]) == local(p["submitted_at"])
        assert row["Submitted"].endswith("+07:00")
        assert row["Thematic areas"] == "; ".join(p["thematic_areas"])
        assert row["Budget"] == p["budget"]["amount"] and row["Currency"] == p["budget"]["currency"]
        due = min((t["due_at"] for t in p["tasks"]), default=None)
        assert (datetime.fromisoformat(row["Next task due"]) if row["Next task due"] else None) == local(due)
        assert row["Overdue"] == ("yes" if any(t["overdue"] for t in p["tasks"]) else "no")

    r = api.get("cm_aus", "/proposals", params={**params, "format": "xlsx"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"] == f'attachment; filename="proposals-{today}.xlsx"'
    sheet = xlsx_rows(r.content)
    assert [(x["Reference"], x["Title"], x["Member state"], x["State"], x["Scope"]) for x in sheet] == [
        (p["reference"], p["title"], p["member_state"], p["state"], p["scope"]) for p in listed]
    for row, p in zip(sheet, listed):
        # A sheet has no time zones: the moment as the RSO's clock shows it, a real date-time.
        assert row["Submitted"].replace(microsecond=0) == local(p["submitted_at"]).replace(tzinfo=None)
        assert row["Proposed start"].date() == date.fromisoformat(p["proposed_start"])
        assert row["Budget"] == float(p["budget"]["amount"])


def test_an_export_ignores_the_page_and_an_empty_one_is_a_file_with_its_header(api, seeded):
    s = seeded
    r = api.get("tha", "/proposals", params={"format": "csv", "limit": 1, "after": 1, "before": 2})
    assert [x["Reference"] for x in csv_rows(r.content)] == [s["D"], s["C"], s["A"]]
    r = api.get("tha", "/proposals", params={"format": "csv", "q": "nothing like it"})
    assert r.status_code == 200 and csv_rows(r.content) == [] and b"Reference,Title" in r.content
    assert xlsx_rows(api.get("tha", "/proposals", params={"format": "xlsx", "q": "nothing"}).content) == []


def test_the_secondments_export_has_their_own_columns(api):
    at(api, 0)
    ref = api.nominate("tha")["reference"]
    api.s_act("tha", ref, "submit")
    r = api.get("admin", "/secondments", params={"format": "csv"})
    (row,) = csv_rows(r.content)
    nominee = api.get("tha", f"/secondments/{ref}").json()
    assert (row["Reference"], row["Nominee"], row["Proposed role"], row["State"], row["Start"]) == (
        ref, nominee["nominee"]["full_name"], nominee["proposed_role"], "under_review", nominee["start_date"])
    assert r.headers["content-disposition"] == f'attachment; filename="secondments-{api.clock.today()}.csv"'


# --- visibility, role by role -----------------------------------------------------------------

PROPOSALS_SEEN = {  # by role: which of the seeded proposals a list (and its export) holds
    "tha": {"A", "C", "D"}, "tha2": {"A", "C", "D"}, "phl": {"B", "E"},
    "cm_aus": {"A", "B", "C"}, "cm_idn": {"A", "B", "C"}, "chair_aus": {"A", "B", "C"}, "admin": {"A", "B", "C"},
    "iom": {"A"},  # invited to consult on A only
    "tip": set(), "unhcr": set(),
}


@pytest.mark.parametrize("who", list(PROPOSALS_SEEN))
def test_each_role_exports_exactly_the_proposals_its_list_shows(api, seeded, who):
    listed = refs(api.get(who, "/proposals", params={"limit": 200}))
    assert {k for k, v in seeded.items() if v in listed} == PROPOSALS_SEEN[who]
    assert len(listed) == len(PROPOSALS_SEEN[who])
    assert [x["Reference"] for x in csv_rows(api.get(who, "/proposals", params={"format": "csv"}).content)] == listed
    assert [x["Reference"] for x in xlsx_rows(api.get(who, "/proposals", params={"format": "xlsx"}).content)] == listed
    # A filter naming what the role may not see finds nothing more.
    for params in ({"member_state": "PHL"}, {"state": "draft"}, {"q": "draft"}):
        shown = refs(api.get(who, "/proposals", params=params))
        assert set(shown) <= set(listed)
        assert [x["Reference"] for x in csv_rows(api.get(who, "/proposals", params={**params, "format": "csv"})
                                                  .content)] == shown


SECONDMENTS_SEEN = {"tha": {"T1", "T2"}, "phl": {"P1"}, "cm_aus": {"T1", "P1"}, "chair_idn": {"T1", "P1"},
                    "admin": {"T1", "P1"}, "iom": set()}


@pytest.mark.parametrize("who", list(SECONDMENTS_SEEN))
def test_each_role_exports_exactly_the_secondments_its_list_shows(api, who):
    at(api, 0)
    made = {"T1": api.nominate("tha")["reference"], "T2": api.nominate("tha")["reference"],
            "P1": api.nominate("phl")["reference"], "P2": api.nominate("phl")["reference"]}
    api.s_act("tha", made["T1"], "submit")
    api.s_act("phl", made["P1"], "submit")
    api.s_act("phl", made["P2"], "withdraw")  # withdrawn as a draft: never reached the RSO
    listed = refs(api.get(who, "/secondments"))
    seen = {k for k, v in made.items() if v in listed}
    assert seen == SECONDMENTS_SEEN[who] | ({"P2"} if who == "phl" else set())
    for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        assert [x["Reference"] for x in read(api.get(who, "/secondments", params={"format": fmt}).content)] == listed


def test_the_openapi_document_names_each_list_parameter_and_the_files(api):
    doc = api.client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/proposals"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"q", "state", "member_state", "thematic_area", "engagement_type", "scope", "overdue", "submitted_from",
            "submitted_to", "sort", "limit", "before", "after", "format"} <= set(params)
    assert "-submitted" in params["sort"]["schema"]["enum"] and params["submitted_from"]["schema"]["format"] == "date"
    assert {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(
        op["responses"]["200"]["content"])
    s_params = {p["name"] for p in doc["paths"]["/api/v1/secondments"]["get"]["parameters"]}
    assert "thematic_area" not in s_params and "nominee" in str(doc["paths"]["/api/v1/secondments"]["get"])
