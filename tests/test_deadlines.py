"""Deadlines as people notice them: reminders to whoever must act, escalations to whoever
must follow up, steps the calendar takes by itself, each once, whatever the sweeps do."""
from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rso.app import create_app
from services.wiring import build_services
from services.config.calendar import BusinessCalendar
from services.infra.db import make_sync_engine
from services.deadlines import sweep
from services.engine.tasks import Task, schedule
from services.config.policy import load_policy
from services.config.calendar import add_months
from tests.conftest import ROSTER, Api
from tests.test_emails import deliver_pass, subjects

BKK = ZoneInfo("Asia/Bangkok")
TH = BusinessCalendar("TH")


def bkk(y, m, d, h=9) -> datetime:
    return datetime(y, m, d, h, tzinfo=BKK).astimezone(UTC)


def test_a_review_is_reminded_twice_then_escalated_every_five_business_days_around_holidays():
    # Due Friday 9 April 2027: reminded on Wednesday 7th (Tuesday 6th is Chakri Day) and on the
    # day; escalated three business days late (Songkran, 13-15 April, does not count): Monday
    # 19th, then every five business days.
    task = Task(kind="review", item_kind="proposal", item_id=1, due_at=TH.end_of_day(date(2027, 4, 9)))
    notices = schedule(task, load_policy(), TH)
    got = [(next(notices)) for _ in range(5)]
    assert [(n.kind, n.at.astimezone(BKK).date(), n.at.astimezone(BKK).hour) for n in got] == [
        ("reminder", date(2027, 4, 7), 8), ("reminder", date(2027, 4, 9), 8), ("escalation", date(2027, 4, 19), 8),
        ("escalation", date(2027, 4, 26), 8),
        ("escalation", date(2027, 5, 5), 8)]  # not Monday 3 (Labour Day in lieu) nor Tuesday 4 May (Coronation Day)


@pytest.fixture
def world(settings, mail_settings_for, clock, smtp_inbox):
    """The API at a moment the test sets, the sweep at moments the test names, a real SMTP server."""
    settings = mail_settings_for(settings)
    clock.now = bkk(2027, 3, 1)  # Monday 1 March 2027, 09:00 in Bangkok
    with TestClient(create_app(settings, clock=clock)) as client:
        api = Api(client, clock)

        def sweep_at(moment: datetime, **kw):
            async def run():
                svc = build_services(settings)
                try:
                    return await sweep(svc, moment, **kw)
                finally:
                    await svc.dispose()
            report = asyncio.run(run())
            deliver_pass(settings, at=moment)
            return report

        def settle():
            """What the API's actions emailed so far goes out and is set aside."""
            deliver_pass(settings, at=clock.now)
            smtp_inbox.messages.clear()

        api.settle = settle
        yield api, sweep_at, smtp_inbox, settings


def mailbox(inbox) -> dict[str, list[str]]:
    got = {who: sorted(subjects(inbox, who)) for who in ROSTER}
    inbox.messages.clear()
    return {who: s for who, s in got.items() if s}


def test_reminders_go_to_the_reviewers_and_escalations_to_the_co_chairs_once_each(world):
    api, sweep_at, inbox, _ = world
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")  # review due Monday 15 March 2027
    api.settle()
    assert sweep_at(bkk(2027, 3, 1, 10)).total() == 0
    title = "Regional workshop on victim identification"

    r = sweep_at(bkk(2027, 3, 11, 8))  # two business days before
    assert r.reminders == 2
    assert mailbox(inbox) == {"cm_aus": [f"Reminder, due Monday 15 March 2027: {ref} {title}"],
                              "cm_idn": [f"Reminder, due Monday 15 March 2027: {ref} {title}"]}
    assert sweep_at(bkk(2027, 3, 11, 8)).total() == 0 and mailbox(inbox) == {}  # the same moment again
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.settle()

    sweep_at(bkk(2027, 3, 15, 8))  # the due date: only the one who has not reviewed
    assert mailbox(inbox) == {"cm_idn": [f"Reminder, due today: {ref} {title}"]}
    sweep_at(bkk(2027, 3, 17, 12))
    assert mailbox(inbox) == {}
    sweep_at(bkk(2027, 3, 18, 8))  # three business days overdue
    overdue = [f"Overdue by 3 business days: {ref} {title}"]
    # ...and the one late hears that it was escalated, with the task's links to act at once
    assert mailbox(inbox) == {"chair_aus": overdue, "chair_idn": overdue,
                              "cm_idn": [f"Overdue by 3 business days, escalated to the Co-Chairs: {ref} {title}"]}
    sweep_at(bkk(2027, 3, 25, 8))  # and every five business days while it stays open
    assert mailbox(inbox) == {**{w: [f"Overdue by 8 business days: {ref} {title}"] for w in ("chair_aus", "chair_idn")},
                              "cm_idn": [f"Overdue by 8 business days, escalated to the Co-Chairs: {ref} {title}"]}


def test_a_sweeper_down_for_weeks_sends_the_latest_notice_once_not_a_backlog(world):
    api, sweep_at, inbox, _ = world
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.settle()
    r = sweep_at(bkk(2027, 4, 1, 9))  # past both reminders and three escalations
    assert (r.reminders, r.escalations) == (2, 2)  # one reminder and one escalation per task
    got = mailbox(inbox)
    assert sorted(got) == ["chair_aus", "chair_idn", "cm_aus", "cm_idn"]
    assert all(len(s) == 2 for s in got.values())  # co-chairs: two escalations; co-managers: a reminder, an escalation


def test_a_consultation_closes_by_itself_five_business_days_after_it_was_due(world):
    api, sweep_at, inbox, settings = world
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["tip"]["email"]],
            due_date="2027-03-19")
    api.act("iom", ref, "respond", position="support")
    api.settle()
    sweep_at(bkk(2027, 3, 16, 8))  # three business days before: the stakeholder who has not answered
    assert list(mailbox(inbox)) == ["tip"]
    sweep_at(bkk(2027, 3, 19, 8))  # on the due date the co-managers hear of it, and the stakeholder that they did
    got = mailbox(inbox)
    assert sorted(got) == ["cm_aus", "cm_idn", "tip"]
    assert got["tip"] == [f"Due today, escalated to the Co-Managers: {ref} Regional workshop on victim identification"]
    assert sweep_at(bkk(2027, 3, 25, 12)).steps.get("consultations_closed", 0) == 0
    r = sweep_at(bkk(2027, 3, 26, 8))
    assert r.steps.get("consultations_closed", 0) == 1
    p = api.get("cm_aus", f"/proposals/{ref}").json()
    assert p["state"] == "co_chair_guidance"
    last = api.get("cm_aus", f"/proposals/{ref}/history").json()[-1]
    assert (last["action"], last["actor_role"], last["actor"]) == ("close_consultation", "system",
                                                                   "RSO Workflow (system)")
    assert last["arguments"] == {"no_response": 1}
    assert sweep_at(bkk(2027, 3, 26, 8)).steps.get("consultations_closed", 0) == 0
    assert sorted(mailbox(inbox)) == ["chair_aus", "chair_idn"]  # their guidance task


def test_a_secondment_is_asked_about_extension_then_handed_over_by_the_calendar(world, clock):
    api, sweep_at, inbox, _ = world
    start = date(2027, 3, 15)
    s = api.nominate(**{"start_date": start.isoformat(), "end_date": add_months(start, 5).isoformat()})
    ref = s["reference"]
    from tests.api.test_secondment_api import ALL_ITEMS
    api.s_act("tha", ref, "submit")
    api.s_act("cm_aus", ref, "decide", decision="accept")
    api.s_act("cm_aus", ref, "confirm_arrangement", arrangement_signed_on="2027-03-01", start_date=start.isoformat(),
              end_date=add_months(start, 5).isoformat())  # ends Sunday 15 August 2027
    api.s_act("tha", ref, "complete_item", item="visa")
    api.settle()
    sweep_at(bkk(2027, 2, 28, 9))
    assert mailbox(inbox) == {}
    sweep_at(bkk(2027, 3, 1, 10))  # 14 days before the start, items still open
    got = mailbox(inbox)
    assert sorted(got) == ["cm_aus", "cm_idn", "tha"] and "checklist incomplete" in got["tha"][0]
    sweep_at(bkk(2027, 3, 15, 8))  # the start date, still incomplete: the co-managers
    got = mailbox(inbox)
    assert sorted(got) == ["cm_aus", "cm_idn"] and "on the start date" in got["cm_aus"][0]
    for item in (i for i in ALL_ITEMS if i != "visa"):
        api.s_act("tha", ref, "complete_item", item=item)
    api.s_act("cm_aus", ref, "start")
    api.settle()

    sweep_at(bkk(2027, 6, 15, 9))  # 61 days before the end
    assert mailbox(inbox) == {}
    sweep_at(bkk(2027, 6, 16, 9))  # 60 days before the end: is an extension wanted?
    assert mailbox(inbox) == {"tha": [f"{ref} ends soon: extension?: Somchai Wongsakul, Trafficking in persons "
                                      "investigations adviser"]}
    sweep_at(bkk(2027, 6, 20, 9))
    assert mailbox(inbox) == {}
    r = sweep_at(bkk(2027, 7, 16, 9))  # 30 days before the end
    assert r.steps.get("handovers_begun", 0) == 1
    s = api.get("tha", f"/secondments/{ref}").json()
    assert s["state"] == "concluding" and s["tasks"][0]["kind"] == "final_report"
    last = api.get("tha", f"/secondments/{ref}/history").json()[-1]
    assert (last["action"], last["actor_role"]) == ("begin_handover", "system")
    assert sweep_at(bkk(2027, 7, 17, 9)).steps.get("handovers_begun", 0) == 0
    got = mailbox(inbox)
    assert "handover begun" in " ".join(got["tha"]) and "Final report requested" in " ".join(got["tha2"])


def test_a_sweep_that_dies_half_way_sends_nothing_twice_when_run_again(world, database_url):
    api, sweep_at, inbox, settings = world
    refs = [api.create(title=f"Proposal number {i}")["reference"] for i in range(4)]
    for ref in refs:
        api.act("tha", ref, "submit")
    moment = bkk(2027, 3, 11, 8)

    async def dying_sweep():
        svc = build_services(settings)
        calls = {"n": 0}

        async def die_on_the_third_batch(uow):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("the sweeper's machine went down")
        svc.event_writers.insert(0, die_on_the_third_batch)
        try:
            await sweep(svc, moment, batch=2)
        finally:
            await svc.dispose()

    api.settle()
    with pytest.raises(RuntimeError):
        asyncio.run(dying_sweep())  # 8 review tasks, 2 a batch: the third batch never commits
    r = sweep_at(moment, batch=2)
    assert r.reminders == 4  # what the dead sweep had not committed
    assert sweep_at(moment).total() == 0
    sent = [(m["To"].addresses[0].addr_spec, m["Subject"]) for m in inbox.messages]
    assert len(sent) == len(set(sent)) == 8  # each co-manager reminded once of each of the four proposals


@pytest.mark.postgresql_only
def test_four_sweepers_at_once_send_each_notice_once(world):
    api, _, inbox, settings = world
    refs = [api.create(title=f"Proposal number {i}")["reference"] for i in range(10)]
    for ref in refs:
        api.act("tha", ref, "submit")
    moment = bkk(2027, 3, 18, 8)  # both reminders and the first escalation are due: one of each per task

    async def four():
        services = [build_services(settings) for _ in range(4)]
        try:
            return await asyncio.gather(*(sweep(svc, moment, batch=3) for svc in services))
        finally:
            for svc in services:
                await svc.dispose()

    reports = asyncio.run(four())
    assert sum(r.reminders for r in reports) == 20 and sum(r.escalations for r in reports) == 20
    engine = make_sync_engine(settings.database_url)
    with engine.connect() as conn:
        notices = conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT key) FROM deadline_notices")).one()
        outbox = conn.execute(sa.text("SELECT COUNT(*) FROM outbox_messages WHERE template <> 'submission_acknowledged' "
                                      "AND subject NOT LIKE 'Review requested%'")).scalar()
    engine.dispose()
    assert tuple(notices) == (40, 40)
    assert outbox == 20 + 20 * 2 + 20  # a reminder to each seat, each escalation to both co-chairs and its seat
