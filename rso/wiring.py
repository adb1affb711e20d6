"""Building the services from the settings: the one place the entry points share."""
from __future__ import annotations

import services.proposals  # noqa: F401  (registers the lifecycles the services serve)
import services.secondments  # noqa: F401
from notifications.smtp import SmtpConfig
from rso.settings import Settings
from services.calendar import BusinessCalendar
from services.db import make_async_engine
from services.policy import load_policy
from services.mail import MailSettings, outbox_writer
from services.uow import Services


def mail_settings(settings: Settings) -> MailSettings:
    smtp = None
    if settings.smtp_host:
        smtp = SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                          password=settings.smtp_password, tls=settings.smtp_tls,
                          ca_file=settings.smtp_ca_file)
    return MailSettings(base_url=settings.base_url, mail_from=settings.mail_from, smtp=smtp)


def build_services(settings: Settings, **engine_options) -> Services:
    svc = Services(engine=make_async_engine(settings.database_url, **engine_options), timezone=settings.tz,
                   calendar=BusinessCalendar(settings.calendar, settings.tz),
                   policy=load_policy(settings.deadlines_file))
    svc.event_writers.append(outbox_writer(mail_settings(settings)))
    return svc
