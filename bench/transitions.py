"""How much does the HTTP API cost on top of the SQL of a transition?

    .venv/bin/python -m bench.transitions [--n 1000] [--clients 16] [--workers 1] [--profile DIR]

One run, on a fresh PostgreSQL database (dropped and recreated):

- baseline: the raw SQL of one transition (UPDATE ... WHERE version = ... and INSERT of the
  history event, one transaction) over asyncpg, `--clients` connections, 3N transitions on rows
  of their own; half before the HTTP phase and half after, so that a slow spell of the machine
  weighs on both sides of the ratio;
- the service: `rso serve --workers W` in a subprocess, driven by a load generator in its own
  process (`bench.loadgen`, keep-alive connections): `--clients` clients take proposals from a
  shared queue and each does submit (owner) -> review (AUS co-manager) -> review (IDN).

Prints transitions/s, p50 and p99 for both, the ratio HTTP/raw and the HTTP p99 against their
targets, the CPU each side burnt per transition, and the hypervisor's CPU steal (this is a VM).
Exits 1 when a response is not 200 or a proposal did not end in co_manager_review with its two
votes; with --check, also 2 when a target is missed. A benchmark, not a test: nothing in
`tests/` asserts a time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rso_bench"
PASSWORD = "bench-password-1"
USERS = {  # key: (email, role, member_state, country)
    "owner": ("official.tha@bench.example", "member_state", "THA", None),
    "aus": ("co-manager.aus@bench.example", "co_manager", None, "AUS"),
    "idn": ("co-manager.idn@bench.example", "co_manager", None, "IDN"),
}
PROPOSAL = {"title": "Benchmark proposal", "summary": "Joint training on document fraud detection.",
            "engagement_type": "collaboration", "scope": "regional",
            "thematic_areas": ["people_smuggling", "trafficking_in_persons"]}
TARGET_RATIO = 0.20
TARGET_P99_MS = 50.0

# The raw transition: what `act` must do at the least (one row moved on, one event recorded).
RAW_UPDATE = ("UPDATE proposals SET state = $1, version = version + 1, updated_at = now() "
              "WHERE id = $2 AND version = $3")
RAW_INSERT = ("INSERT INTO history_events (item_kind, item_id, at, actor_id, actor_role, actor_name, action, "
              "from_state, to_state, comment, arguments) "
              "VALUES ('proposal', $1, now(), $2, $3, $4, $5, $6, $7, NULL, $8)")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.transitions", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="proposals driven through 3 transitions (default 1000)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients / connections (default 16)")
    p.add_argument("--workers", type=int, default=1, help="rso serve --workers (default 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed proposals first, each side (default 4 x clients)")
    p.add_argument("--database-url", default=os.environ.get("RSO_BENCH_DATABASE_URL", DEFAULT_URL),
                   help=f"dropped and recreated; its name must contain 'bench' (default {DEFAULT_URL})")
    p.add_argument("--profile", metavar="DIR", type=Path,
                   help="record the server with py-spy during the timed HTTP phase (figures are then perturbed)")
    p.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    args = p.parse_args(argv)
    if args.warmup is None:
        args.warmup = 4 * args.clients
    if args.n < 1 or args.clients < 1 or args.workers < 1:
        p.error("--n, --clients and --workers must be at least 1")
    return args


# --- helpers -------------------------------------------------------------------------------

class Laps(dict):
    """Set-up timings by step: `lap(name)` records the time since the previous lap."""

    def __init__(self):
        super().__init__()
        self._t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self[name], self._t = now - self._t, now


def fail(message: str) -> None:
    print(f"\nFAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def process_tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (backends, WAL writer, ...)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() in ("postgres", "postmaster"):
                total += cpu_seconds(int(stat.parent.name))
        except OSError:
            pass
    return total


def cpu_steal() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs: time the hypervisor gave to someone else."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total else 0.0


async def checkpoint(url: str) -> None:
    """Flush what the set-up wrote, so that a checkpoint does not land in a timed phase."""
    import asyncpg
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.PostgresError:
        pass  # not a superuser: the figures are only a little noisier
    finally:
        await conn.close()


# --- setting up ----------------------------------------------------------------------------

def recreate_database(url: str) -> None:
    import psycopg
    from services.infra.db import make_url, sync_url
    u = make_url(url)
    if "bench" not in (u.database or ""):
        fail(f"refusing to drop database '{u.database}': its name must contain 'bench'")
    admin = sync_url(u).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{u.database}"')
    except psycopg.OperationalError as exc:
        fail(f"cannot reach PostgreSQL ({exc}); start it: "
             "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")


def asyncpg_dsn(url: str) -> str:
    from services.infra.db import make_url
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def populate(url: str, http_count: int, raw_count: int) -> dict:
    """Users through the service, the HTTP side's drafts through `PROPOSALS.create`, and the
    raw side's rows in one INSERT (they only need to exist)."""
    import argon2
    import asyncpg
    from services.accounts import passwords, users
    from services.config.settings import Settings
    from services.proposals import PROPOSALS
    from services.wiring import build_services

    # Cheap but still argon2: the benchmark is not about signing in.
    passwords.HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    svc = build_services(Settings(_env_file=None, database_url=url))
    try:
        made = {}
        for key, (email, role, member_state, country) in USERS.items():
            made[key] = await users.create_user(svc, email=email, password=PASSWORD, role=role,
                                                member_state=member_state, country=country)
        owner = made["owner"]
        sem = asyncio.Semaphore(8)

        async def one():
            async with sem:
                proposal, _ = await PROPOSALS.create(svc, user=owner, data=PROPOSAL)
                return proposal.id

        http_ids = sorted(await asyncio.gather(*(one() for _ in range(http_count))))
    finally:
        await svc.dispose()

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        raw_ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO proposals (reference, member_state, created_by_id, state, round, split, version, title, "
            "summary, engagement_type, scope, thematic_areas, partner_member_states, created_at, updated_at) "
            "SELECT 'RSO-B-' || lpad(g::text, 7, '0'), 'THA', $1, 'draft', 0, false, 1, $2, $3, $4, $5, $6::json, "
            "'[]'::json, now(), now() FROM generate_series(1, $7) g RETURNING id",
            owner.id, PROPOSAL["title"], PROPOSAL["summary"], PROPOSAL["engagement_type"], PROPOSAL["scope"],
            json.dumps(PROPOSAL["thematic_areas"]), raw_count)]
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return {"users": {k: (u.id, u.role, u.name, u.country) for k, u in made.items()},
            "http_ids": http_ids, "raw_ids": sorted(raw_ids)}


# --- the baseline: raw SQL -----------------------------------------------------------------

async def raw_phase(url: str, users: dict, clients: int, warmup_ids: list[int], ids: list[int]) -> dict:
    import asyncpg
    (oid, orole, oname, _), (aid, arole, aname, acountry), (iid, irole, iname, icountry) = (
        users["owner"], users["aus"], users["idn"])
    review = "co_manager_review"
    # The same three transitions as the HTTP side: (to_state, actor..., action, from, to, arguments).
    steps = [
        ("submit", (review, oid, orole, oname, "submit", "draft", review, "{}")),
        ("review", (review, aid, arole, aname, "review", review, review,
                    json.dumps({"recommendation": "endorse", "country": acountry}))),
        ("review", (review, iid, irole, iname, "review", review, review,
                    json.dumps({"recommendation": "endorse", "country": icountry}))),
    ]
    conns = [await asyncpg.connect(asyncpg_dsn(url)) for _ in range(clients)]
    failures: list[str] = []

    async def drive(item_ids: list[int], latencies: list[float]):
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in item_ids:
            queue.put_nowait(i)

        async def client(conn):
            while not queue.empty():
                pid = queue.get_nowait()
                for version, (_, (to_state, actor_id, role, name, action, frm, to, arguments)) in \
                        enumerate(steps, start=1):
                    t0 = time.perf_counter()
                    async with conn.transaction():
                        status = await conn.execute(RAW_UPDATE, to_state, pid, version)
                        if status != "UPDATE 1":
                            failures.append(f"raw row {pid} at version {version}: {status}")
                            break
                        await conn.execute(RAW_INSERT, pid, actor_id, role, name, action, frm, to, arguments)
                    latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for c in conns))
        return time.perf_counter() - t0

    try:
        await drive(warmup_ids, [])
        await checkpoint(url)
        latencies: list[float] = []
        pg0, cpu0, st0 = postgres_cpu(), os.times(), cpu_steal()
        elapsed = await drive(ids, latencies)
        pg1, cpu1, st1 = postgres_cpu(), os.times(), cpu_steal()
    finally:
        for c in conns:
            await c.close()
    if failures:
        fail("raw transitions did not apply: " + "; ".join(failures[:5]))
    return {"latencies": latencies, "elapsed": elapsed, "pg_cpu": pg1 - pg0,
            "client_cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), "steal": steal_pct(st0, st1)}


def merge_raw(halves: list[dict]) -> dict:
    """The baseline runs in two halves, before and after the HTTP phase, so that a slow spell
    of the machine (a VM: see the steal figures) weighs on both sides of the ratio alike."""
    return {"latencies": [x for h in halves for x in h["latencies"]],
            "elapsed": sum(h["elapsed"] for h in halves),
            "pg_cpu": sum(h["pg_cpu"] for h in halves), "client_cpu": sum(h["client_cpu"] for h in halves),
            "steal": sum(h["steal"] * h["elapsed"] for h in halves) / sum(h["elapsed"] for h in halves),
            "halves": [len(h["latencies"]) / h["elapsed"] for h in halves]}


# --- the service ---------------------------------------------------------------------------

class Server:
    """`rso serve` in a subprocess of its own session; its log goes to a file."""

    def __init__(self, url: str, workers: int, log: Path):
        self.port = free_port()
        self.workers = workers
        self.log = log
        env = {**os.environ, "RSO_DATABASE_URL": url, "RSO_SECRET_KEY": secrets.token_urlsafe(48),
               "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_EPHEMERAL_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
        rso = Path(sys.executable).with_name("rso")
        self.proc = subprocess.Popen([str(rso), "serve", "--port", str(self.port), "--workers", str(workers)],
                                     cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"rso serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url("/api/v1/health"), timeout=1) as r:
                    started = self.log.read_text().count("Application startup complete")
                    # With several workers, wait for all: a connection opened earlier would
                    # all land on the first one.
                    if r.status == 200 and started >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        fail(f"rso serve not healthy after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def token(self, email: str) -> str:
        form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url("/api/v1/auth/token"), data=form),
                                    timeout=30) as r:
            return json.loads(r.read())["access_token"]

    def cpu_by_process(self) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in process_tree(self.proc.pid)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _receive(pipe, process) -> tuple:
    try:
        return pipe.recv()
    except EOFError:
        process.join(timeout=5)
        fail(f"the load generator died (exit code {process.exitcode}) without reporting")


def http_phase(server: Server, server_db: str, clients: int, warmup_ids: list[int], ids: list[int],
               profile_dir: Path | None) -> dict:
    from bench.loadgen import Step
    from bench import loadgen

    tokens = {k: server.token(email) for k, (email, *_rest) in USERS.items()}
    steps = [Step("submit", "/api/v1/proposals/{id}/actions/submit", tokens["owner"], b"{}"),
             Step("review AUS", "/api/v1/proposals/{id}/actions/review", tokens["aus"],
                  b'{"recommendation":"endorse"}'),
             Step("review IDN", "/api/v1/proposals/{id}/actions/review", tokens["idn"],
                  b'{"recommendation":"endorse"}')]
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    gen = ctx.Process(target=loadgen.serve, args=(child, "127.0.0.1", server.port, clients, steps, warmup_ids, ids),
                      daemon=True)
    gen.start()
    child.close()  # so that recv() fails rather than waits if the load generator dies
    recorder = None
    try:
        kind, warm = _receive(parent, gen)
        if kind != "ready":
            fail(f"load generator failed during the warm-up:\n{warm}")
        if warm.errors:
            fail(f"{len(warm.errors)} warm-up requests were not 200, e.g. {warm.errors[:3]}")
        if profile_dir is not None:
            from bench.profiling import Recorder
            profile_dir.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(server.proc.pid, profile_dir / f"server-workers{server.workers}.txt")
            time.sleep(1.0)  # py-spy attaches to every process of the tree before we start
        asyncio.run(checkpoint(server_db))
        before, pg0, st0 = server.cpu_by_process(), postgres_cpu(), cpu_steal()
        parent.send("go")
        kind, result = _receive(parent, gen)
        after, pg1, st1 = server.cpu_by_process(), postgres_cpu(), cpu_steal()
        if recorder is not None:
            recorder.stop()
        if kind != "done":
            fail(f"load generator failed:\n{result}")
    finally:
        if recorder is not None:
            recorder.stop()
        gen.join(timeout=10)
        if gen.is_alive():
            gen.kill()
    per_process = {p: after[p] - before.get(p, 0.0) for p in after}
    return {"result": result, "server_cpu": per_process, "pg_cpu": pg1 - pg0, "steal": steal_pct(st0, st1),
            "profile": recorder.output if recorder else None}


async def verify(url: str, ids: list[int], raw_ids: list[int]) -> None:
    """Every HTTP proposal in co_manager_review with this round's two votes and its four events;
    every raw row at version 4 with three events."""
    import asyncpg
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        wrong = await conn.fetch(
            "SELECT p.id, p.state, p.round, "
            "  (SELECT count(*) FROM review_votes v WHERE v.proposal_id = p.id AND v.round = p.round) AS votes, "
            "  (SELECT count(*) FROM history_events h WHERE h.item_kind = 'proposal' AND h.item_id = p.id) AS events "
            "FROM proposals p WHERE p.id = ANY($1::int[])", ids)
        bad = [dict(r) for r in wrong if (r["state"], r["votes"], r["events"]) != ("co_manager_review", 2, 4)]
        if len(wrong) != len(ids) or bad:
            fail(f"{len(bad)} of {len(ids)} proposals are not in co_manager_review with 2 votes and 4 events, "
                 f"e.g. {bad[:3]}")
        raw_bad = await conn.fetchval(
            "SELECT count(*) FROM proposals p WHERE p.id = ANY($1::int[]) AND (p.version <> 4 OR "
            "(SELECT count(*) FROM history_events h WHERE h.item_kind = 'proposal' AND h.item_id = p.id) <> 3)",
            raw_ids)
        if raw_bad:
            fail(f"{raw_bad} raw rows are not at version 4 with 3 history events")
    finally:
        await conn.close()


# --- report ---------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(args, env: dict, raw: dict, http: dict, timings: dict) -> bool:
    res = http["result"]
    all_http = [x for v in res.latencies.values() for x in v]
    raw_rps = len(raw["latencies"]) / raw["elapsed"]
    http_rps = res.requests / res.elapsed
    ratio = http_rps / raw_rps
    p99 = quantile(all_http, 0.99) * 1000
    ms = lambda xs, q: quantile(xs, q) * 1000  # noqa: E731

    print(f"\nRSO Workflow: transitions benchmark (commit {env['commit']})")
    print(f"  N={args.n} proposals x 3 transitions, {args.clients} clients, rso serve --workers {args.workers}, "
          f"warm-up {args.warmup} proposals each side; {env['cpus']} CPUs, Python {platform.python_version()}, "
          f"{env['pg']} (fsync={env['fsync']}, synchronous_commit={env['sync']})")
    if args.profile:
        print("  (py-spy was recording the server: the HTTP figures are perturbed)")
    print(f"\n  {'':34}{'transitions/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    print(f"  {'raw SQL (asyncpg, 1 transaction)':34}{raw_rps:14.0f}{ms(raw['latencies'], .5):9.2f}"
          f"{ms(raw['latencies'], .99):9.2f}{max(raw['latencies']) * 1000:9.2f}")
    print(f"  {'HTTP (rso serve, POST /actions)':34}{http_rps:14.0f}{ms(all_http, .5):9.2f}{p99:9.2f}"
          f"{max(all_http) * 1000:9.2f}")
    for name, xs in res.latencies.items():
        print(f"  {'  ' + name:34}{'':14}{ms(xs, .5):9.2f}{ms(xs, .99):9.2f}{max(xs) * 1000:9.2f}")
    print(f"  (raw before / after the HTTP phase: {raw['halves'][0]:.0f} / {raw['halves'][1]:.0f} transitions/s; "
          f"CPU steal by the hypervisor: raw {raw['steal']:.1f}%, HTTP {http['steal']:.1f}%)")
    print(f"\n  ratio HTTP/raw transitions/s  {ratio:6.3f}   target >= {TARGET_RATIO:.2f}   {verdict(ratio >= TARGET_RATIO)}")
    print(f"  HTTP p99                      {p99:6.1f} ms  target <= {TARGET_P99_MS:.0f} ms  "
          f"{verdict(p99 <= TARGET_P99_MS)}")

    server_cpu = sum(http["server_cpu"].values())
    n_http, n_raw = res.requests, len(raw["latencies"])
    print("\n  CPU per transition (ms):      server    postgres   client")
    print(f"    raw                        {'-':>6}    {1000 * raw['pg_cpu'] / n_raw:8.3f} "
          f"{1000 * raw['client_cpu'] / n_raw:8.3f}")
    print(f"    HTTP                       {1000 * server_cpu / n_http:6.3f}    {1000 * http['pg_cpu'] / n_http:8.3f} "
          f"{1000 * res.cpu / n_http:8.3f}   (server busy {100 * server_cpu / res.elapsed:.0f}% "
          f"of one core over {res.elapsed:.2f} s)")
    if args.workers > 1:
        # The supervisor does nothing; each worker keeps the connections it accepted.
        busy = sorted((c for c in http["server_cpu"].values()), reverse=True)[:args.workers]
        share = [100 * c / sum(busy) if sum(busy) else 0 for c in busy]
        print("    server CPU by worker: " + ", ".join(f"{c:.1f} s ({p:.0f}%)" for c, p in zip(busy, share))
              + ("   UNBALANCED: the keep-alive connections went mostly to one worker"
                 if share[0] > 100 * 0.7 else ""))
    print("\n  wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return ratio >= TARGET_RATIO and p99 <= TARGET_P99_MS


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    from migrations import upgrade

    timings = lap = Laps()  # set-up timings, one lap per step

    recreate_database(args.database_url)
    upgrade(args.database_url)
    lap("database")
    data = run(populate(args.database_url, args.warmup + args.n, args.warmup + args.n))
    lap("data")
    w = args.warmup
    raw_ids = data["raw_ids"][w:]
    half = len(raw_ids) // 2
    raw_halves = [run(raw_phase(args.database_url, data["users"], args.clients, data["raw_ids"][:w], raw_ids[:half]))]
    lap("raw 1/2")

    env = {"commit": git_commit(), "cpus": os.cpu_count()}
    import psycopg
    from services.infra.db import sync_url
    with psycopg.connect(sync_url(args.database_url).set(drivername="postgresql").render_as_string(
            hide_password=False)) as conn:
        env["pg"] = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]
        env["fsync"] = conn.execute("SHOW fsync").fetchone()[0]
        env["sync"] = conn.execute("SHOW synchronous_commit").fetchone()[0]

    log = Path(tempfile.mkdtemp(prefix="rso-bench-")) / "server.log"
    server = Server(args.database_url, args.workers, log)
    try:
        server.wait_ready()
        lap("server start")
        http = http_phase(server, args.database_url, args.clients, data["http_ids"][:w], data["http_ids"][w:],
                          args.profile)
        lap("http")
    finally:
        server.stop()
    raw_halves.append(run(raw_phase(args.database_url, data["users"], args.clients, [], raw_ids[half:])))
    lap("raw 2/2")
    raw = merge_raw(raw_halves)
    res = http["result"]
    if res.errors:
        fail(f"{len(res.errors)} HTTP requests were not 200, e.g. {res.errors[:3]} (server log: {log})")
    if res.requests != 3 * args.n:
        fail(f"{res.requests} HTTP requests made, expected {3 * args.n}")
    run(verify(args.database_url, data["http_ids"], data["raw_ids"]))
    shutil.rmtree(log.parent, ignore_errors=True)  # kept only when something failed
    ok = report(args, env, raw, http, timings)
    if http["profile"] is not None:
        from bench.profiling import summary
        print("\n" + summary(http["profile"]))
    return 2 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
