"""The scheduled flows under Prefect's own test harness: the sweep, delivery and the daily
digest do what people notice (emails, once each), and Prefect records one flow run per tick
with a handful of task runs, however many reminders it sends."""
from __future__ import annotations

import asyncio
import re
import pytest

from tests.conftest import ROSTER
from tests.test_deadlines import bkk, mailbox, world  # noqa: F401 (a fixture)
from tests.test_emails import parts


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def flows(world, prefect_harness, monkeypatch):  # noqa: F811 (world is the imported fixture)
    """The flows, reading their settings from the environment as when served."""
    api, _, inbox, settings = world
    for name in ("database_url", "smtp_host", "smtp_port", "base_url", "secret_key"):
        monkeypatch.setenv(f"RSO_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("RSO_NOW", settings.now.isoformat())
    from workflows import flows
    return api, inbox, flows


def run(flow, **params):
    return asyncio.run(flow(**params))


async def _runs_of(flow_name: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    async with get_client() as client:
        return await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))


async def _task_runs_of(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    async with get_client() as client:
        return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def test_one_sweep_flow_run_sends_every_reminder_due_once_in_a_few_task_runs(flows):
    api, inbox, f = flows
    refs = [api.create(title=f"Workshop {n}")["reference"] for n in range(3)]
    for ref in refs:
        api.act("tha", ref, "submit")  # reviews due Monday 15 March 2027
    api.settle()
    before = len(asyncio.run(_runs_of("deadline-sweep")))

    report = run(f.sweep_flow, now=bkk(2027, 3, 11, 8))  # two business days before
    assert report["reminders"] == 6 and report["delivery"]["sent"] == 6
    got = mailbox(inbox)
    assert sorted(got) == ["cm_aus", "cm_idn"] and all(len(s) == 3 for s in got.values())
    assert all(s.startswith("Reminder, due Monday 15 March 2027") for s in got["cm_aus"])

    again = run(f.sweep_flow, now=bkk(2027, 3, 11, 8))  # the same tick again sends nothing
    assert again["reminders"] == 0 and mailbox(inbox) == {}

    runs = asyncio.run(_runs_of("deadline-sweep"))
    assert len(runs) == before + 2 and all(r.state.is_completed() for r in runs)
    latest = max(runs, key=lambda r: r.start_time)
    names = sorted(re.sub(r"-[0-9a-f]+$", "", t.name) for t in asyncio.run(_task_runs_of(latest.id)))
    assert names == ["close-consultations", "deliver-outbox", "secondment-timers", "send-task-notices"]


def test_the_daily_digest_lists_each_co_managers_open_tasks_soonest_due_first_once_a_day(flows):
    api, inbox, f = flows
    first = api.create(title="First workshop")["reference"]
    api.act("tha", first, "submit")  # reviews due Monday 15 March 2027
    api.clock.now = bkk(2027, 3, 3)
    api._tokens.clear()  # signed in again two days later
    second = api.create(title="Second workshop")["reference"]
    api.act("tha", second, "submit")  # due Wednesday 17 March
    api.act("cm_aus", first, "review", recommendation="endorse")
    api.settle()

    run(f.digest_flow, now=bkk(2027, 3, 16, 8))
    got = {who: [m for m in inbox.to(ROSTER[who]["email"])] for who in ROSTER}
    got = {who: ms for who, ms in got.items() if ms}
    assert sorted(got) == ["cm_aus", "cm_idn"]  # the co-managers only, one email each
    assert [len(ms) for ms in got.values()] == [1, 1]
    (aus,), (idn,) = got["cm_aus"], got["cm_idn"]
    assert aus["Subject"] == "Your RSO tasks, 16 March 2027: 1 open"
    assert idn["Subject"] == "Your RSO tasks, 16 March 2027: 2 open, 1 overdue"
    text, html = parts(idn)
    assert text.index(f"{first} \"First workshop\"") < text.index(f"{second} \"Second workshop\"")
    assert "due Mon 15 Mar 2027 (OVERDUE)" in text and "due Wed 17 Mar 2027\r\n" in text
    assert text.count("  Endorse: https://workflow.rso.example/act/") == 2  # each task's links, to act from the digest
    assert html.count('href="https://workflow.rso.example/act/') == 6
    assert "Second workshop" in parts(aus)[0] and "First workshop" not in parts(aus)[0]
    assert "https://workflow.rso.example/tasks" in html
    inbox.messages.clear()

    run(f.digest_flow, now=bkk(2027, 3, 16, 9))  # the same day again: nothing twice
    assert mailbox(inbox) == {}
    run(f.digest_flow, now=bkk(2027, 3, 17, 8))  # the next day: again
    assert sorted(mailbox(inbox)) == ["cm_aus", "cm_idn"]


def test_no_open_tasks_no_digest(flows):
    api, inbox, f = flows
    report = run(f.digest_flow, now=bkk(2027, 3, 2, 8))
    assert (report["co_managers"], report["written"]) == (2, 0) and mailbox(inbox) == {}


def test_the_delivery_flow_sends_what_waits_in_the_outbox(flows):
    api, inbox, f = flows
    api.clock.now = None  # the clock runs on, as the served flow's does (RSO_NOW)
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    report = run(f.delivery_flow)
    assert report["sent"] == 3 and sorted(mailbox(inbox)) == ["cm_aus", "cm_idn", "tha"]


def test_the_served_deployments_carry_the_schedules_in_bangkok_time():
    from workflows.serve import deployments
    got = {d.flow_name: [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] for d in deployments()}
    assert got == {"deadline-sweep": [("*/5 * * * *", "Asia/Bangkok")],
                   "outbox-delivery": [("* * * * *", "Asia/Bangkok")],
                   "daily-digest": [("0 8 * * *", "Asia/Bangkok")],
                   "monthly-report": [("0 7 1 * *", "Asia/Bangkok")],
                   "half-year-report": [("0 7 1 1,7 *", "Asia/Bangkok")]}


def test_the_monthly_report_goes_to_both_co_managers_with_its_pdf_once(flows):
    from io import BytesIO
    from pypdf import PdfReader
    api, inbox, f = flows
    for n in range(2):  # two proposals received in March 2027
        api.act("tha", api.create(title=f"Workshop {n}")["reference"], "submit")
    api.settle()

    report = run(f.monthly_report_flow, now=bkk(2027, 4, 1, 7))  # 1 April, 07:00: March's report
    assert (report["period"], report["written"], report["delivery"]["sent"]) == ("2027-03", 2, 2)
    assert sorted(m["To"].addresses[0].addr_spec for m in inbox.messages) == sorted(
        ROSTER[w]["email"] for w in ("cm_aus", "cm_idn"))
    for m in inbox.messages:
        assert m["Subject"] == "RSO Monthly report, March 2027"
        text, html = parts(m)
        assert "Proposals received: 2" in text and "/reports/monthly/2027-03" in text
        (pdf,) = [p for p in m.iter_attachments()]
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_filename() == "rso-monthly-report-2027-03.pdf"
        pages = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(BytesIO(pdf.get_content())).pages)
        assert "Monthly report" in pages and "March 2027" in pages and "Proposals received 2" in pages
    inbox.messages.clear()

    again = run(f.monthly_report_flow, now=bkk(2027, 4, 1, 7))  # the same tick again: nothing twice
    assert (again["written"], again["already"], again["delivery"]["sent"]) == (0, 2, 0) and inbox.messages == []


def test_the_half_year_report_goes_to_the_co_managers_and_the_co_chairs_on_1_july(flows):
    api, inbox, f = flows
    api.act("tha", api.create()["reference"], "submit")
    api.settle()
    report = run(f.half_year_report_flow, now=bkk(2027, 7, 1, 7))
    assert (report["period"], report["written"], report["delivery"]["sent"]) == ("2027-H1", 4, 4)
    assert sorted(m["To"].addresses[0].addr_spec for m in inbox.messages) == sorted(
        ROSTER[w]["email"] for w in ("cm_aus", "cm_idn", "chair_aus", "chair_idn"))
    assert {m["Subject"] for m in inbox.messages} == {"RSO Six-monthly report, January to June 2027"}
    assert all(len(list(m.iter_attachments())) == 1 for m in inbox.messages)
