"""The reports and the dashboard as staff meet them: pages, downloads with the page's own
session, the dashboard's overdue items linked and every chart with its table, and nothing of
it for a member state."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

BKK = ZoneInfo("Asia/Bangkok")


def at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=BKK).astimezone(UTC)


@pytest.fixture
def late_review(api, clock):
    """A proposal submitted Mon 1 March 2027, its two reviews due Mon 15 March; the clock then
    stands at Mon 22 March, 10:00: five business days overdue (16, 17, 18, 19, 22 March)."""
    clock.now = at(2027, 3, 1)
    ref = api.create(title="Maritime data exchange")["reference"]
    api.act("tha", ref, "submit")
    nom = api.nominate("phl")["reference"]
    api.s_act("phl", nom, "submit")  # its decision is due Mon 15 March too
    clock.now = at(2027, 3, 22)
    return ref, nom


def cells(html: str, table_id_or_title: str) -> list[list[str]]:
    """The rows of the table under the heading (or with the id), as text."""
    start = html.index(table_id_or_title)
    body = html[start:html.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_the_dashboard_links_what_is_overdue_and_gives_each_chart_its_numbers(web, late_review):
    ref, nom = late_review
    b = web()
    b.sign_in("cm_aus")
    r = b.get("/dashboard")
    assert r.status_code == 200 and "<h1>Dashboard</h1>" in r.text
    assert "Overdue now (3)" in r.text
    overdue = cells(r.text, 'id="overdue"')
    assert overdue[1:] == [  # most overdue first, then by reference
        [f"{ref} Maritime data exchange", "Co-Manager review", "15 March 2027", "5"],
        [f"{ref} Maritime data exchange", "Co-Manager review", "15 March 2027", "5"],
        [f"{nom} Somchai Wongsakul", "Decision on a nomination", "15 March 2027", "5"]]
    assert f'href="/proposals/{ref}"' in r.text and f'href="/secondments/{nom}"' in r.text
    # Open 15 business days (2 to 22 March): the "11 to 20" column.
    ages = cells(r.text, "Open tasks by step and age")
    assert ages[0] == ["Step", "Up to 5 days", "6 to 10 days", "11 to 20 days", "Over 20 days", "Open", "Overdue"]
    assert ages[1:] == [["Co-Manager review", "0", "0", "2", "0", "2", "2"],
                        ["Decision on a nomination", "0", "0", "1", "0", "1", "1"]]
    months = cells(r.text, "Received and decided per month")
    assert months[1][0] == "Apr 2026" and months[-1] == ["Mar 2027", "1", "0", "1", "0"]
    assert all(row[1:] == ["0", "0", "0", "0"] for row in months[1:-1])
    # A chart where there is something to draw (no stay has ended, no placement is active:
    # those two are tables saying so), each an SVG that says what it shows; four tables.
    assert r.text.count('<svg class="chart"') == 2 and r.text.count('role="img"') == 2
    assert len(re.findall(r"<desc[^>]*>Co-Manager review: 2; Decision on a nomination: 1</desc>", r.text)) == 1
    assert r.text.count("The numbers") == 4
    assert "<script" not in r.text.split("<main", 1)[1]  # drawn on the server: no script, no CDN


def test_the_dashboard_and_the_reports_are_for_staff_only(web, late_review):
    b = web()
    b.sign_in("tha")
    for path in ("/dashboard", "/reports", "/reports/monthly/2027-03", "/reports/monthly/2027-03?format=pdf"):
        assert b.get(path).status_code == 403, path
    assert "Dashboard" not in b.get("/my").text
    for who in ("chair_aus", "admin"):
        b = web()
        b.sign_in(who)
        assert b.get("/dashboard").status_code == 200 and 'href="/reports"' in b.last.text


def test_a_report_opens_as_a_page_and_downloads_with_the_same_session(web, late_review):
    ref, nom = late_review
    b = web()
    b.sign_in("cm_idn")
    r = b.get("/reports")
    assert "Monthly reports" in r.text and 'href="/reports/monthly/2027-03"' in r.text  # this month, so far
    r = b.get("/reports?kind=monthly&period=2027-02")  # the form: to the report's own address
    assert r.url.path == "/reports/monthly/2027-02" and "<h1>Monthly report, February 2027</h1>" in r.text
    r = b.get("/reports/monthly/2027-03")
    assert "<h1>Monthly report, March 2027</h1>" in r.text
    summary = dict(row for row in cells(r.text, "At a glance")[1:])
    assert summary["Proposals received"] == "1" and summary["Nominations received"] == "1"
    assert summary["Proposals open at the end"] == "1" and summary["Steps due in the period that ran late"] == "3"
    for fmt, ctype in (("pdf", "application/pdf"), ("xlsx", "application/vnd.openxmlformats"), ("csv", "application/zip")):
        assert f'href="/reports/monthly/2027-03?format={fmt}"' in r.text
        d = b.get(f"/reports/monthly/2027-03?format={fmt}")
        assert d.status_code == 200 and d.headers["content-type"].startswith(ctype), fmt
    d = b.get("/reports/monthly/2027-03?format=csv&table=late_steps")
    assert d.text.lstrip("\ufeff").splitlines()[:2] == ["Step,Due in the period,Late,Share late",
                                                       "Co-Manager review,2,2,1.0000"]
    r = b.get("/reports/monthly/2027-3")
    assert r.status_code == 422 and "period is written YYYY-MM" in r.text
    assert 'value="2027-3"' in r.text  # what was typed, kept, to correct
    r = b.get("/reports?kind=biannual&period=2027-H3")
    assert r.status_code == 422 and "YYYY-H1 or YYYY-H2" in r.text and '<option value="biannual" selected>' in r.text
