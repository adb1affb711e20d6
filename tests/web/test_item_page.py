"""The item page as people met it: where the item stands on its main path, the final action
folded and confirmed, dates day month year, and the ticked member states in view."""
from __future__ import annotations

import re

from rso.web.forms import parse_day


def _draft(b, **extra) -> str:
    r = b.post("/proposals/new", {"title": "Maritime search and rescue coordination", "intent": "draft", **extra},
               csrf_from="/proposals/new")
    assert r.status_code == 200, r.text
    return re.search(r"(RSO-P-\d{4}-\d{4})", r.url.path).group(1)


def test_withdraw_is_folded_marked_final_and_needs_confirming(web):
    b = web()
    b.sign_in("tha")
    ref = _draft(b)
    page = b.get(f"/proposals/{ref}").text
    withdraw = re.search(r'<details class="action danger"( open)?>\s*<summary>Withdraw', page)
    assert withdraw and withdraw.group(1) is None  # folded, even as one of two actions
    assert 'class="danger">Withdraw</button>' in page and 'class="primary">Withdraw' not in page
    r = b.post(f"/proposals/{ref}/actions/withdraw", {})
    assert r.status_code == 422 and "tick the box to confirm" in r.text
    assert b.get(f"/proposals/{ref}").text.count('class="state state-draft"') == 1  # nothing done
    r = b.post(f"/proposals/{ref}/actions/withdraw", {"confirm": "yes"})
    assert r.status_code == 200 and 'class="state state-withdrawn"' in r.text


def test_the_progress_line_names_the_steps_and_where_the_item_is(web, api):
    ref = api.create()["reference"]
    b = web()
    b.sign_in("tha")
    page = b.get(f"/proposals/{ref}").text
    steps = re.findall(r'<li class="step (\w+)"', page)
    assert steps == ["current", "todo", "todo", "todo", "todo"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="revise", comment="Add the budget.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    page = b.get(f"/proposals/{ref}").text
    assert re.findall(r'<li class="step (\w+)"', page) == ["done", "current", "todo", "todo", "todo"]
    current = re.search(r'aria-current="step">(.*?)</li>', page, re.S).group(1)
    assert "Co-Manager review" in current and "Revision requested" in current
    assert "co_manager_review" not in page.split('<pre class="mermaid"')[0]  # no identifiers outside the diagram
    assert "darksalmon" not in page and "classDef s_active fill:#dbeafe" in page


def test_dates_are_shown_and_typed_day_month_year(web):
    assert [parse_day(x) for x in ("9 April 2027", "9 apr 2027", "09/04/2027", "9.4.2027", "Fri 9 Apr 2027",
                                   "2027-04-09", "04/31/2027", "April 9 2027")] == [
        "2027-04-09"] * 6 + [None, None]
    b = web()
    b.sign_in("tha")
    ref = _draft(b, proposed_start="1/3/2027", proposed_end="30 September 2027")
    form = b.get(f"/proposals/{ref}/edit").text
    assert 'value="1 March 2027"' in form and 'value="30 September 2027"' in form
    assert 'type="date"' not in form and "Day month year" in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    r = b.post(f"/proposals/{ref}/edit", {"title": "Maritime search and rescue coordination", "intent": "draft",
                                          "proposed_start": "12/31/2027", "version": version})
    assert r.status_code == 422
    assert re.search(r'id="f-proposed_start-err">give a date as day month year, e.g. 9 April 2027<', r.text)
    assert 'value="12/31/2027"' in r.text  # kept as typed, to correct


def test_the_ticked_member_states_are_named_above_the_boxes(web):
    b = web()
    b.sign_in("tha")
    assert "None chosen yet." in b.get("/proposals/new").text
    ref = _draft(b, partner_member_states=["KHM", "LAO"])
    form = b.get(f"/proposals/{ref}/edit").text
    chosen = re.search(r'<p class="chosen"[^>]*>([^<]*)</p>', form).group(1)
    assert chosen.startswith("Chosen: ") and "(KHM)" in chosen and "(LAO)" in chosen
