"""The reports' figures against a scenario counted by hand.

Five proposals and two nominations go through their lifecycles in March to June 2027, with
the clock moved to each step and the deadline sweep run on the mornings its reminders and
escalations fall. Every figure of the March and April monthly reports and of the first
half-year's report is written out below as a person counts it from the timeline, never by
the product's own arithmetic. Thailand's holidays on the way: Chakri Day (Tue 6 April),
Songkran (13-15 April), Labour Day in lieu (Mon 3 May), Coronation Day (Tue 4 May),
Visakha Bucha (Thu 20 May), the Queen's Birthday (Thu 3 June).

Timeline (Bangkok time):
  P1 THA new_project/regional/[trafficking]: submitted Mon 1 Mar; both endorse Wed 3 Mar and
     it is referred to the co-chairs; approved with conditions Wed 10 Mar.
  P2 PHL collaboration/bilateral/[smuggling, irregular migration]: submitted Mon 15 Mar;
     revise + endorse Wed 17 Mar; resubmitted Wed 24 Mar (round 2, reviews due Thu 8 Apr);
     reminded Mon 5 and Thu 8 Apr, escalated Fri 16 Apr; both decline Mon 19 Apr.
  P3 THA: a draft made Fri 5 Mar and withdrawn Mon 8 Mar, never submitted.
  P4 THA funding_support/multilateral/[transnational crime]: submitted Mon 29 Mar,
     withdrawn Thu 1 Apr (its review tasks cancelled).
  P5 PHL in_kind_support/regional/[technology misuse, trafficking]: submitted Mon 5 Apr
     (reviews due Fri 23 Apr), reminded Wed 21 Apr, both endorse Thu 22 Apr and a
     consultation opens with IOM and the TIP working group (due Mon 17 May); IOM answers
     Tue 11 May; closed without TIP's answer Wed 19 May; the co-chairs' guidance (due Fri 11
     June) is still open on 1 July.
  S1 THA: nominated and submitted Mon 1 Mar, accepted Thu 4 Mar, arrangement confirmed Mon
     8 Mar (15 Mar to 15 Aug), checklist done Wed 10 Mar, started Mon 15 Mar; extension asked
     Thu 1 Apr, approved Mon 5 Apr.
  S2 PHL: submitted Mon 22 Mar (decision due Mon 5 Apr); reminded Mon 5 Apr (its 1 April
     reminder, sent by the first sweep after it), escalated Fri 16 Apr (for 9 April);
     declined Mon 19 Apr.
  Sweeps: Mon 5, Thu 8, Fri 16 and Wed 21 April at 08:30.
"""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.test_secondment_api import ALL_ITEMS
from tests.test_deadlines import world  # noqa: F401 - the fixture

BKK = ZoneInfo("Asia/Bangkok")


def at(m, d, h=10, minute=0) -> datetime:
    return datetime(2027, m, d, h, minute, tzinfo=BKK).astimezone(UTC)


def proposal(**fields) -> dict:
    return {"title": "A proposal", "summary": "For the report.", "partner_member_states": [],
            "proposed_start": "2027-09-01", "proposed_end": "2027-12-31", **fields}


def build(api, sweep_at) -> dict:
    """The timeline above, through the API (and the sweep): the references by name."""
    clock, ref = api.clock, {}

    def when(m, d, h=10, minute=0):
        clock.now = at(m, d, h, minute)
        api._tokens.clear()  # days pass: people sign in again

    def new(who, key, **fields):
        r = api.post(who, "/proposals", proposal(**fields))
        assert r.status_code == 201, r.text
        ref[key] = r.json()["reference"]
        return ref[key]

    when(3, 1)
    new("tha", "P1", title="Cross-border victim referral", engagement_type="new_project", scope="regional",
        thematic_areas=["trafficking_in_persons"])
    api.act("tha", ref["P1"], "submit")
    s1 = api.nominate("tha", start_date="2027-03-15", end_date="2027-08-15")
    ref["S1"] = s1["reference"]
    api.s_act("tha", ref["S1"], "submit")
    when(3, 3)
    api.act("cm_aus", ref["P1"], "review", recommendation="endorse", comment="Sound.")
    api.act("cm_idn", ref["P1"], "review", recommendation="endorse", comment="Agreed.")
    api.act("cm_aus", ref["P1"], "refer_to_co_chairs", comment="No consultation needed.")
    when(3, 4)
    api.s_act("cm_aus", ref["S1"], "decide", decision="accept", comment="Welcome.")
    when(3, 5)
    new("tha", "P3", title="An idea not pursued", engagement_type="collaboration", scope="bilateral",
        thematic_areas=["people_smuggling"])
    when(3, 8)
    api.act("tha", ref["P3"], "withdraw", comment="Not now.")
    api.s_act("cm_aus", ref["S1"], "confirm_arrangement", arrangement_signed_on="2027-03-08",
              start_date="2027-03-15", end_date="2027-08-15")
    when(3, 10)
    api.act("chair_aus", ref["P1"], "give_guidance", decision="approve_with_conditions",
            conditions="Pilot in two provinces first.", comment="For both Co-Chairs.")
    for item in ALL_ITEMS:
        api.s_act("tha", ref["S1"], "complete_item", item=item)
    when(3, 15)
    api.s_act("cm_aus", ref["S1"], "start")
    new("phl", "P2", title="Maritime smuggling information exchange", engagement_type="collaboration",
        scope="bilateral", thematic_areas=["people_smuggling", "irregular_migration"])
    api.act("phl", ref["P2"], "submit")
    when(3, 17)
    api.act("cm_aus", ref["P2"], "review", recommendation="revise", comment="Say who shares what.")
    api.act("cm_idn", ref["P2"], "review", recommendation="endorse", comment="Fine.")
    when(3, 22)
    s2 = api.nominate("phl", start_date="2027-06-01", end_date="2027-11-30")
    ref["S2"] = s2["reference"]
    api.s_act("phl", ref["S2"], "submit")
    when(3, 24)
    api.act("phl", ref["P2"], "resubmit", changes={"summary": "Now says who shares what."}, comment="Revised.")
    when(3, 29)
    new("tha", "P4", title="Funding for shelters", engagement_type="funding_support", scope="multilateral",
        thematic_areas=["transnational_crime"])
    api.act("tha", ref["P4"], "submit")
    when(4, 1)
    api.act("tha", ref["P4"], "withdraw", comment="Funded elsewhere.")
    api.s_act("tha", ref["S1"], "request_extension", new_end_date="2027-09-15", justification="Handover of cases.")
    api.settle()

    sweep_at(at(4, 5, 8, 30))
    when(4, 5)
    new("phl", "P5", title="Online scam compounds", engagement_type="in_kind_support", scope="regional",
        thematic_areas=["technology_misuse", "trafficking_in_persons"])
    api.act("phl", ref["P5"], "submit")
    when(4, 5, 11)
    api.s_act("cm_idn", ref["S1"], "decide_extension", decision="approve", comment="Agreed.")
    sweep_at(at(4, 8, 8, 30))
    sweep_at(at(4, 16, 8, 30))
    when(4, 19)
    api.act("cm_aus", ref["P2"], "review", recommendation="decline", comment="Outside the mandate.")
    api.act("cm_idn", ref["P2"], "review", recommendation="decline", comment="Agreed.")
    api.s_act("cm_idn", ref["S2"], "decide", decision="decline", comment="No post this year.")
    sweep_at(at(4, 21, 8, 30))
    when(4, 22)
    api.act("cm_aus", ref["P5"], "review", recommendation="endorse", comment="Urgent.")
    api.act("cm_idn", ref["P5"], "review", recommendation="endorse", comment="Agreed.")
    api.act("cm_idn", ref["P5"], "open_consultation", stakeholders=["iom@stakeholders.example",
                                                                    "tip@stakeholders.example"], comment="Views?")
    when(5, 11)
    api.act("iom", ref["P5"], "respond", position="support", comment="Yes.")
    when(5, 19)
    api.act("cm_aus", ref["P5"], "close_consultation", comment="No answer from the TIP working group.")
    when(7, 1, 9)
    api.settle()
    return ref


def get_report(api, kind, period, headers=None, **params):
    r = api.get("cm_aus", f"/reports/{kind}/{period}", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r


def rows(report: dict, name: str) -> list[dict]:
    return next(t["rows"] for t in report["tables"] if t["name"] == name)


def counts(received=0, approved=0, approved_with_conditions=0, declined=0, withdrawn=0, open_at_end=0) -> dict:
    return dict(received=received, approved=approved, approved_with_conditions=approved_with_conditions,
                declined=declined, withdrawn=withdrawn, open_at_end=open_at_end)


def by(report: dict, dim: str) -> dict:
    return {r[dim]: {k: v for k, v in r.items() if k != dim} for r in rows(report, f"proposals_by_{dim}")}


ZERO_NOTICES = {"Co-Manager review": (0, 0), "Stakeholder consultation": (0, 0), "Co-Chair guidance": (0, 0),
                "Decision on a nomination": (0, 0), "Decision on an extension": (0, 0),
                "Final report of a secondment": (0, 0), "End of a placement (extension question)": (0, 0),
                "Pre-deployment checklist": (0, 0)}


def notices(report: dict) -> dict:
    return {r["step"]: (r["reminders"], r["escalations"]) for r in rows(report, "reminders_and_escalations")}


def stages(report: dict) -> dict:
    return {(r["lifecycle"], r["stage"]): (r["stays"], r["median"], r["p90"]) for r in rows(report, "time_per_stage")}


def no_stays(given: dict) -> dict:
    every = {("Proposal", s): (0, None, None) for s in ("Co-Manager review", "Revision requested",
                                                         "Stakeholder consultation", "Co-Chair guidance")}
    every |= {("Secondment", s): (0, None, None) for s in ("Under review", "Information requested", "Arranging",
                                                           "Pre-deployment", "Active", "Concluding")}
    return every | given


def secondments(report: dict) -> dict:
    return {r["member_state"]: {k: v for k, v in r.items() if k != "member_state"}
            for r in rows(report, "secondments_by_member_state")}


def sec(received=0, accepted=0, declined=0, withdrawn=0, started=0, active=0, completed=0, person_months=0,
        extensions_requested=0, extensions_approved=0) -> dict:
    return dict(received=received, accepted=accepted, declined=declined, withdrawn=withdrawn, started=started,
                active=active, completed=completed, person_months=person_months,
                extensions_requested=extensions_requested, extensions_approved=extensions_approved)


THA, PHL = "Thailand (THA)", "Philippines (PHL)"
NO_AREA = {a: counts() for a in ("People smuggling", "Trafficking in persons", "Irregular migration",
                                 "Transnational crime", "Misuse of technology")}
NO_TYPE = {a: counts() for a in ("Collaboration", "New project", "Funding support", "In-kind support")}
NO_SCOPE = {a: counts() for a in ("Bilateral", "Multilateral", "Regional")}


@pytest.mark.slow
def test_every_figure_of_the_monthly_and_half_year_reports_matches_the_hand_count(world):
    api, sweep_at, inbox, _ = world
    ref = build(api, sweep_at)

    # --- March 2027 -------------------------------------------------------------------------
    march = get_report(api, "monthly", "2027-03").json()
    assert (march["label"], march["from"], march["to"]) == ("March 2027", "2027-03-01", "2027-03-31")
    assert march["figures"] == {
        "proposals_received": 3,  # P1, P2, P4 (P3 never submitted; P2's resubmission is not a second receipt)
        "proposals_decided": 1, "proposals_approved": 0, "proposals_approved_with_conditions": 1,  # P1
        "proposals_declined": 0, "proposals_withdrawn": 0,  # P3, a withdrawn draft, is not counted
        "proposals_open_at_end": 2,  # P2 (decided in April), P4 (withdrawn 1 April)
        "consultations_closed_without_every_response": 0, "reminders_sent": 0, "escalations_sent": 0,
        "steps_late": 0, "nominations_received": 2, "nominations_accepted": 1, "nominations_declined": 0,
        "placements_started": 1, "placements_active": 1, "placements_completed": 0,
        "person_months": 0.55,  # S1 from 15 March: 17 of March's 31 days
        "extensions_requested": 0, "extensions_approved": 0}
    assert by(march, "member_state") == {PHL: counts(received=1, open_at_end=1),
                                         THA: counts(received=2, approved_with_conditions=1, open_at_end=1)}
    assert by(march, "thematic_area") == NO_AREA | {
        "People smuggling": counts(received=1, open_at_end=1),
        "Trafficking in persons": counts(received=1, approved_with_conditions=1),
        "Irregular migration": counts(received=1, open_at_end=1),
        "Transnational crime": counts(received=1, open_at_end=1)}
    assert by(march, "engagement_type") == NO_TYPE | {
        "Collaboration": counts(received=1, open_at_end=1), "New project": counts(received=1, approved_with_conditions=1),
        "Funding support": counts(received=1, open_at_end=1)}
    assert by(march, "scope") == NO_SCOPE | {
        "Bilateral": counts(received=1, open_at_end=1), "Multilateral": counts(received=1, open_at_end=1),
        "Regional": counts(received=1, approved_with_conditions=1)}
    assert rows(march, "approved_proposals") == [{
        "reference": ref["P1"], "title": "Cross-border victim referral", "member_state": THA,
        "approved_on": "2027-03-10", "conditions": "Pilot in two provinces first."}]
    assert stages(march) == no_stays({
        ("Proposal", "Co-Manager review"): (2, 2.0, 2),  # P1 1->3 Mar, P2 15->17 Mar: 2 business days each
        ("Proposal", "Revision requested"): (1, 5.0, 5),  # P2 17->24 Mar
        ("Proposal", "Co-Chair guidance"): (1, 5.0, 5),  # P1 3->10 Mar
        ("Secondment", "Under review"): (1, 3.0, 3),  # S1 1->4 Mar
        ("Secondment", "Arranging"): (1, 2.0, 2),  # S1 4->8 Mar (Fri 5, Mon 8)
        ("Secondment", "Pre-deployment"): (1, 5.0, 5)})  # S1 8->15 Mar
    assert rows(march, "late_steps") == [  # none late: alphabetical
        {"step": "Co-Chair guidance", "due": 1, "late": 0, "share_late": 0.0},  # P1's, due 24 Mar
        {"step": "Co-Manager review", "due": 4, "late": 0, "share_late": 0.0},  # P1's two (15 Mar), P2's first two (29 Mar)
        {"step": "Decision on a nomination", "due": 1, "late": 0, "share_late": 0.0}]  # S1's (15 Mar)
    assert notices(march) == ZERO_NOTICES
    assert secondments(march) == {
        PHL: sec(received=1),
        THA: sec(received=1, accepted=1, started=1, active=1, person_months=0.55)}

    # --- April 2027: Chakri Day and Songkran -------------------------------------------------
    april = get_report(api, "monthly", "2027-04").json()
    assert april["figures"] == {
        "proposals_received": 1,  # P5
        "proposals_decided": 2, "proposals_approved": 0, "proposals_approved_with_conditions": 0,
        "proposals_declined": 1, "proposals_withdrawn": 1,  # P2 (received in March), P4
        "proposals_open_at_end": 1,  # P5, in consultation
        "consultations_closed_without_every_response": 0,
        "reminders_sent": 7,  # P2: 2 reviewers x (5 Apr, 8 Apr); P5: 2 x 21 Apr; S2: 1 (for 1 Apr, sent 5 Apr)
        "escalations_sent": 3,  # P2: 2 reviews on 16 Apr; S2's decision on 16 Apr
        "steps_late": 3,  # P2's second-round reviews (due 8 Apr, done 19 Apr), S2's decision (due 5 Apr, done 19 Apr)
        "nominations_received": 0, "nominations_accepted": 0, "nominations_declined": 1,
        "placements_started": 0, "placements_active": 1, "placements_completed": 0, "person_months": 1.0,
        "extensions_requested": 1, "extensions_approved": 1}
    assert by(april, "member_state") == {PHL: counts(received=1, declined=1, open_at_end=1),
                                         THA: counts(withdrawn=1)}
    assert by(april, "thematic_area") == NO_AREA | {
        "People smuggling": counts(declined=1), "Irregular migration": counts(declined=1),
        "Trafficking in persons": counts(received=1, open_at_end=1), "Misuse of technology": counts(received=1, open_at_end=1),
        "Transnational crime": counts(withdrawn=1)}
    assert by(april, "engagement_type") == NO_TYPE | {
        "Collaboration": counts(declined=1), "Funding support": counts(withdrawn=1),
        "In-kind support": counts(received=1, open_at_end=1)}
    assert by(april, "scope") == NO_SCOPE | {
        "Bilateral": counts(declined=1), "Multilateral": counts(withdrawn=1), "Regional": counts(received=1, open_at_end=1)}
    assert rows(april, "approved_proposals") == []
    assert stages(april) == no_stays({
        # P4 29 Mar->1 Apr: 3; P5 5->22 Apr: 9 (not 6 Apr, not 13-15 Apr); P2 round 2, 24 Mar->19 Apr: 14
        ("Proposal", "Co-Manager review"): (3, 9.0, 14),
        ("Secondment", "Under review"): (1, 16.0, 16)})  # S2 22 Mar->19 Apr
    assert rows(april, "late_steps") == [
        {"step": "Co-Manager review", "due": 4, "late": 2, "share_late": 0.5},  # P2 round 2 late; P5's on time
        {"step": "Decision on a nomination", "due": 1, "late": 1, "share_late": 1.0},  # S2
        {"step": "Decision on an extension", "due": 1, "late": 0, "share_late": 0.0}]  # S1's, due 21 Apr, done 5 Apr
    assert notices(april) == ZERO_NOTICES | {"Co-Manager review": (6, 2), "Decision on a nomination": (1, 1)}
    assert secondments(april) == {
        PHL: sec(declined=1),
        THA: sec(active=1, person_months=1.0, extensions_requested=1, extensions_approved=1)}

    # --- January to June 2027 ----------------------------------------------------------------
    half = get_report(api, "biannual", "2027-H1").json()
    assert (half["label"], half["from"], half["to"]) == ("January to June 2027", "2027-01-01", "2027-06-30")
    assert half["figures"] == {
        "proposals_received": 4, "proposals_decided": 3, "proposals_approved": 0,
        "proposals_approved_with_conditions": 1, "proposals_declined": 1, "proposals_withdrawn": 1,
        "proposals_open_at_end": 1,  # P5, awaiting the co-chairs
        "consultations_closed_without_every_response": 1,  # P5's, without the TIP working group
        "reminders_sent": 7, "escalations_sent": 3,
        # P2's two reviews, S2's decision, TIP's consultation (due 17 May, closed 19 May), P5's
        # guidance (due 11 Jun, open on 1 Jul)
        "steps_late": 5,
        "nominations_received": 2, "nominations_accepted": 1, "nominations_declined": 1,
        "placements_started": 1, "placements_active": 1, "placements_completed": 0,
        "person_months": 3.55,  # 17/31 of March, then April, May and June
        "extensions_requested": 1, "extensions_approved": 1}
    assert by(half, "member_state") == {PHL: counts(received=2, declined=1, open_at_end=1),
                                        THA: counts(received=2, approved_with_conditions=1, withdrawn=1)}
    assert by(half, "thematic_area") == {
        "People smuggling": counts(received=1, declined=1),
        "Trafficking in persons": counts(received=2, approved_with_conditions=1, open_at_end=1),
        "Irregular migration": counts(received=1, declined=1),
        "Transnational crime": counts(received=1, withdrawn=1),
        "Misuse of technology": counts(received=1, open_at_end=1)}
    assert by(half, "engagement_type") == {
        "Collaboration": counts(received=1, declined=1), "New project": counts(received=1, approved_with_conditions=1),
        "Funding support": counts(received=1, withdrawn=1), "In-kind support": counts(received=1, open_at_end=1)}
    assert by(half, "scope") == {
        "Bilateral": counts(received=1, declined=1), "Multilateral": counts(received=1, withdrawn=1),
        "Regional": counts(received=2, approved_with_conditions=1, open_at_end=1)}
    assert [r["reference"] for r in rows(half, "approved_proposals")] == [ref["P1"]]
    assert stages(half) == no_stays({
        ("Proposal", "Co-Manager review"): (5, 3.0, 14),  # 2, 2, 3, 9, 14
        ("Proposal", "Revision requested"): (1, 5.0, 5),
        ("Proposal", "Stakeholder consultation"): (1, 17.0, 17),  # P5 22 Apr->19 May (not 3, 4 or... 20 May is after)
        ("Proposal", "Co-Chair guidance"): (1, 5.0, 5),
        ("Secondment", "Under review"): (2, 9.5, 16),  # 3 and 16
        ("Secondment", "Arranging"): (1, 2.0, 2),
        ("Secondment", "Pre-deployment"): (1, 5.0, 5)})
    assert rows(half, "late_steps") == [
        {"step": "Co-Manager review", "due": 8, "late": 2, "share_late": 0.25},  # P1 x2, P2 x4, P5 x2 (P4's cancelled)
        {"step": "Co-Chair guidance", "due": 2, "late": 1, "share_late": 0.5},
        {"step": "Decision on a nomination", "due": 2, "late": 1, "share_late": 0.5},
        {"step": "Stakeholder consultation", "due": 2, "late": 1, "share_late": 0.5},
        {"step": "Decision on an extension", "due": 1, "late": 0, "share_late": 0.0}]
    assert notices(half) == notices(april)
    assert secondments(half) == {
        PHL: sec(received=1, declined=1),
        THA: sec(received=1, accepted=1, started=1, active=1, person_months=3.55, extensions_requested=1,
                 extensions_approved=1)}


def test_reports_are_for_rso_staff_and_say_what_a_bad_period_is(api):
    for who in ("cm_aus", "chair_idn", "admin"):
        assert api.get(who, "/reports/monthly/2026-11").status_code == 200
    for who in ("tha", "iom"):
        r = api.get(who, "/reports/monthly/2026-11")
        assert r.status_code == 403 and "staff" in r.json()["detail"]
    for path, field, words in (("/reports/monthly/2026-13", "period", "month"),
                               ("/reports/monthly/2026-H2", "period", "YYYY-MM"),
                               ("/reports/biannual/2026-H3", "period", "YYYY-H1"),
                               ("/reports/weekly/2026-11", "kind", "monthly"),
                               ("/reports/annual/2026?format=docx", "format", "pdf")):
        r = api.get("cm_aus", path)
        assert r.status_code == 422, (path, r.text)
        (err,) = r.json()["errors"]
        assert err["field"] == field and words in err["message"], (path, err)


@pytest.mark.slow
def test_the_pdf_the_spreadsheet_and_the_csv_say_what_the_report_says(world):
    from openpyxl import load_workbook
    from pypdf import PdfReader
    api, sweep_at, inbox, _ = world
    ref = build(api, sweep_at)
    report = get_report(api, "monthly", "2027-04").json()

    r = get_report(api, "monthly", "2027-04", format="pdf")
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="rso-monthly-report-2027-04.pdf"' in r.headers["content-disposition"]
    pdf = PdfReader(io.BytesIO(r.content))
    pages = [" ".join(p.extract_text().split()) for p in pdf.pages]
    cover = pages[0]
    assert "Monthly report" in cover and "April 2027" in cover and "Date of issue" in cover and "1 July 2027" in cover
    assert all(f"Page {i} of {len(pages)}" in text for i, text in enumerate(pages, 1) if i > 1)
    text = " ".join(pages)
    assert "Proposals received 1" in text and "Reminders sent 7" in text and "Escalations sent 3" in text
    assert "Extensions approved 1" in text and "Person-months 1" in text
    # Every table is in it, under its title, with its figures.
    for table in report["tables"]:
        assert table["title"] in text
    assert "Co-Manager review 4 2 50%" in text and "Decision on a nomination 1 1 100%" in text

    r = get_report(api, "monthly", "2027-04", format="xlsx")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["summary", *(t["name"] for t in report["tables"])]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    summary = {ws_row[0]: ws_row[1] for ws_row in wb["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Reminders sent"] == 7 and summary["Person-months"] == 1.0
    late = list(wb["late_steps"].iter_rows(values_only=True))
    assert late[0] == ("Step", "Due in the period", "Late", "Share late")
    assert late[1] == ("Co-Manager review", 4, 2, 0.5)  # numbers, not text
    half = load_workbook(io.BytesIO(get_report(api, "biannual", "2027-H1", format="xlsx").content))
    approved = list(half["approved_proposals"].iter_rows(min_row=2, values_only=True))
    assert approved[0][0] == ref["P1"] and approved[0][3] == datetime(2027, 3, 10)  # a date cell
    assert half["approved_proposals"].cell(2, 4).number_format == "d mmm yyyy"

    r = get_report(api, "monthly", "2027-04", format="csv", table="late_steps")
    assert r.headers["content-type"].startswith("text/csv")
    got = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert got == [["Step", "Due in the period", "Late", "Share late"], ["Co-Manager review", "4", "2", "0.5000"],
                   ["Decision on a nomination", "1", "1", "1.0000"], ["Decision on an extension", "1", "0", "0.0000"]]
    z = zipfile.ZipFile(io.BytesIO(get_report(api, "monthly", "2027-04", format="csv").content))
    assert sorted(z.namelist()) == sorted(f"rso-monthly-report-2027-04-{n}.csv"
                                          for n in ["summary", *(t["name"] for t in report["tables"])])
    assert get_report(api, "monthly", "2027-04", headers={"Accept": "application/pdf"}).content[:5] == b"%PDF-"


def test_a_closed_months_late_steps_do_not_change_when_the_item_moves_on_later(api, clock):
    clock.now = at(3, 1)
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")  # the two reviews due Monday 15 March
    clock.now = at(4, 1, 7)  # the moment the March report goes out
    sent = get_report(api, "monthly", "2027-03").json()
    assert sent["figures"]["steps_late"] == 2
    assert rows(sent, "late_steps") == [{"step": "Co-Manager review", "due": 2, "late": 2, "share_late": 1.0}]
    clock.now = at(4, 5)
    api._tokens.clear()
    api.act("tha", ref, "withdraw", comment="Funded elsewhere.")  # the reviews are cancelled now, late
    again = get_report(api, "monthly", "2027-03").json()
    assert again["figures"]["steps_late"] == 2 and rows(again, "late_steps") == rows(sent, "late_steps")


def test_a_period_not_begun_and_a_table_that_is_not_there_are_refused_by_their_field(api, clock):
    clock.now = at(4, 9)
    for path, field, words in (("/reports/monthly/2027-05", "period", "May 2027 has not begun"),
                               ("/reports/annual/2030", "period", "the latest annual report is 2027"),
                               ("/reports/monthly/2027-04?format=csv&table=nope", "table", "late_steps"),
                               ("/reports/monthly/2027-04?format=pdf&table=late_steps", "table", "format=csv")):
        r = api.get("cm_aus", path)
        assert r.status_code == 422, (path, r.text)
        (err,) = r.json()["errors"]
        assert err["field"] == field and words in err["message"], (path, err)
    # A member state is refused as such, whatever else is wrong with the address.
    assert api.get("tha", "/reports/monthly/2027-04?format=docx").status_code == 403
    assert get_report(api, "monthly", "2027-04").json()["label"] == "April 2027"  # under way: so far


def test_text_that_looks_like_a_formula_stays_text_in_the_files(api):
    from openpyxl import load_workbook
    title = '=HYPERLINK("http://evil.example","Click")'
    ref = api.create(title=title)["reference"]
    api.act("tha", ref, "submit")
    r = api.get("cm_aus", "/proposals", params={"format": "xlsx"})
    ws = load_workbook(io.BytesIO(r.content)).active
    (cell,) = [c for row in ws.iter_rows(min_row=2) for c in row if c.value == title]
    assert cell.data_type == "s"  # a string, not a formula
    r = api.get("cm_aus", "/proposals", params={"format": "csv"})
    assert "'" + title in next(csv.reader([line for line in r.text.splitlines() if ref in line]))
