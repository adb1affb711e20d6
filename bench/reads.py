"""How long do the reads people make all day take, on a full database?

    .venv/bin/python -m bench.reads [--proposals 10000] [--events 150000] [--runs 300] [--check]

One run, on a fresh PostgreSQL database (dropped and recreated; its name must contain 'bench'):
`--proposals` proposals copied from one made through the services (a third of them in
co-manager review with their two open review tasks, the rest drafts and approved ones, of
three member states), and `--events` history events. Then, through the service functions the
API calls (in this process, no HTTP), each read `--runs` times after a warm-up:

- the first page (50) of a list filtered by state, as a member state's official sees it;
- the same list's tenth page, by the keyset (`before`): a deep page costs what the first does;
- the inbox of a co-manager (their 200 most urgent open tasks, each with its item);
- one item as its member state sees it.

Prints the median and p99 of each, its statements (each read is one query), the ratio to a
baseline measured in the same run (a primary-key SELECT of one proposal row over asyncpg: what
any read pays at the least), and the target (≤ 10 ms, issue 13) with PASS/MISS. Exits 1 when a
read returns the wrong rows; with --check, 2 when a target is missed. A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench.sweep import TITLES, people_and_template, runner, sync_dsn
from bench.transitions import fail, git_commit, quantile, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rso_bench_reads"
TARGET_MS = 10.0
USERS = {  # key: (email, role, member_state, country)
    "tha": ("official.tha@bench.example", "member_state", "THA", None),
    "phl": ("official.phl@bench.example", "member_state", "PHL", None),
    "idn_ms": ("official.idn@bench.example", "member_state", "IDN", None),
    "cm_aus": ("co-manager.aus@bench.example", "co_manager", None, "AUS"),
    "cm_idn": ("co-manager.idn@bench.example", "co_manager", None, "IDN"),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__.split("\n\n")[0])
    p.add_argument("--proposals", type=int, default=10_000)
    p.add_argument("--events", type=int, default=150_000)
    p.add_argument("--runs", type=int, default=300, help="timed calls of each read (default 300)")
    p.add_argument("--database-url", default=os.environ.get("RSO_BENCH_READS_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    a = p.parse_args(argv)
    # A third of the proposals are THA's, in review: ten pages of 50 need 1,500 and more.
    if a.proposals < 1_600 or a.events < a.proposals or a.runs < 10:
        p.error("--proposals at least 1600, --events at least --proposals, --runs at least 10")
    return a


def bulk_load(url: str, template: int, proposals: int, events: int) -> dict:
    """Proposal g (1..n): member state THA, PHL, IDN in turn; every third in co-manager review
    with the template's two review tasks, due over the next weeks; the others drafts (never
    submitted) or approved. Events spread evenly over the proposals."""
    import psycopg
    from services.proposals.models import Proposal

    cols = [c.name for c in Proposal.__table__.columns if c.name != "id"]
    special = {
        "reference": "'RSO-B-' || lpad(g::text, 7, '0')",
        "title": "(%(titles)s::text[])[1 + g %% 5]",
        "member_state": "(ARRAY['THA','PHL','IDN'])[1 + g %% 3]",
        "state": "CASE WHEN g %% 3 = 0 THEN 'co_manager_review' WHEN g %% 3 = 1 THEN 'draft' ELSE 'approved' END",
        "submitted_at": "CASE WHEN g %% 3 = 1 THEN NULL ELSE t.submitted_at END",
        "closed_at": "CASE WHEN g %% 3 = 2 THEN t.submitted_at ELSE NULL END",
    }
    select_cols = ", ".join(special.get(c, f"t.{c}") for c in cols)
    with psycopg.connect(sync_dsn(url), autocommit=True) as conn:
        with conn.transaction():
            conn.execute(f"INSERT INTO proposals ({', '.join(cols)}) SELECT {select_cols} "
                         "FROM proposals t, generate_series(1, %(n)s) g WHERE t.id = %(template)s",
                         {"n": proposals - 1, "template": template, "titles": TITLES})
            conn.execute(
                "INSERT INTO tasks (item_kind, item_id, kind, round, assignee_id, assignee_role, assignee_country, "
                "  assignee_member_state, status, due_at, created_at, closed_at, closed_by_id, next_notice_at) "
                "SELECT t.item_kind, p.id, t.kind, t.round, t.assignee_id, t.assignee_role, t.assignee_country, "
                "  t.assignee_member_state, 'open', t.due_at + (p.id %% 30) * interval '1 day', t.created_at, "
                "  NULL, NULL, t.next_notice_at + (p.id %% 30) * interval '1 day' "
                "FROM proposals p CROSS JOIN (SELECT * FROM tasks WHERE item_id = %(template)s AND status = 'open') t "
                "WHERE p.state = 'co_manager_review' AND p.id <> %(template)s",
                {"template": template})
            per = events // proposals
            conn.execute(
                "INSERT INTO history_events (item_kind, item_id, at, actor_id, actor_role, actor_name, action, "
                "  from_state, to_state, comment, arguments) "
                "SELECT 'proposal', p.id, e.at + k * interval '1 minute', e.actor_id, e.actor_role, e.actor_name, "
                "  e.action, e.from_state, e.to_state, e.comment, e.arguments "
                "FROM proposals p CROSS JOIN generate_series(1, %(per)s) k "
                "CROSS JOIN (SELECT * FROM history_events WHERE item_id = %(template)s ORDER BY id LIMIT 1) e "
                "WHERE p.id <> %(template)s", {"per": per, "template": template})
        conn.execute("VACUUM ANALYZE")
        return dict(zip(("proposals", "events", "open_tasks"), conn.execute(
            "SELECT (SELECT count(*) FROM proposals), (SELECT count(*) FROM history_events), "
            "(SELECT count(*) FROM tasks WHERE status = 'open')").fetchone()))


async def measure(url: str, ids: dict, runs: int) -> dict:
    import asyncpg
    from sqlalchemy import event
    from sqlmodel import select

    from services.config.settings import Settings
    from services.engine.models import User
    from services.engine.workflow import inbox
    from services.proposals import PROPOSALS
    from services.wiring import build_services

    svc = build_services(Settings(_env_file=None, database_url=url))
    statements: list[str] = []
    event.listen(svc.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        async with svc.uow(write=False) as uow:
            people = {k: (await uow.session.exec(select(User).where(User.id == i))).one() for k, i in ids.items()}
        tha, cm = people["tha"], people["cm_aus"]
        first = await PROPOSALS.list(svc, user=tha, state="co_manager_review", limit=50)
        cursor = first[-1].id
        for _ in range(8):  # to the tenth page
            cursor = (await PROPOSALS.list(svc, user=tha, state="co_manager_review", limit=50, before=cursor))[-1].id
        one = first[0].id
        reads = {
            "list, first page (50, by state)": lambda: PROPOSALS.list(svc, user=tha, state="co_manager_review", limit=50),
            "list, tenth page (keyset)": lambda: PROPOSALS.list(svc, user=tha, state="co_manager_review", limit=50,
                                                                before=cursor),
            "inbox (200 tasks)": lambda: inbox(svc, user=cm),
            "one item": lambda: PROPOSALS.get(svc, user=tha, id_or_ref=one),
        }
        checks = {
            "list, first page (50, by state)": lambda r: len(r) == 50 and all(
                p.member_state == "THA" and p.state == "co_manager_review" for p in r),
            "list, tenth page (keyset)": lambda r: len(r) == 50 and r[0].id < cursor and all(
                p.member_state == "THA" for p in r),
            "inbox (200 tasks)": lambda r: len(r) == 200 and all(t.reference and t.title for t in r),
            "one item": lambda r: r.id == one and len(r.tasks) == 2,
        }
        out = {}
        for name, call in reads.items():
            for _ in range(20):
                result = await call()
            if not checks[name](result):
                fail(f"{name}: wrong rows")
            statements.clear()
            await call()
            n_statements = len(statements)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = {"p50": quantile(times, 0.5), "p99": quantile(times, 0.99), "statements": n_statements}
        conn = await asyncpg.connect(sync_dsn(url))
        try:
            stmt = await conn.prepare("SELECT * FROM proposals WHERE id = $1")
            for _ in range(50):
                await stmt.fetchrow(first[0].id)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await stmt.fetchrow(first[0].id)
                times.append((time.perf_counter() - t0) * 1000)
            out["baseline"] = {"p50": quantile(times, 0.5)}
        finally:
            await conn.close()
    finally:
        await svc.dispose()
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from migrations import upgrade
    run = runner()
    url = args.database_url
    recreate_database(url)
    upgrade(url)
    made = run(people_and_template(url, USERS, owner="tha"))
    made["users"] = {k: i for k, (i, _) in made["users"].items()}
    counts = bulk_load(url, made["template"], args.proposals, args.events)
    print(f"bench.reads at {git_commit()} on {os.cpu_count()} CPUs: {counts['proposals']:,} proposals, "
          f"{counts['events']:,} history events, {counts['open_tasks']:,} open tasks")
    res = run(measure(url, made["users"], args.runs))
    base = res.pop("baseline")["p50"]
    print(f"baseline (a primary-key SELECT over asyncpg, same run): {base:.2f} ms median")
    print(f"{'read':34} {'p50 ms':>8} {'p99 ms':>8} {'statements':>10} {'x baseline':>10}  target")
    missed = False
    for name, r in res.items():
        ok = r["p50"] <= TARGET_MS
        missed |= not ok
        print(f"{name:34} {r['p50']:8.2f} {r['p99']:8.2f} {r['statements']:10d} {r['p50'] / base:10.1f}  "
              f"p50 <= {TARGET_MS:.0f} ms {'PASS' if ok else 'MISS'}")
    return 2 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
