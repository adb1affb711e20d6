"""The `rso` command line, run as a person runs it: a process, its exit status, its output."""
from __future__ import annotations

import pytest
import os
import time
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from migrations import upgrade
from services.infra.db import make_sync_engine
from tests.conftest import TEST_DAY, TH, Clock


RSO = str(Path(sys.executable).with_name("rso"))


def rso(*args, url, cwd, env=None):
    """`rso ARGS` in a process of its own, its clock starting when the test's does (RSO_NOW)."""
    env = {**os.environ, "RSO_DATABASE_URL": url, "RSO_SECRET_KEY": "cli-test-" + "k" * 32, "RSO_NOW": Clock().start.isoformat(),
           **(env or {})}
    return subprocess.run([RSO, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_upgrade_then_demo_loads_users_of_every_role_and_items_in_every_state(empty_database_url, tmp_path):
    r = rso("db", "upgrade", url=empty_database_url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = rso("demo", url=empty_database_url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "password" in r.stdout
    engine = make_sync_engine(empty_database_url)
    with engine.connect() as conn:
        roles = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT role FROM users"))}
        states = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT state FROM proposals"))}
        histories = conn.execute(sa.text("SELECT COUNT(*) FROM history_events")).scalar()
        s_states = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT state FROM secondments"))}
        open_tasks = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT kind FROM tasks WHERE status = 'open'"))}
    engine.dispose()
    assert roles == {"member_state", "co_manager", "stakeholder", "co_chair", "admin"}
    assert states == {"draft", "co_manager_review", "revision_requested", "stakeholder_consultation",
                      "co_chair_guidance", "approved", "declined", "withdrawn"}
    assert histories > 20
    assert s_states == {"draft", "under_review", "info_requested", "arranging", "pre_deployment", "active",
                        "concluding", "completed", "declined", "withdrawn", "terminated"}
    assert open_tasks == {"review", "consultation", "guidance", "decision", "extension", "final_report"}
    again = rso("demo", url=empty_database_url, cwd=tmp_path)
    assert again.returncode == 0 and "already" in again.stdout


def test_users_add_checks_the_role_rules_and_answers_in_one_line(empty_database_url, tmp_path):
    assert rso("db", "upgrade", url=empty_database_url, cwd=tmp_path).returncode == 0
    ok = rso("users", "add", "--email", "Focal.Point@Example.org", "--password", "long enough pw", "--role",
             "member_state", "--member-state", "tha", url=empty_database_url, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "focal.point@example.org" in ok.stdout
    dup = rso("users", "add", "--email", "focal.point@example.org", "--password", "long enough pw", "--role",
              "admin", url=empty_database_url, cwd=tmp_path)
    assert dup.returncode == 1 and dup.stderr.count("\n") == 1 and "already exists" in dup.stderr
    bad = rso("users", "add", "--email", "cm@example.org", "--password", "long enough pw", "--role", "co_manager",
              "--country", "THA", url=empty_database_url, cwd=tmp_path)
    assert bad.returncode == 1 and "AUS or IDN" in bad.stderr and bad.stderr.count("\n") == 1
    usage = rso("users", "add", "--email", "x@example.org", url=empty_database_url, cwd=tmp_path)
    assert usage.returncode == 2 and "required" in usage.stderr


def test_commands_on_a_database_without_the_schema_say_so_in_one_line(empty_database_url, tmp_path):
    r = rso("users", "add", "--email", "a@example.org", "--password", "long enough pw", "--role", "admin",
            url=empty_database_url, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("rso: database error") and "rso db upgrade" in r.stderr
    assert r.stderr.count("\n") == 1


def test_help_lists_the_commands(tmp_path):
    r = subprocess.run([RSO, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for command in ("serve", "up", "demo", "users", "db"):
        assert command in r.stdout


def test_the_migrations_build_exactly_the_schema_the_models_describe(empty_database_url):
    upgrade(empty_database_url)
    engine = make_sync_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_history_events_cannot_be_rewritten(database_url):
    engine = make_sync_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO history_events (item_kind, item_id, at, actor_role, actor_name, action,"
                             " to_state, arguments) VALUES ('proposal', 1, CURRENT_TIMESTAMP, 'system', 's', 'x',"
                             " 'draft', '{}')"))
    for sql in ("UPDATE history_events SET comment = 'rewritten'", "DELETE FROM history_events"):
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql))
        except sa.exc.DBAPIError as exc:
            assert "immutable" in str(exc)
        else:
            raise AssertionError(f"{sql} was allowed")
    engine.dispose()


def test_deliver_captures_the_outbox_when_no_smtp_server_is_set(empty_database_url, tmp_path):
    assert rso("db", "upgrade", url=empty_database_url, cwd=tmp_path).returncode == 0
    assert rso("demo", url=empty_database_url, cwd=tmp_path).returncode == 0
    first = rso("deliver", url=empty_database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    count = int(first.stdout.split()[0])
    assert count > 10 and "captured locally" in first.stdout
    assert rso("deliver", url=empty_database_url, cwd=tmp_path).stdout.startswith("0 email(s)")


@pytest.mark.dates
def test_sweep_runs_once_at_the_moment_given_and_again_sends_nothing(empty_database_url, tmp_path):
    assert rso("db", "upgrade", url=empty_database_url, cwd=tmp_path).returncode == 0
    assert rso("demo", url=empty_database_url, cwd=tmp_path).returncode == 0
    later = f"{TEST_DAY + timedelta(days=200)}T08:00+07:00"  # every demo task long overdue
    first = rso("sweep", "--now", later, url=empty_database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "escalation(s)" in first.stdout and not first.stdout.startswith(f"sweep at {later}: 0 reminder(s), 0 escal")
    again = rso("sweep", "--now", later, url=empty_database_url, cwd=tmp_path)
    assert again.returncode == 0 and "0 reminder(s), 0 escalation(s), 0 consultation(s) closed, 0 handover(s)" \
        in again.stdout
    bad = rso("sweep", "--now", "next tuesday", url=empty_database_url, cwd=tmp_path)
    assert bad.returncode == 2 and "not an ISO 8601 date and time" in bad.stderr


@pytest.mark.dates
def test_what_a_sweep_as_of_a_later_moment_writes_goes_out_at_the_next_deliver(empty_database_url, tmp_path,
                                                                                   smtp_inbox):
    """A deployment checked by hand: `rso sweep --now` a moment to come, then `rso deliver`
    sends the reminders at once, and they state the task's real due date."""
    smtp = {"RSO_SMTP_HOST": "127.0.0.1", "RSO_SMTP_PORT": str(smtp_inbox.port)}
    assert rso("db", "upgrade", url=empty_database_url, cwd=tmp_path).returncode == 0
    assert rso("demo", url=empty_database_url, cwd=tmp_path).returncode == 0
    assert rso("deliver", url=empty_database_url, cwd=tmp_path, env=smtp).returncode == 0  # the demo's own emails
    smtp_inbox.messages.clear()
    engine = make_sync_engine(empty_database_url)
    with engine.connect() as conn:
        (due_at,) = conn.execute(sa.text("SELECT MIN(due_at) FROM tasks WHERE status = 'open' AND kind = 'review'")).one()
    engine.dispose()
    due = TH.today(due_at if isinstance(due_at, datetime) and due_at.tzinfo else
                   datetime.fromisoformat(str(due_at)).replace(tzinfo=UTC))
    reminded_on = TH.add_business_days(due, -2)  # the policy's first reminder of a review
    moment = f"{reminded_on.isoformat()}T09:00+07:00"
    swept = rso("sweep", "--now", moment, url=empty_database_url, cwd=tmp_path, env=smtp)
    assert swept.returncode == 0, swept.stderr
    reminders = int(swept.stdout.split(": ", 1)[1].split(" reminder(s)")[0])
    assert reminders >= 1, swept.stdout
    delivered = rso("deliver", url=empty_database_url, cwd=tmp_path, env=smtp)
    assert delivered.returncode == 0, delivered.stderr
    assert int(delivered.stdout.split()[0]) == len(smtp_inbox.messages) >= reminders, delivered.stdout
    said = due.strftime("%A %-d %B %Y")
    about_it = [m for m in smtp_inbox.messages if m["Subject"].startswith(f"Reminder, due {said}: RSO-P-")]
    assert about_it, [m["Subject"] for m in smtp_inbox.messages]
    assert all(said in m.get_body(("plain",)).get_content() for m in about_it)


def test_serve_runs_a_worker_a_core_on_postgresql_and_one_on_sqlite(settings, db_kind, monkeypatch):
    from rso import cli
    started = {}
    monkeypatch.setattr(cli, "_serve", lambda s, host, port, workers: started.update(workers=workers))
    cli.cmd_serve(cli.parser().parse_args(["serve"]), settings)
    assert started["workers"] == ((os.cpu_count() or 1) if db_kind == "postgresql" else 1)
    cli.cmd_serve(cli.parser().parse_args(["serve", "--workers", "3"]), settings)
    assert started["workers"] == 3

def test_deploy_and_worker_refuse_without_a_prefect_server_to_talk_to(tmp_path):
    # Without PREFECT_API_URL Prefect would start a temporary server of its own, and the
    # deployments or the worker would serve nobody.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    for command in ("deploy", "worker"):
        r = subprocess.run([RSO, command], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert (r.returncode, r.stdout) == (1, "")
        assert r.stderr == "rso: RuntimeError: set PREFECT_API_URL to the Prefect server's API " \
                           "(e.g. http://127.0.0.1:4200/api)\n"


def test_documents_sweep_removes_the_files_no_document_points_at(database_url, tmp_path):
    store = tmp_path / "store"
    orphan = store / "ab" / "cd" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"%PDF-1.4 a failed upload's file")
    half = store / "tmp" / "0123.part"
    half.parent.mkdir()
    half.write_bytes(b"half an upload")
    env = {"RSO_STORAGE_DIR": str(store)}
    r = rso("documents", "sweep", url=database_url, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "0 file(s)" in r.stdout and orphan.exists()  # written just now: may be an upload in flight
    old = time.time() - 2 * 3600  # wall clock ok: file times are the file system's
    for p in (orphan, half):
        os.utime(p, (old, old))
    r = rso("documents", "sweep", url=database_url, cwd=tmp_path, env=env)
    assert r.returncode == 0 and "2 file(s)" in r.stdout, r.stdout + r.stderr
    assert not orphan.exists() and not half.exists()


def test_report_writes_the_pdf_the_csv_or_the_json_and_refuses_a_bad_period_in_one_line(empty_database_url, tmp_path):
    import csv
    import json
    assert rso("db", "upgrade", url=empty_database_url, cwd=tmp_path).returncode == 0
    assert rso("demo", url=empty_database_url, cwd=tmp_path).returncode == 0
    month = f"{Clock().today():%Y-%m}"  # the demo's items were made today, by the service's clock
    r = rso("report", "monthly", month, "--format", "pdf", "--out", "month.pdf", url=empty_database_url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "PDF written to month.pdf" in r.stdout and (tmp_path / "month.pdf").read_bytes()[:5] == b"%PDF-"
    figures = json.loads(rso("report", "monthly", month, "--format", "json", url=empty_database_url,
                             cwd=tmp_path).stdout)["figures"]
    assert figures["proposals_received"] > 0  # the demo submits proposals
    r = rso("report", "monthly", month, "--format", "csv", "--table", "summary", url=empty_database_url, cwd=tmp_path)
    rows = list(csv.reader(r.stdout.lstrip("\ufeff").splitlines()))
    assert rows[0] == ["Figure", "Value"] and ["Proposals received", str(figures["proposals_received"])] in rows
    bad = rso("report", "monthly", "2026-13", url=empty_database_url, cwd=tmp_path)
    assert (bad.returncode, bad.stderr) == (1, "rso: period: the month must be between 01 and 12\n")
