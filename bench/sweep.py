"""How fast is the deadline sweep on a million open tasks, and does it send each reminder once?

    .venv/bin/python -m bench.sweep [--tasks 1000000] [--due 10000] [--sweepers 4] [--flow] [--check]

One run, on a fresh PostgreSQL database (`rso_bench_sweep`, dropped and recreated, dropped again
at the end unless --keep) holding `--tasks` open co-manager reviews, of which `--due` have a
reminder due at the sweep's moment (Thursday 11 March 2027, 08:00 in Bangkok):

- (a) the due batch: the statement `services.engine.tasks.due_tasks(now, batch)` builds, as
  `_task_batch` issues it (FOR UPDATE SKIP LOCKED, by the partial index `ix_tasks_next_notice`),
  `--runs` times in rolled-back transactions; its plan from EXPLAIN (ANALYZE, BUFFERS). Baseline:
  the same rows by primary key (`id = ANY(...)`, no lock), the runs interleaved;
- (b) the whole sweep: `services.deadlines.sweep(svc, now)` with the services and the outbox
  writer of `services.wiring.build_services`, as `rso sweep` and the Prefect flow call it. Baseline:
  the same outbox rows it wrote (each with its template's context), written again by plain INSERTs (executemany,
  one transaction per batch) into a copy of the outbox table;
- (c) the same moment swept by `--sweepers` processes at once (each its own engine), after a
  reset: the reminders they report, the outbox rows and notices written, and the duplicates
  found by GROUP BY over them;
- (d) with --flow: one tick through `workflows.flows.sweep_flow` under Prefect's test harness,
  after a reset: the flow runs and task runs Prefect recorded.

Prints the figures, ratios against the baselines and the targets with PASS/MISS. Exits 1 on a
wrong count (rows, reminders, a duplicate); with --check, also 2 when a target is missed. A
benchmark, not a test: nothing in `tests/` asserts a time.
"""
from __future__ import annotations

import argparse
import json
import asyncio
import inspect
import multiprocessing
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.transitions import (Laps, checkpoint, cpu_steal, fail, git_commit, postgres_cpu,
                               quantile, recreate_database, steal_pct)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rso_bench_sweep"
BASE_URL = "https://workflow.rso.example"
BKK = ZoneInfo("Asia/Bangkok")
TODAY = date(2027, 3, 11)  # a Thursday; the sweep runs at 08:00 in Bangkok, when reminders fall
TARGET_SELECT_MS = 1.5  # the due batch, median, from Python (issue 13; it was 5 ms)
TARGET_SWEEP_S = 2.0  # the whole sweep, outbox rows included (issue 13; it was 5 s)
TARGET_DUPLICATES = 0
PASSWORD = "bench-password-1"
USERS = {  # key: (email, role, member_state, country)
    "owner": ("official.tha@bench.example", "member_state", "THA", None),
    "cm_aus": ("co-manager.aus@bench.example", "co_manager", None, "AUS"),
    "cm_idn": ("co-manager.idn@bench.example", "co_manager", None, "IDN"),
    "cc_aus": ("co-chair.aus@bench.example", "co_chair", None, "AUS"),
    "cc_idn": ("co-chair.idn@bench.example", "co_chair", None, "IDN"),
}
PROPOSAL = {"title": "Regional workshop on victim identification",
            "summary": "Joint training on document fraud detection for border officials of the region.",
            "engagement_type": "collaboration", "scope": "regional",
            "thematic_areas": ["people_smuggling", "trafficking_in_persons"]}
TITLES = ["Regional workshop on victim identification", "Joint training on document fraud detection",
          "Study visit on border management information systems",
          "Policy dialogue on labour migration and recruitment practices",
          "Technical assistance for a national action plan against trafficking in persons"]


def default_batch() -> int:
    from services.deadlines import sweep
    return inspect.signature(sweep).parameters["batch"].default


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=1_000_000, help="open review tasks, two per proposal (default 1000000)")
    p.add_argument("--due", type=int, default=10_000, help="of which with a reminder due (default 10000)")
    p.add_argument("--batch", type=int, default=None, help="sweep(batch=...) (default: the sweep's own default)")
    p.add_argument("--runs", type=int, default=50, help="runs of the due-batch select and of its baseline (default 50)")
    p.add_argument("--sweepers", type=int, default=4, help="concurrent sweeper processes (default 4)")
    p.add_argument("--flow", action="store_true", help="also one tick through the Prefect flow (~20 s more)")
    p.add_argument("--database-url", default=os.environ.get("RSO_BENCH_SWEEP_DATABASE_URL", DEFAULT_URL),
                   help=f"dropped and recreated; its name must contain 'bench' (default {DEFAULT_URL})")
    p.add_argument("--keep", action="store_true", help="keep the database at the end (default: drop it)")
    p.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    args = p.parse_args(argv)
    if args.tasks < 4 or args.tasks % 2 or args.due < 2 or args.due % 2 or args.due > args.tasks \
            or (args.tasks // 2) % (args.due // 2):
        p.error("--tasks and --due must be even, and --tasks/2 a multiple of --due/2")
    if args.runs < 2 or args.sweepers < 1 or (args.batch is not None and args.batch < 1):
        p.error("--runs must be at least 2; --sweepers and --batch at least 1")
    return args


def runner():
    try:
        import uvloop
        return uvloop.run
    except ImportError:
        return asyncio.run


def at8(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 8, tzinfo=BKK).astimezone(UTC)


NOW = at8(TODAY)


def settings_for(url: str):
    from services.config.settings import Settings
    return Settings(database_url=url, base_url=BASE_URL, secret_key=secrets.token_urlsafe(48), smtp_host=None)


def sync_dsn(url: str) -> str:
    from services.infra.db import sync_url
    return sync_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- the data --------------------------------------------------------------------------------

def schedules() -> tuple[list[tuple], list[tuple]]:
    """(due_at, next_notice_at, what) of the due tasks and of the others, as `open_task` and
    the sweep leave them, checked against `services.deadlines` itself."""
    from services.config.calendar import BusinessCalendar
    from services.engine.tasks import Task, due_notices, next_notice_after, schedule
    from services.config.policy import load_policy

    cal, policy = BusinessCalendar("TH", BKK), load_policy()
    add = cal.add_business_days

    def task(due_day: date) -> Task:
        return Task(kind="review", item_kind="proposal", item_id=0, due_at=cal.end_of_day(due_day))

    due = []
    # Due in two business days: its first reminder falls now.
    t = task(add(TODAY, 2))
    due.append((t.due_at, NOW, "first reminder, due in two business days"))
    # Due tomorrow: its first reminder fell yesterday at 08:00, and no sweep has sent it yet.
    t = task(add(TODAY, 1))
    due.append((t.due_at, next(n.at for n in schedule(t, policy, cal)), "first reminder, missed yesterday"))
    # Due today: the second reminder ("due today"); the first went out two business days ago.
    t = task(TODAY)
    due.append((t.due_at, NOW, "second reminder, due today"))
    for due_at, nna, what in due:
        t = task(cal.today(due_at))
        got = due_notices(t, nna, NOW, policy, cal)
        if nna > NOW or [n.kind for n in got] != ["reminder"] or \
                nna != next(n.at for n in schedule(t, policy, cal) if n.at >= nna):
            fail(f"the due schedule '{what}' is not one reminder due now: {got}")

    later = []
    # Due from three business days on (their first reminder is still to come), and overdue
    # ones, escalated already, whose next escalation is still to come.
    for d in [add(TODAY, i) for i in range(3, 63)] + [add(TODAY, -i) for i in range(4, 34)]:
        t = task(d)
        nna = next_notice_after(t, NOW, policy, cal)
        if nna is None or nna <= NOW:
            fail(f"a later schedule is due: {d} {nna}")
        later.append((t.due_at, nna, "later"))
    return due, later


async def people_and_template(url: str, people: dict | None = None, owner: str = "owner") -> dict:
    """The users (`people`, by default USERS), and one proposal created and submitted by
    `owner` through the services (two review tasks, opened by `open_task`): the rows the bulk
    load copies."""
    import argon2
    from services.accounts import passwords, users
    from services.config.settings import Settings
    from services.proposals import PROPOSALS
    from services.wiring import build_services

    passwords.HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    created = at8(date(2027, 3, 1)) + timedelta(hours=1)
    svc = build_services(Settings(_env_file=None, database_url=url), clock=lambda: created)
    svc.event_writers.clear()  # the template's own emails are not the sweep's
    try:
        made = {}
        for key, (email, role, member_state, country) in (people or USERS).items():
            made[key] = await users.create_user(svc, email=email, password=PASSWORD, role=role,
                                                member_state=member_state, country=country)
        proposal, _ = await PROPOSALS.create(svc, user=made[owner], data=PROPOSAL)
        await PROPOSALS.act(svc, user=made[owner], id_or_ref=proposal.id, action="submit")
    finally:
        await svc.dispose()
    return {"template": proposal.id, "users": {k: (u.id, u.email) for k, u in made.items()}}


def bulk_load(url: str, template: int, tasks: int, due: int, due_sched: list[tuple], later: list[tuple]) -> dict:
    """Proposals copied from the template in co_manager_review, two open review tasks each
    (AUS, IDN, copied from the template's); every (tasks/due)th proposal's two tasks are due.
    Then the template's own tasks are cancelled, VACUUM ANALYZE, CHECKPOINT."""
    import psycopg
    from services.proposals.models import Proposal

    proposals, step = tasks // 2, tasks // due
    cols = [c.name for c in Proposal.__table__.columns if c.name != "id"]
    select_cols = ", ".join(
        "'RSO-B-' || lpad(g::text, 7, '0')" if c == "reference"
        else "(%(titles)s::text[])[1 + g %% 5]" if c == "title" else f"t.{c}" for c in cols)
    with psycopg.connect(sync_dsn(url), autocommit=True) as conn:
        state = conn.execute("SELECT state FROM proposals WHERE id = %s", (template,)).fetchone()[0]
        n_template_tasks = conn.execute("SELECT count(*) FROM tasks WHERE item_id = %s AND status = 'open'",
                                        (template,)).fetchone()[0]
        if state != "co_manager_review" or n_template_tasks != 2:
            fail(f"the template proposal is in {state} with {n_template_tasks} open tasks; expected "
                 "co_manager_review with 2")
        with conn.transaction():
            conn.execute(f"INSERT INTO proposals ({', '.join(cols)}) SELECT {select_cols} "
                         "FROM proposals t, generate_series(1, %(n)s) g WHERE t.id = %(template)s",
                         {"n": proposals, "template": template, "titles": TITLES})
            conn.execute("CREATE TABLE bench_schedule (i int PRIMARY KEY, due_at timestamptz, "
                         "next_notice_at timestamptz)")
            rows = [(i, d, n) for i, (d, n, _) in enumerate(due_sched + later)]
            with conn.cursor().copy("COPY bench_schedule (i, due_at, next_notice_at) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            # Proposal number g: every step-th has its tasks due (one of the due schedules in
            # turn); the others one of the later schedules.
            conn.execute(
                "INSERT INTO tasks (item_kind, item_id, kind, round, assignee_id, assignee_role, assignee_country, "
                "  assignee_member_state, status, due_at, created_at, closed_at, closed_by_id, next_notice_at) "
                "SELECT t.item_kind, p.id, t.kind, t.round, t.assignee_id, t.assignee_role, t.assignee_country, "
                "  t.assignee_member_state, 'open', s.due_at, s.due_at - interval '14 days', NULL, NULL, "
                "  s.next_notice_at "
                "FROM (SELECT id, substr(reference, 7)::int AS g FROM proposals WHERE reference LIKE 'RSO-B-%%') p "
                "JOIN bench_schedule s ON s.i = CASE WHEN p.g %% %(step)s = 0 THEN (p.g / %(step)s) %% %(nd)s "
                "                                    ELSE %(nd)s + p.g %% %(nl)s END "
                "CROSS JOIN (SELECT * FROM tasks WHERE item_id = %(template)s AND status = 'open') t "
                "ORDER BY p.id, t.assignee_country",
                {"step": step, "nd": len(due_sched), "nl": len(later), "template": template})
            conn.execute("UPDATE tasks SET status = 'cancelled', closed_at = created_at WHERE item_id = %s",
                         (template,))
            conn.execute("CREATE TABLE bench_due AS SELECT id, next_notice_at FROM tasks "
                         "WHERE status = 'open' AND next_notice_at <= %s", (NOW,))
            conn.execute("DELETE FROM outbox_messages")  # the template's own emails
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM tasks WHERE status = 'open'), (SELECT count(*) FROM bench_due), "
            "(SELECT count(*) FROM proposals), (SELECT count(DISTINCT assignee_country) FROM tasks "
            " WHERE status = 'open'), pg_size_pretty(pg_total_relation_size('tasks')), "
            "pg_size_pretty(pg_relation_size('ix_tasks_next_notice'))").fetchone()
        conn.execute("CHECKPOINT")
    open_, due_, props, countries, size, index = counts
    if (open_, due_, props, countries) != (tasks, due, proposals + 1, 2):
        fail(f"after the load: {open_} open tasks ({tasks} wanted), {due_} due ({due}), {props} proposals "
             f"({proposals + 1}), {countries} seat countries (2)")
    return {"tasks_size": size, "index_size": index}


def reset(url: str) -> None:
    """Back to before the sweep: no notices, no outbox rows, the due tasks due again."""
    import psycopg
    with psycopg.connect(sync_dsn(url), autocommit=True) as conn:
        with conn.transaction():
            conn.execute("DELETE FROM deadline_notices")
            conn.execute("DELETE FROM outbox_messages")
            conn.execute("UPDATE tasks t SET next_notice_at = d.next_notice_at FROM bench_due d "
                         "WHERE t.id = d.id AND t.next_notice_at IS DISTINCT FROM d.next_notice_at")
        conn.execute("VACUUM ANALYZE tasks")
        conn.execute("VACUUM ANALYZE deadline_notices")
        conn.execute("VACUUM ANALYZE outbox_messages")
        conn.execute("CHECKPOINT")


def database_info(url: str) -> str:
    import psycopg
    with psycopg.connect(sync_dsn(url)) as conn:
        show = lambda s: conn.execute(f"SHOW {s}").fetchone()[0]  # noqa: E731
        return (f"PostgreSQL {show('server_version').split()[0]} (fsync={show('fsync')}, "
                f"synchronous_commit={show('synchronous_commit')}, shared_buffers={show('shared_buffers')})")


# --- (a) the due batch -------------------------------------------------------------------------

async def select_phase(url: str, batch: int, runs: int, due: int) -> dict:
    import sqlalchemy as sa
    from services.infra.db import make_async_engine
    from services.engine.tasks import Task, due_tasks

    engine = make_async_engine(url)
    stmt = due_tasks(NOW, batch)
    sql = str(stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
    try:
        async with engine.connect() as conn:
            async with conn.begin() as tx:
                ids = [r.id for r in (await conn.execute(stmt)).all()]
                await tx.rollback()
            want = min(batch, due)
            if len(ids) != want:
                fail(f"the due-batch select returned {len(ids)} rows, expected {want}")
            baseline = sa.select(Task).where(Task.id == sa.any_(sa.literal(ids, sa.ARRAY(sa.Integer))))

            async def timed(q) -> tuple[float, int]:
                async with conn.begin() as tx:
                    t0 = time.perf_counter()
                    n = len((await conn.execute(q)).all())
                    elapsed = time.perf_counter() - t0
                    await tx.rollback()
                return elapsed, n

            for _ in range(5):  # warm-up: statement caches, prepared statements, buffers
                await timed(stmt)
                await timed(baseline)
            due_times, base_times = [], []
            st0 = cpu_steal()
            for _ in range(runs):
                t, n = await timed(stmt)
                if n != want:
                    fail(f"the due-batch select returned {n} rows, expected {want}")
                due_times.append(t)
                t, n = await timed(baseline)
                if n != want:
                    fail(f"the primary-key select returned {n} rows, expected {want}")
                base_times.append(t)
            steal = steal_pct(st0, cpu_steal())
            # The ORM on top (Task objects, as `_task_batch` gets them): for information.
            from sqlmodel.ext.asyncio.session import AsyncSession
            orm_times = []
            async with AsyncSession(bind=conn) as session:
                for _ in range(min(runs, 20)):
                    async with conn.begin() as tx:
                        t0 = time.perf_counter()
                        n = len(list((await session.exec(stmt)).all()))
                        orm_times.append(time.perf_counter() - t0)
                        await tx.rollback()
                    session.expunge_all()
            async with conn.begin() as tx:
                plan = [r[0] for r in await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
                await tx.rollback()
    finally:
        await engine.dispose()
    server_ms = next((float(line.split(":")[1].split()[0]) for line in plan if line.startswith("Execution Time")),
                     float("nan"))
    return {"due": due_times, "base": base_times, "orm": orm_times, "plan": plan, "sql": sql,
            "server_ms": server_ms, "steal": steal,
            "uses_index": any("ix_tasks_next_notice" in line for line in plan),
            "seq_scan": any("Seq Scan on tasks" in line for line in plan)}


# --- (b) the whole sweep -----------------------------------------------------------------------

class _Timed:
    """A timer around the outbox writer as the sweep calls it (the emails are rendered later,
    at delivery), and a count of the statements the engine runs."""

    def __init__(self, svc):
        self.svc, self.writer, self.render, self.statements = svc, 0.0, 0.0, 0

    def __enter__(self):
        import sqlalchemy as sa
        self._writers = list(self.svc.event_writers)

        def wrap(w):
            async def timed_writer(uow):
                t0 = time.perf_counter()
                try:
                    return await w(uow)
                finally:
                    self.writer += time.perf_counter() - t0
            return timed_writer

        def count(*_a, **_kw):
            self.statements += 1

        self.svc.event_writers[:] = [wrap(w) for w in self._writers]
        self._count = count
        sa.event.listen(self.svc.engine.sync_engine, "before_cursor_execute", count)
        return self

    def __exit__(self, *exc):
        import sqlalchemy as sa
        self.svc.event_writers[:] = self._writers
        sa.event.remove(self.svc.engine.sync_engine, "before_cursor_execute", self._count)


async def warm_up(url: str) -> None:
    """One small batch through the real code (templates compiled, statements cached), undone
    by `reset` before anything is timed."""
    from services.wiring import build_services
    from services import deadlines
    svc = build_services(settings_for(url))
    try:
        svc = svc.at(NOW)
        await deadlines._task_batch(svc, NOW, 20, deadlines.SweepReport())
    finally:
        await svc.dispose()


async def sweep_phase(url: str, batch: int) -> dict:
    from services.wiring import build_services
    from services.deadlines import sweep
    svc = build_services(settings_for(url))
    try:
        async with svc.engine.connect() as conn:  # the pool's first connection, outside the timing
            await conn.exec_driver_sql("SELECT 1")
        with _Timed(svc) as timers:
            cpu0, pg0, st0 = os.times(), postgres_cpu(), cpu_steal()
            t0 = time.perf_counter()
            report = await sweep(svc, NOW, batch=batch)
            elapsed = time.perf_counter() - t0
            cpu1, pg1, st1 = os.times(), postgres_cpu(), cpu_steal()
    finally:
        await svc.dispose()
    return {"elapsed": elapsed, "report": report, "writer": timers.writer, "render": timers.render,
            "statements": timers.statements, "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "pg_cpu": pg1 - pg0, "steal": steal_pct(st0, st1)}


async def baseline_phase(url: str, batch: int) -> dict:
    """The floor under the sweep: its output (the outbox rows it wrote, each with its template's
    context) written again with plain INSERTs, `batch` rows per transaction, into a copy of the
    outbox table."""
    import sqlalchemy as sa
    from notifications.outbox import OutboxMessage
    from services.infra.db import make_async_engine

    engine = make_async_engine(url)
    t = OutboxMessage.__table__
    cols = [c for c in t.columns if c.name != "id"]
    try:
        async with engine.begin() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(sa.select(*cols).order_by(t.c.id))]
            await conn.exec_driver_sql("DROP TABLE IF EXISTS bench_outbox")
            await conn.exec_driver_sql("CREATE TABLE bench_outbox (LIKE outbox_messages INCLUDING ALL)")
        copy = sa.Table("bench_outbox", sa.MetaData(), *(sa.Column(c.name, c.type) for c in cols))
        for r in rows:
            r["event_key"] = r["event_key"] + ":baseline"
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        await checkpoint(url)
        st0 = cpu_steal()
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            async with engine.begin() as conn:
                await conn.execute(copy.insert(), rows[i:i + batch])
        elapsed = time.perf_counter() - t0
        steal = steal_pct(st0, cpu_steal())
        async with engine.begin() as conn:
            n = (await conn.exec_driver_sql("SELECT count(*) FROM bench_outbox")).scalar()
            await conn.exec_driver_sql("DROP TABLE bench_outbox")
    finally:
        await engine.dispose()
    if n != len(rows):
        fail(f"the baseline wrote {n} rows, expected {len(rows)}")
    return {"elapsed": elapsed, "rows": len(rows), "steal": steal,
            "bytes": sum(len(json.dumps(r["context"]).encode()) for r in rows) / max(1, len(rows))}


def written(url: str) -> dict:
    """What the sweep(s) wrote, and the duplicates among it, by GROUP BY."""
    import psycopg
    with psycopg.connect(sync_dsn(url)) as conn:
        # Fresh statistics: the tables were empty at the last ANALYZE, and a plan for empty
        # tables (nested loops) takes minutes over 10,000 rows each.
        conn.execute("ANALYZE deadline_notices")
        conn.execute("ANALYZE outbox_messages")
        q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "outbox": q("SELECT count(*) FROM outbox_messages"),
            "notices": q("SELECT count(*) FROM deadline_notices"),
            "noticed_tasks": q("SELECT count(DISTINCT task_id) FROM deadline_notices"),
            "noticed_due": q("SELECT count(*) FROM bench_due d WHERE EXISTS "
                             "(SELECT 1 FROM deadline_notices n WHERE n.task_id = d.id)"),
            "outbox_due": q("SELECT count(*) FROM bench_due d JOIN tasks t ON t.id = d.id JOIN proposals p "
                            "ON p.id = t.item_id WHERE EXISTS (SELECT 1 FROM outbox_messages o WHERE "
                            "o.reference = p.reference AND o.to_email = CASE t.assignee_country WHEN 'AUS' THEN "
                            f"'{USERS['cm_aus'][0]}' ELSE '{USERS['cm_idn'][0]}' END)"),
            "duplicate_emails": q("SELECT coalesce(sum(n - 1), 0)::int FROM (SELECT count(*) AS n FROM outbox_messages "
                                  "GROUP BY to_email, reference, subject HAVING count(*) > 1) d"),
            "duplicate_notices": q("SELECT coalesce(sum(n - 1), 0)::int FROM (SELECT count(*) AS n FROM deadline_notices "
                                   "GROUP BY task_id, kind, due_at HAVING count(*) > 1) d"),
            "duplicate_keys": q("SELECT coalesce(sum(n - 1), 0)::int FROM (SELECT count(*) AS n FROM deadline_notices "
                                "GROUP BY key HAVING count(*) > 1) d"),
            "still_due": q(f"SELECT count(*) FROM tasks WHERE status = 'open' AND next_notice_at <= '{NOW.isoformat()}'"),
            "templates": dict(conn.execute("SELECT template, count(*) FROM outbox_messages GROUP BY 1").fetchall()),
        }


def check_written(what: str, w: dict, due: int) -> None:
    wrong = []
    if w["outbox"] != due or w["outbox_due"] != due or w["templates"] != {"task_assigned": due}:
        wrong.append(f"{w['outbox']} outbox rows ({w['outbox_due']} to a due task's assignee, {w['templates']}); "
                     f"expected {due} reminders, one to each due task's assignee")
    if w["notices"] != due or w["noticed_tasks"] != due or w["noticed_due"] != due:
        wrong.append(f"{w['notices']} notices for {w['noticed_tasks']} tasks ({w['noticed_due']} of the due ones); "
                     f"expected one for each of the {due} due tasks")
    if w["still_due"]:
        wrong.append(f"{w['still_due']} tasks still due after the sweep")
    if w["duplicate_emails"] or w["duplicate_notices"] or w["duplicate_keys"]:
        wrong.append(f"duplicates: {w['duplicate_emails']} emails, {w['duplicate_notices']} notices, "
                     f"{w['duplicate_keys']} keys")
    if wrong:
        fail(f"{what}: " + "; ".join(wrong))


# --- (c) concurrent sweepers -------------------------------------------------------------------

def sweeper(url: str, batch: int, ready, go, pipe) -> None:
    """A child process: its own services and engine; sweeps NOW when told to."""
    sys.path.insert(0, str(ROOT))

    async def main():
        from services.wiring import build_services
        from services.deadlines import sweep
        svc = build_services(settings_for(url))
        try:
            async with svc.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            t0 = time.perf_counter()
            report = await sweep(svc, NOW, batch=batch)
            return {"elapsed": time.perf_counter() - t0, "reminders": report.reminders, "tasks": report.tasks,
                    "escalations": report.escalations, "batches": len(report.batches)}
        finally:
            await svc.dispose()

    try:
        pipe.send(("ok", runner()(main())))
    except BaseException as exc:  # noqa: BLE001 (reported to the parent)
        import traceback
        pipe.send(("error", f"{exc!r}\n{traceback.format_exc()}"))



def _result_of(p, parent, who: str):
    """What a child process sent back on its pipe, or fail saying how it ended."""
    if not parent.poll(600):
        fail(f"{who} did not finish in 600 s")
    try:
        kind, value = parent.recv()
    except EOFError:
        p.join(5)
        fail(f"{who} died (exit code {p.exitcode})")
    if kind != "ok":
        fail(f"{who} failed: {value}")
    return value


def concurrent_phase(url: str, batch: int, n: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    procs = []
    for i in range(n):
        ready = ctx.Event()
        parent, child = ctx.Pipe()
        p = ctx.Process(target=sweeper, args=(url, batch, ready, go, child), daemon=True, name=f"bench-sweeper-{i}")
        p.start()
        child.close()
        procs.append((p, ready, parent))
    try:
        for p, ready, parent in procs:
            if not ready.wait(120):
                fail(f"sweeper {p.name} did not start (exit code {p.exitcode})")
        st0 = cpu_steal()
        t0 = time.perf_counter()
        go.set()
        results = []
        for p, _, parent in procs:
            results.append(_result_of(p, parent, f"sweeper {p.name}"))
        elapsed = time.perf_counter() - t0
        steal = steal_pct(st0, cpu_steal())
    finally:
        for p, _, _ in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return {"results": results, "elapsed": elapsed, "steal": steal}


# --- (d) one tick of the Prefect flow ----------------------------------------------------------

def flow_child(url: str, home: str, pipe) -> None:
    """A child process: Prefect's environment set before Prefect is imported."""
    os.environ.update(PREFECT_HOME=home, DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
                      PREFECT_LOGGING_TO_API_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING", RSO_DATABASE_URL=url,
                      RSO_SECRET_KEY=secrets.token_urlsafe(48), RSO_BASE_URL=BASE_URL)
    for name in ("PREFECT_API_URL", "RSO_SMTP_HOST"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    try:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
        from prefect.testing.utilities import prefect_test_harness
        from workflows.flows import sweep_flow

        async def runs():
            async with get_client() as client:
                flow_runs = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["deadline-sweep"])))
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in flow_runs])))
                return flow_runs, task_runs

        t0 = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=60):
            started = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = asyncio.run(sweep_flow(now=NOW))
            elapsed = time.perf_counter() - t0
            flow_runs, task_runs = asyncio.run(runs())
        pipe.send(("ok", {"harness": started, "elapsed": elapsed, "result": result,
                          "flow_runs": len(flow_runs), "completed": sum(r.state.is_completed() for r in flow_runs),
                          "task_runs": sorted(t.name.rsplit("-", 1)[0] for t in task_runs)}))
    except BaseException as exc:  # noqa: BLE001 (reported to the parent)
        import traceback
        pipe.send(("error", f"{exc!r}\n{traceback.format_exc()}"))


def flow_phase(url: str) -> dict:
    home = tempfile.mkdtemp(prefix="rso-bench-sweep-prefect-")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=flow_child, args=(url, home, child), daemon=True, name="bench-sweep-flow")
    p.start()
    child.close()
    try:
        return _result_of(p, parent, "the flow")
    finally:
        p.join(30)
        if p.is_alive():
            p.kill()
        shutil.rmtree(home, ignore_errors=True)


# --- report ------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    run = runner()
    batch = args.batch or default_batch()
    url = args.database_url
    from migrations import upgrade

    timings = lap = Laps()  # set-up timings, one lap per step

    load = os.getloadavg()  # before this run adds its own
    recreate_database(url)  # refuses a name without 'bench'
    try:
        upgrade(url)
        due_sched, later = schedules()
        made = run(people_and_template(url))
        lap("database, users")
        sizes = bulk_load(url, made["template"], args.tasks, args.due, due_sched, later)
        lap("bulk load")
        env = {"commit": git_commit(), "cpus": os.cpu_count(), "db": database_info(url), "load": load}

        sel = run(select_phase(url, batch, args.runs, args.due))
        lap("(a) select")
        run(warm_up(url))
        reset(url)
        lap("warm-up, reset")
        sw = run(sweep_phase(url, batch))
        w = written(url)
        check_written("the sweep", w, args.due)
        r = sw["report"]
        if (r.reminders, r.escalations, r.tasks) != (args.due, 0, args.due):
            fail(f"the sweep reported {r.reminders} reminders, {r.escalations} escalations for {r.tasks} tasks; "
                 f"expected {args.due} reminders for {args.due} tasks")
        base = run(baseline_phase(url, batch))
        lap("(b) sweep, baseline")
        reset(url)
        conc = concurrent_phase(url, batch, args.sweepers)
        wc = written(url)
        lap(f"(c) {args.sweepers} sweepers")
        flow = None
        if args.flow:
            reset(url)
            flow = flow_phase(url)
            wf = written(url)
            lap("(d) flow")

        # --- the report
        ms = lambda xs, q: 1000 * quantile(xs, q)  # noqa: E731
        med, p95 = ms(sel["due"], .5), ms(sel["due"], .95)
        bmed, bp95 = ms(sel["base"], .5), ms(sel["base"], .95)
        print(f"\nRSO Workflow: sweep benchmark (commit {env['commit']})")
        print(f"  {args.tasks:,} open review tasks ({args.tasks // 2:,} proposals in co_manager_review, seats AUS and "
              f"IDN), {args.due:,} with a reminder due at {NOW.astimezone(BKK):%A %-d %B %Y %H:%M} Bangkok; "
              f"sweep batch {batch}")
        print(f"  {env['db']}; tasks {sizes['tasks_size']} with indexes, ix_tasks_next_notice "
              f"{sizes['index_size']}; {env['cpus']} CPUs, Python {platform.python_version()}, load average "
              f"{env['load'][0]:.2f} at the start (other processes compete for the CPUs)")
        print(f"\n  (a) the due batch ({min(batch, args.due)} rows), {args.runs} runs each, rolled back:   median   p95 ms")
        print(f"      due_tasks(now, {batch}): FOR UPDATE SKIP LOCKED {med:14.2f} {p95:7.2f}")
        print(f"      baseline: the same rows by primary key, no lock  {bmed:8.2f} {bp95:7.2f}")
        print(f"      + ORM (Task objects, as _task_batch), for information {ms(sel['orm'], .5):5.2f} "
              f"{ms(sel['orm'], .95):7.2f}")
        print(f"      server execution time (EXPLAIN ANALYZE) {sel['server_ms']:.2f} ms; partial index "
              f"ix_tasks_next_notice used: {'yes' if sel['uses_index'] else 'NO'}"
              f"{'; SEQUENTIAL SCAN' if sel['seq_scan'] else ''}; CPU steal {sel['steal']:.1f}%")
        for line in sel["plan"]:
            print(f"        | {line}")

        rep = sw["report"]
        per = 1000 * sw["elapsed"] / max(1, rep.reminders)
        other = sw["elapsed"] - sw["writer"]
        print(f"\n  (b) the whole sweep, sweep(svc, now) with build_services' outbox writer: {sw['elapsed']:.2f} s "
              f"({per:.3f} ms a reminder)")
        print(f"      {rep.tasks:,} tasks in {len(rep.batches)} batches of up to {max(rep.batches)}, "
              f"{rep.reminders:,} reminders, {rep.escalations} escalations; {w['outbox']:,} outbox rows, "
              f"{w['notices']:,} notices written; {sw['statements']} SQL statements")
        print(f"      where the time went: the outbox writer {sw['writer']:.2f} s (recipients and rows; emails "
              f"are rendered at delivery); the rest {other:.2f} s (select, schedule, next_notice_at UPDATE, claim, "
              "items, commit)")
        print(f"      CPU: this process {sw['cpu']:.2f} s, PostgreSQL {sw['pg_cpu']:.2f} s; CPU steal {sw['steal']:.1f}%")
        print(f"      baseline: the same {base['rows']:,} rows (~{base['bytes'] / 1024:.1f} kB of context each) "
              f"written by plain INSERTs, {batch} a transaction: {base['elapsed']:.2f} s (CPU steal "
              f"{base['steal']:.1f}%)")

        res = conc["results"]
        total = sum(x["reminders"] for x in res)
        dups = wc["duplicate_emails"] + wc["duplicate_notices"] + wc["duplicate_keys"]
        print(f"\n  (c) {args.sweepers} sweepers at once (processes, each its own engine), the same moment: "
              f"{conc['elapsed']:.2f} s for all (CPU steal {conc['steal']:.1f}%)")
        print("      reminders by sweeper: " + ", ".join(f"{x['reminders']:,} ({x['batches']} batches, "
                                                       f"{x['elapsed']:.2f} s)" for x in res))
        print(f"      total {total:,} reminders; {wc['outbox']:,} outbox rows, {wc['notices']:,} notices; duplicates: "
              f"{wc['duplicate_emails']} emails (to_email, reference, subject), {wc['duplicate_notices']} notices "
              f"(task, kind, moment), {wc['duplicate_keys']} notice keys")
        if flow:
            fr = flow["result"]
            print(f"\n  (d) one tick through the Prefect flow deadline-sweep (prefect_test_harness, started in "
                  f"{flow['harness']:.1f} s): {flow['elapsed']:.2f} s")
            print(f"      {flow['flow_runs']} flow run ({flow['completed']} completed), {len(flow['task_runs'])} task "
                  f"runs ({', '.join(flow['task_runs'])}) for {fr['reminders']:,} reminders; "
                  f"{wf['outbox']:,} outbox rows; the flow's delivery pass took {fr['delivery']['claimed']} of them "
                  f"(one deliver_once pass; captured, no SMTP server)")

        select_ok = med <= TARGET_SELECT_MS
        sweep_ok = sw["elapsed"] <= TARGET_SWEEP_S
        dup_ok = dups <= TARGET_DUPLICATES
        print(f"\n  due-batch select, median        {med:8.2f} ms  target <= {TARGET_SELECT_MS:.1f} ms   "
              f"{verdict(select_ok)}   (p95 {p95:.2f} ms; ratio to the primary-key baseline {med / bmed:.2f})")
        print(f"  whole sweep                     {sw['elapsed']:8.2f} s   target <= {TARGET_SWEEP_S:.1f} s    "
              f"{verdict(sweep_ok)}   (ratio to the plain INSERT baseline {sw['elapsed'] / base['elapsed']:.2f})")
        print(f"  duplicates, {args.sweepers} sweepers            {dups:8d}     target {TARGET_DUPLICATES}        "
              f"{verdict(dup_ok)}")

        # --- counts: exit 1 when wrong (after printing what was measured)
        if total != args.due or sum(x["tasks"] for x in res) != args.due:
            fail(f"the {args.sweepers} sweepers reported {total} reminders for {sum(x['tasks'] for x in res)} tasks; "
                 f"expected {args.due}")
        check_written(f"{args.sweepers} sweepers", wc, args.due)
        if flow:
            check_written("the flow", wf, args.due)
            if flow["flow_runs"] != 1 or flow["completed"] != 1 or len(flow["task_runs"]) != 4 \
                    or flow["result"]["reminders"] != args.due:
                fail(f"the flow: {flow['flow_runs']} flow runs ({flow['completed']} completed), task runs "
                     f"{flow['task_runs']}, {flow['result']['reminders']} reminders; expected 1, 4 and {args.due}")
        lap("checks")
        print("\n  verified: the load (open and due counts, each due schedule one reminder by "
              "services.engine.tasks.due_notices); after the sweep and after the concurrent sweepers"
              + (" and the flow" if flow else "") + ": one notice and one email for each due task, to its "
              "seat's co-manager, none still due, no duplicate")
        print("  wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        ok = select_ok and sweep_ok and dup_ok
    finally:
        if not args.keep:
            drop_database(url)
    return 2 if args.check and not ok else 0


def drop_database(url: str) -> None:
    import psycopg
    from services.infra.db import make_url
    u = make_url(url)
    if "bench" not in (u.database or ""):
        return
    try:
        with psycopg.connect(sync_dsn(u.set(database="postgres")), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"  (could not drop the database {u.database}: {exc})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
