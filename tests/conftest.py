"""Test fixtures. Every test that touches a database runs on SQLite and on PostgreSQL,
each test in a database of its own, cloned from a migrated template with the standard
roster of users.

Time is an input: every service a fixture hands out runs on the test's clock, which starts on
the test day (`RSO_TEST_TODAY=2027-04-09`, default today in Bangkok) at 10:00 in Bangkok. A
test works out what is right from that clock and the project's calendar, never from the wall
clock, so the suite passes as of any day: `RSO_TEST_TODAY=… make test` runs it as of another.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
import uuid
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from migrations import upgrade
from rso.app import create_app
from services.accounts import passwords
from services.accounts.models import SecondFactor
from services.accounts import users as users_service
from services.config.calendar import BusinessCalendar, add_months
from services.config.policy import load_policy
from services.config.settings import Settings
from services.infra.db import make_async_engine, make_sync_engine
from services.infra.uow import Services

# Prefect, when a test needs it, runs here only: its own home, no telemetry, no server but the
# test harness's.
os.environ["PREFECT_HOME"] = os.environ.get("RSO_TEST_PREFECT_HOME") or tempfile.mkdtemp(prefix="rso-test-prefect-")
os.environ.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_TO_API_ENABLED="false")
os.environ.pop("PREFECT_API_URL", None)

DATABASES = [d.strip() for d in os.environ.get("RSO_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]
PG_ADMIN_URL = os.environ.get("RSO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"

# Argon2 all the same, at the lowest cost: hashing is not what these tests are about.
passwords.HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

ROSTER = {
    "admin": dict(email="admin@rso.example", role="admin", name="Admin"),
    "cm_aus": dict(email="cm.aus@rso.example", role="co_manager", country="AUS", name="Co-Manager AUS"),
    "cm_idn": dict(email="cm.idn@rso.example", role="co_manager", country="IDN", name="Co-Manager IDN"),
    "chair_aus": dict(email="chair.aus@rso.example", role="co_chair", country="AUS", name="Co-Chair AUS"),
    "chair_idn": dict(email="chair.idn@rso.example", role="co_chair", country="IDN", name="Co-Chair IDN"),
    "tha": dict(email="official@tha.example", role="member_state", member_state="THA", name="Thai official"),
    "tha2": dict(email="second@tha.example", role="member_state", member_state="THA", name="Second Thai official"),
    "phl": dict(email="official@phl.example", role="member_state", member_state="PHL", name="Philippine official"),
    "iom": dict(email="iom@stakeholders.example", role="stakeholder", organisation="IOM", name="IOM focal point"),
    "tip": dict(email="tip@stakeholders.example", role="stakeholder", organisation="Working Group on Trafficking in Persons",
                name="WG TIP secretariat"),
    "unhcr": dict(email="unhcr@stakeholders.example", role="stakeholder", organisation="UNHCR", name="UNHCR focal point"),
}


# `make test` runs the suite as two processes side by side, one a database: the second one
# (RSO_TEST_ONLY_DATABASE_TESTS=1) leaves out the tests that use no database, run by the first.
ONLY_DATABASE_TESTS = os.environ.get("RSO_TEST_ONLY_DATABASE_TESTS") == "1"


def pytest_collection_modifyitems(config, items):
    """A PostgreSQL-only scenario is not collected for SQLite (rather than skipped); with
    RSO_TEST_ONLY_DATABASE_TESTS=1, a test that uses no database is not collected either."""
    kept = []
    for item in items:
        spec = getattr(item, "callspec", None)
        if item.get_closest_marker("postgresql_only") and spec and spec.params.get("db_template") == "sqlite":
            continue
        if ONLY_DATABASE_TESTS and "db_template" not in getattr(item, "fixturenames", ()):
            continue
        kept.append(item)
    items[:] = kept


def _pg_url(name: str) -> str:
    return str(sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))


def _pg_admin(sql: str) -> None:
    engine = make_sync_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


# The roster's admin has set up two-factor sign-in (an admin must) with this secret.
ADMIN_SECRET = pyotp.random_base32()


async def _seed(url: str) -> None:
    # No lifecycles, no mail writer: seeding users emails nobody.
    svc = Services(engine=make_async_engine(url), calendar=BusinessCalendar("TH"), policy=load_policy())
    try:
        for u in ROSTER.values():
            user = await users_service.create_user(svc, password=PASSWORD, **u)
            if u["role"] == "admin":
                async with svc.uow() as uow:
                    uow.session.add(SecondFactor(user_id=user.id, secret=ADMIN_SECRET, confirmed_at=uow.now))
                    await uow.commit()
    finally:
        await svc.dispose()


def second_factor_code(clock, secret: str = ADMIN_SECRET) -> str:
    """A code the admin's app would show, one not used yet in this test: each is good once,
    within a step of the service's time (so up to three sign-ins a test)."""
    step = int(clock().timestamp() // 30) - 1 + clock.codes_given
    clock.codes_given += 1
    return pyotp.TOTP(secret).at(step * 30)


@pytest.fixture(scope="session", params=DATABASES)
def db_template(request, tmp_path_factory):
    """(kind, url) of a migrated database holding the roster, one per database kind."""
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
        upgrade(url)
        asyncio.run(_seed(url))
        yield kind, url
        return
    name = f"rso_test_tmpl_{os.getpid()}"
    _pg_admin(f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(f"CREATE DATABASE {name}")
    upgrade(_pg_url(name))
    asyncio.run(_seed(_pg_url(name)))
    created: list[str] = []
    request.config._rso_pg_clones = created
    yield kind, name
    for clone in created:
        _pg_admin(f"DROP DATABASE IF EXISTS {clone} WITH (FORCE)")
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_counter = itertools.count()


@pytest.fixture
def database_url(db_template, tmp_path, request):
    """A database of this test's own, migrated and holding the roster."""
    kind, template = db_template
    if kind == "sqlite":
        path = tmp_path / "rso.db"
        shutil.copy(sa.make_url(template).database, path)
        return f"sqlite:///{path}"
    name = f"rso_test_{os.getpid()}_{next(_counter)}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    request.config._rso_pg_clones.append(name)
    return _pg_url(name)


@pytest.fixture
def db_kind(db_template) -> str:
    return db_template[0]


BANGKOK = ZoneInfo("Asia/Bangkok")
TH = BusinessCalendar("TH", BANGKOK)


def _test_day() -> date:
    given = os.environ.get("RSO_TEST_TODAY")
    return date.fromisoformat(given) if given else datetime.now(BANGKOK).date()  # wall clock ok: the default day


TEST_DAY = _test_day()


class Clock:
    """The service's clock in a test. It starts on the test day at 10:00 in Bangkok and runs on
    in real time; a test may stop it at a moment of its choosing (`clock.now = …`), and let it
    run again (`clock.now = None`)."""

    def __init__(self, day: date = TEST_DAY):
        self.start = datetime.combine(day, time(10), BANGKOK).astimezone(UTC)
        self._t0 = monotonic()
        self.now: datetime | None = None
        self.codes_given = 0  # two-factor codes handed out (`second_factor_code`)

    def __call__(self) -> datetime:
        return self.now or self.start + timedelta(seconds=monotonic() - self._t0)

    def today(self) -> date:
        """The service's today, in Bangkok."""
        return TH.today(self())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url, clock, tmp_path) -> Settings:
    # Delivery runs when a test asks for it (deterministic outbox states). A service built from
    # these settings alone (not handed `clock`) runs from the same moment (RSO_NOW). Documents
    # go to the test's own folder.
    return Settings(_env_file=None, database_url=database_url, secret_key="test-secret-" + uuid.uuid4().hex,
                    base_url="https://workflow.rso.example", deliver_in_background=False, now=clock.start,
                    storage_dir=str(tmp_path / "documents"))


class Api:
    """The API as people use it: sign in as someone from the roster, call, read JSON."""

    def __init__(self, client: TestClient, clock: Clock):
        self.client, self.clock = client, clock
        self._tokens: dict[str, str] = {}

    def token(self, who: str, password: str = PASSWORD) -> str:
        if who not in self._tokens:
            email = ROSTER[who]["email"] if who in ROSTER else who
            form = {"username": email, "password": password}
            if who == "admin":
                form["otp"] = second_factor_code(self.clock)
            r = self.client.post("/api/v1/auth/token", data=form)
            assert r.status_code == 200, r.text
            self._tokens[who] = r.json()["access_token"]
        return self._tokens[who]

    def headers(self, who: str | None, **extra) -> dict:
        h = {k.replace("_", "-"): v for k, v in extra.items()}
        if who:
            h["Authorization"] = f"Bearer {self.token(who)}"
        return h

    def get(self, who, path, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers(who, **kw.pop("headers", {})), **kw)

    def post(self, who, path, json=None, **kw):
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers(who, **kw.pop("headers", {})), **kw)

    def patch(self, who, path, json=None, **kw):
        return self.client.patch(f"/api/v1{path}", json=json, headers=self.headers(who, **kw.pop("headers", {})), **kw)

    # Shorthands for the lifecycle, each asserting success.
    def create(self, who="tha", **fields) -> dict:
        body = {**complete_proposal(), **fields}
        r = self.post(who, "/proposals", body)
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, who, ref, action, expect=200, **args) -> dict:
        r = self.post(who, f"/proposals/{ref}/actions/{action}", args)
        assert r.status_code == expect, r.text
        return r.json()

    def nominate(self, who="tha", **fields) -> dict:
        r = self.post(who, "/secondments", {**complete_secondment(self.clock.today()), **fields})
        assert r.status_code == 201, r.text
        return r.json()

    def s_act(self, who, ref, action, expect=200, **args) -> dict:
        r = self.post(who, f"/secondments/{ref}/actions/{action}", args)
        assert r.status_code == expect, r.text
        return r.json()


def complete_secondment(today: date = TEST_DAY, start_in_days: int = 30, months: int = 5) -> dict:
    """A nomination complete enough to submit, starting `start_in_days` after `today`."""
    start = today + timedelta(days=start_in_days)
    return {
        "nominee": {"full_name": "Somchai Wongsakul", "email": "somchai.w@police.tha.example",
                    "position": "Police Major", "agency": "Royal Thai Police"},
        "proposed_role": "Trafficking in persons investigations adviser",
        "start_date": start.isoformat(),
        "end_date": add_months(start, months).isoformat(),
        "funding": {"salary": "sending_state", "allowances": "rso"},
        "languages": ["Thai", "English"],
        "justification": "Ten years of casework on labour trafficking in fisheries.",
    }


def complete_proposal() -> dict:
    return {
        "title": "Regional workshop on victim identification",
        "summary": "Three-day workshop for frontline officers on identifying victims of trafficking.",
        "engagement_type": "new_project",
        "scope": "regional",
        "thematic_areas": ["trafficking_in_persons"],
        "partner_member_states": ["KHM", "LAO"],
        "budget": {"amount": "120000.00", "currency": "USD"},
        "proposed_start": "2027-03-01",
        "proposed_end": "2027-09-30",
    }


@pytest.fixture
def api(settings, clock):
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock)


@pytest.fixture
def empty_database_url(db_template, tmp_path, request):
    """A database with nothing in it, not even the schema."""
    kind, _ = db_template
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    name = f"rso_test_{os.getpid()}_{next(_counter)}"
    _pg_admin(f"CREATE DATABASE {name}")
    request.config._rso_pg_clones.append(name)
    return _pg_url(name)


class SmtpInbox:
    """A real SMTP server (aiosmtpd on loopback) that keeps what it accepts, or answers
    with `reply` (e.g. "451 try later") instead; `stop()`/`start()` take it down and up."""

    def __init__(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.messages: list = []
        self.reply: str | None = None
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        from email import message_from_bytes
        from email.policy import default
        message = message_from_bytes(envelope.content, policy=default)
        message.raw = envelope.content  # as it came over the wire
        self.messages.append(message)
        return "250 OK"

    def start(self):
        from aiosmtpd.controller import Controller
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def to(self, email: str) -> list:
        return [m for m in self.messages if email in m["To"]]


@pytest.fixture
def smtp_inbox():
    inbox = SmtpInbox()
    inbox.start()
    yield inbox
    inbox.stop()


@pytest.fixture
def mail_settings_for(smtp_inbox):
    def make(settings: Settings) -> Settings:
        return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp_inbox.port})
    return make
