"""The scheduled work, as Prefect flows: the deadline sweep, outbox delivery, the daily
digest and the monthly and half-year reports. Each flow is a few small tasks calling the same service functions the command line
calls; Prefect adds the schedule, retries, logs and a record of every run in its UI.

One flow run per tick does a whole sweep in batches: never one task run per reminder; each
step of the sweep (the task notices, each lifecycle's timers) is a task of its own.
Settings come from the environment (RSO_…), read when a run starts."""
from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime

from prefect import flow, get_run_logger, task

from services import conversation, deadlines
from services.config.settings import Settings
from services.digest import daily_digest
from services.infra.uow import Services
from services.mail import deliver
from services.reports.periods import ReportKind
from services.reports.sending import send_report
from services.wiring import LIFECYCLES, build_services, clock_of, mail_settings

RETRIES = dict(retries=3, retry_delay_seconds=[10, 30, 60])
DELIVERY_BATCH = 500  # emails a delivery pass claims


async def _with_services(fn: Callable[[Services, Settings], Awaitable]):
    settings = Settings()
    svc = build_services(settings)
    try:
        return await fn(svc, settings)
    finally:
        await svc.dispose()


@task(**RETRIES)
async def sweep_step(name: str, now: datetime) -> dict:
    """One step of the sweep (`deadlines.steps`), as at `now`."""
    async def run(svc: Services, _):
        return await dict(deadlines.steps(svc.workflows.values()))[name](svc, now)
    report = await _with_services(run)
    get_run_logger().info("%s at %s: %s", name, now.isoformat(), report)
    return asdict(report)


@task(name="deliver-outbox", **RETRIES)
async def deliver_outbox() -> dict:
    """Delivery passes until one finds less than a full batch: the thousands of reminders of
    an 08:00 sweep go out in this run, not a batch a minute. It ends: what fails waits for
    its retry, and nothing else is due until more is written."""
    async def passes(svc: Services, settings: Settings) -> dict:
        total: Counter = Counter()
        while True:
            report = asdict(await deliver(svc, mail_settings(settings), batch=DELIVERY_BATCH))
            total.update(report)
            if report["claimed"] < DELIVERY_BATCH:
                return {name: total[name] for name in report}
    report = await _with_services(passes)
    if report["claimed"]:
        get_run_logger().info("outbox: %s", report)
    return report


@task(name="write-digests", **RETRIES)
async def write_digests(now: datetime) -> dict:
    report = await _with_services(lambda svc, settings: daily_digest(svc, mail_settings(settings), now))
    get_run_logger().info("daily digest: %s", report)
    return asdict(report)


@task(name="sweep-storage", **RETRIES)
async def sweep_storage() -> int:
    """The stored files no document points at (their transaction failed), and uploads abandoned
    half-way, once an hour old: removed."""
    removed = await _with_services(lambda svc, _: conversation.sweep_storage(svc))
    if removed:
        get_run_logger().info("storage: %d file(s) no document points at removed", len(removed))
    return len(removed)


def _now(now: datetime | None) -> datetime:
    """The moment a run is for: the one given, or the service's clock now."""
    return now or clock_of(Settings())()


@task(name="write-report-emails", **RETRIES)
async def write_report_emails(kind: str, now: datetime) -> dict:
    report = await _with_services(lambda svc, settings: send_report(svc, mail_settings(settings), kind, now))
    get_run_logger().info("%s report %s: %s", kind, report.period, report)
    return asdict(report)


@flow(name="deadline-sweep", log_prints=False)
async def sweep_flow(now: datetime | None = None) -> dict:
    """Reminders, escalations and timed steps due at `now` (default: the start of the run),
    then delivery of the emails they wrote."""
    now = _now(now)
    report = deadlines.SweepReport()
    for name, _ in deadlines.steps(LIFECYCLES):
        report.add(deadlines.SweepReport(**await sweep_step.with_options(name=name)(name, now)))
    if report.total():
        get_run_logger().info("sweep at %s: %s", now.isoformat(), report)
    return {**asdict(report), "delivery": await deliver_outbox()}


@flow(name="outbox-delivery")
async def delivery_flow() -> dict:
    """What waits in the outbox (and the retries now due): sent, or captured with no SMTP server."""
    return await deliver_outbox()


@flow(name="daily-digest")
async def digest_flow(now: datetime | None = None) -> dict:
    """Each co-manager with open tasks gets one email listing them, soonest due first. Then,
    once a day, the storage is swept of files no document points at."""
    now = _now(now)
    report = await write_digests(now)
    report["delivery"] = await deliver_outbox()
    report["storage_removed"] = await sweep_storage()
    return report


@flow(name="monthly-report")
async def monthly_report_flow(now: datetime | None = None) -> dict:
    """Last month's report, PDF attached, to both co-managers (on the 1st at 07:00), then
    delivery. Run again for the same month, it sends nothing twice."""
    report = await write_report_emails(ReportKind.MONTHLY.value, _now(now))
    report["delivery"] = await deliver_outbox()
    return report


@flow(name="half-year-report")
async def half_year_report_flow(now: datetime | None = None) -> dict:
    """The last six months' report, PDF attached, to the co-managers and the co-chairs (on
    1 January and 1 July at 07:00), then delivery. Sent once."""
    report = await write_report_emails(ReportKind.BIANNUAL.value, _now(now))
    report["delivery"] = await deliver_outbox()
    return report
