"""A secondment from the nomination form to the final report, every step through the pages:
nominate, decide, confirm the arrangement, tick the checklist, start, request and approve an
extension, begin the handover, submit the final report, complete."""
from __future__ import annotations

import pytest
import re
from datetime import timedelta

from tests.conftest import complete_secondment

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others


def _ref(url) -> str:
    return re.search(r"RSO-S-\d{4}-\d{4}", str(url)).group(0)


def test_a_secondment_through_every_form(web, clock):
    tha, cm = web(), web()
    tha.sign_in("tha")
    s = complete_secondment(clock.today(), start_in_days=30, months=5)
    r = tha.post("/secondments/new", {
        "nominee.full_name": s["nominee"]["full_name"], "nominee.email": s["nominee"]["email"],
        "nominee.position": s["nominee"]["position"], "nominee.agency": s["nominee"]["agency"],
        "proposed_role": s["proposed_role"], "start_date": s["start_date"], "end_date": s["end_date"],
        "funding.salary": "sending_state", "funding.allowances": "rso", "languages": "Thai, English",
        "justification": s["justification"], "intent": "submit"}, csrf_from="/secondments/new")
    assert r.status_code == 200 and "Submitted." in r.text and "Under review" in r.text, r.text[-3000:]
    ref = _ref(r.url)
    assert "Thai, English" in r.text

    cm.sign_in("cm_aus")
    assert ref in cm.get("/tasks").text
    page = f"/secondments/{ref}"

    def cm_act(action, data, expect="Done"):
        r = cm.post(f"{page}/actions/{action}", data, csrf_from=page)
        assert r.status_code == 200 and expect in r.text, (action, re.findall(r'class="(?:error|errors)"[^>]*>([^<]+)', r.text))
        return r

    cm_act("decide", {"decision": "accept"})
    today = clock.today()
    cm_act("confirm_arrangement", {"arrangement_signed_on": today.isoformat(), "start_date": s["start_date"],
                                   "end_date": s["end_date"]})
    items = ["security_clearance", "visa", "travel", "insurance", "induction_plan"]
    for n, item in enumerate(items):
        offered = re.search(r'<select[^>]*id="f-complete_item-item".*?</select>', cm.get(page).text, re.S).group(0)
        assert re.findall(r'value="(\w+)"', offered) == items[n:]  # only what is still open
        r = cm_act("complete_item", {"item": item})
    assert "Pre-deployment" in r.text and r.text.count('class="done"') == 5

    # The start date comes: everyone signs in again (sessions last a working day).
    from datetime import datetime, time
    from zoneinfo import ZoneInfo
    start = datetime.combine(today + timedelta(days=30), time(9), ZoneInfo("Asia/Bangkok"))
    clock.now = start
    tha, cm = web(), web()
    tha.sign_in("tha")
    cm.sign_in("cm_aus")
    cm_act("start", {})
    new_end = (datetime.fromisoformat(s["end_date"]) + timedelta(days=60)).date().isoformat()
    r = tha.post(f"{page}/actions/request_extension", {"new_end_date": new_end, "justification": ""}, csrf_from=page)
    assert r.status_code == 422 and 'id="f-request_extension-justification-err"' in r.text  # said where, kept open
    r = tha.post(f"{page}/actions/request_extension", {"new_end_date": new_end,
                                                        "justification": "The investigation runs on."})
    assert r.status_code == 200 and "Extension requested" in r.text
    cm_act("decide_extension", {"decision": "approve"})
    cm_act("begin_handover", {})
    r = tha.post(f"{page}/actions/submit_final_report", {"report": "Forty cases reviewed; two regional referrals."},
                 csrf_from=page)
    assert r.status_code == 200 and "Forty cases reviewed" in r.text
    r = cm_act("complete", {})
    assert "Completed" in r.text
    timeline = r.text.split("Timeline")[1]
    for step in ("Submitted", "Nomination decided", "Arrangement confirmed", "Secondment started",
                 "Extension requested", "Extension decided", "Handover begun", "Final report submitted",
                 "Secondment completed"):
        assert step in timeline, step
