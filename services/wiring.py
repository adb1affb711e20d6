"""What a running service is made of, from its settings: the lifecycles it serves (named here,
explicitly), the database, the clock, the calendar and timing policy, and the mail writer.
Every entry point (the API and pages, the command line, the Prefect flows) builds its
services here."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from notifications.delivery import MailSettings
from notifications.smtp import SmtpConfig
from services.config.calendar import BusinessCalendar
from services.config.policy import load_policy
from services.config.settings import Settings
from services.engine.workflow import Workflow
from services.infra.db import make_async_engine, utcnow
from services.infra.storage import LocalStorage
from services.infra.uow import Services
from services.mail import outbox_writer
from services.proposals import PROPOSALS
from services.secondments import SECONDMENTS

# The lifecycles the service serves, in the order pages and reports list them.
LIFECYCLES: tuple[Workflow, ...] = (PROPOSALS, SECONDMENTS)


def mail_settings(settings: Settings) -> MailSettings:
    smtp = None
    if settings.smtp_host:
        smtp = SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                          password=settings.smtp_password, tls=settings.smtp_tls,
                          ca_file=settings.smtp_ca_file)
    try:
        secret = settings.signing_key()
    except RuntimeError:  # PostgreSQL without RSO_SECRET_KEY: the app refuses to start; a sweep sends no links
        secret = None
    return MailSettings(base_url=settings.base_url, mail_from=settings.mail_from, smtp=smtp, link_secret=secret)


def clock_of(settings: Settings) -> Callable[[], datetime]:
    """The real clock; with RSO_NOW, one that starts at that moment and runs on in real time."""
    if settings.now is None:
        return utcnow
    start, t0 = settings.now, time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - t0)


def build_services(settings: Settings, *, on_mail: Callable[[], None] | None = None,
                   clock: Callable[[], datetime] | None = None, **engine_options) -> Services:
    """The services of one process. `on_mail` is called after each commit that wrote emails;
    `clock` replaces the settings' clock (tests move time with it)."""
    svc = Services(engine=make_async_engine(settings.database_url, **engine_options),
                   calendar=BusinessCalendar(settings.calendar, settings.tz),
                   policy=load_policy(settings.deadlines_file),
                   clock=clock or clock_of(settings),
                   storage=LocalStorage(settings.storage_path()), upload_limit=settings.max_upload_bytes)
    svc.serve(LIFECYCLES)
    svc.event_writers.append(outbox_writer(mail_settings(settings), on_written=on_mail))
    return svc
