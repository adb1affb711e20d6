"""The scheduled work, as Prefect flows: the deadline sweep, outbox delivery and the daily
digest. Each flow is a few small tasks calling the same service functions the command line
calls; Prefect adds the schedule, retries, logs and a record of every run in its UI.

One flow run per tick does a whole sweep in batches: never one task run per reminder.
Settings come from the environment (RSO_…), read when a run starts."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime

from prefect import flow, get_run_logger, task

from rso.settings import Settings
from rso.wiring import build_services, mail_settings
from services import deadlines
from services.digest import daily_digest
from services.mail import deliver_once
from services.uow import Services

RETRIES = dict(retries=3, retry_delay_seconds=[10, 30, 60])


async def _with_services(fn: Callable[[Services, Settings], Awaitable], now: datetime | None = None):
    settings = Settings()
    svc = build_services(settings)
    if now is not None:
        svc.clock = lambda: now
    try:
        return await fn(svc, settings)
    finally:
        await svc.dispose()


def _sweep_step(name: str, step):
    @task(name=name, **RETRIES)
    async def run(now: datetime) -> dict:
        report = await _with_services(lambda svc, _: step(svc, now))
        get_run_logger().info("%s at %s: %s", name, now.isoformat(), report)
        return asdict(report)
    return run


send_task_notices = _sweep_step("send-task-notices", deadlines.task_notices)
close_consultations = _sweep_step("close-consultations", deadlines.close_consultations)
secondment_timers = _sweep_step("secondment-timers", deadlines.secondment_timers)


@task(name="deliver-outbox", **RETRIES)
async def deliver_outbox(now: datetime | None = None) -> dict:
    """One delivery pass, as at `now` (default: the clock)."""
    report = await _with_services(lambda svc, settings: deliver_once(svc, mail_settings(settings)), now)
    if report.claimed:
        get_run_logger().info("outbox: %s", report)
    return asdict(report)


@task(name="write-digests", **RETRIES)
async def write_digests(now: datetime) -> dict:
    report = await _with_services(lambda svc, settings: daily_digest(svc, mail_settings(settings), now))
    get_run_logger().info("daily digest: %s", report)
    return asdict(report)


def _now(now: datetime | None) -> datetime:
    from services.db import utcnow
    return now or utcnow()


@flow(name="deadline-sweep", log_prints=False)
async def sweep_flow(now: datetime | None = None) -> dict:
    """Reminders, escalations and timed steps due at `now` (default: the start of the run),
    then delivery of the emails they wrote."""
    now = _now(now)
    report = deadlines.SweepReport()
    for step in (send_task_notices, close_consultations, secondment_timers):
        report.add(deadlines.SweepReport(**await step(now)))
    if report.total():
        get_run_logger().info("sweep at %s: %s", now.isoformat(), report)
    return {**asdict(report), "delivery": await deliver_outbox(now)}


@flow(name="outbox-delivery")
async def delivery_flow() -> dict:
    """What waits in the outbox (and the retries now due): sent, or captured with no SMTP server."""
    return await deliver_outbox()


@flow(name="daily-digest")
async def digest_flow(now: datetime | None = None) -> dict:
    """Each co-manager with open tasks gets one email listing them, soonest due first."""
    now = _now(now)
    report = await write_digests(now)
    report["delivery"] = await deliver_outbox(now)
    return report
