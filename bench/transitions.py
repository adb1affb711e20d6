"""What does the HTTP API cost on top of the SQL of each action?

    .venv/bin/python -m bench.transitions [--n 1000] [--clients 16] [--workers default|1,2,4] [--profile DIR]

One run, on a fresh PostgreSQL database (dropped and recreated), for the three actions a
proposal's life is mostly made of: create (a draft), submit, review (the AUS, then the IDN
co-manager endorses):

- statements: the app in this process (`rso.app.create_app`, driven through
  `httpx.ASGITransport`), SQLAlchemy's engine events counting the statements and the
  BEGIN/COMMIT/ROLLBACK of each action, after a warm-up;
- baseline: the raw SQL of each action (create: the reference counter, the row and its history
  event; submit and review: the row moved on and its event; one transaction each) over asyncpg,
  `--clients` connections, in slices between the HTTP phases, so that a slow spell of the
  machine weighs on both sides of the ratios;
- the service, for each worker count of `--workers`: `rso serve` in a subprocess, driven by a
  load generator in its own process (`bench.loadgen`, keep-alive connections): `--clients`
  clients create N drafts, then submit them, then review them, each action a timed phase of its
  own, with the server's CPU and each worker's peak RSS.

Prints, per action and worker count: requests/s, p50 and p99, the ratio to the raw transaction
of the same action, the statements, the server's and PostgreSQL's CPU per action, and the RSS
per worker, next to the targets. Exits 1 when a response is not the expected one or a proposal
did not end in co_manager_review with its two votes; with --check, also 2 when a target is
missed at the default worker count. A benchmark, not a test: nothing in `tests/` asserts a time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
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
from contextlib import contextmanager
from datetime import date
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
ACTIONS = ("create", "submit", "review")
# Issue 13, point 5: at the default worker count, for each action.
TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 200.0

# The raw actions: what each must do at the least, one transaction each.
# create: a reference from the counter (a prefix of its own), the row, its history event.
RAW_COUNTER = ("INSERT INTO reference_counters (prefix, year, last) VALUES ('RSO-B', $1, 1) "
               "ON CONFLICT (prefix, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last")
RAW_CREATE = ("INSERT INTO proposals (reference, member_state, created_by_id, state, round, split, version, title, "
              "summary, engagement_type, scope, thematic_areas, partner_member_states, created_at, updated_at) "
              "VALUES ($1, 'THA', $2, 'draft', 0, false, 1, $3, $4, $5, $6, $7::json, '[]'::json, now(), now()) "
              "RETURNING id")
# submit, review: the row moved on (optimistic version check) and its history event.
RAW_UPDATE = ("UPDATE proposals SET state = $1, version = version + 1, updated_at = now() "
              "WHERE id = $2 AND version = $3")
RAW_INSERT = ("INSERT INTO history_events (item_kind, item_id, at, actor_id, actor_role, actor_name, action, "
              "from_state, to_state, comment, arguments) "
              "VALUES ('proposal', $1, now(), $2, $3, $4, $5, $6, $7, NULL, $8)")
RAW_STATEMENTS = {"create": 3, "submit": 2, "review": 2}
# bench.floor (--floor): the raw create; submit and review read the row's version under a lock first.
FLOOR_STATEMENTS = {"create": 3, "submit": 3, "review": 3}


def serve_default_workers() -> tuple[int, str]:
    """How many workers `rso serve` starts when given no --workers, and how we know."""
    from rso.cli import parser
    default = parser().parse_args(["serve"]).workers
    if isinstance(default, int):
        return default, "its --workers default"
    return os.cpu_count() or 1, "os.cpu_count(), as rso serve does on PostgreSQL"


def parse_workers(text: str) -> list[int | None]:
    """`default` (None: pass no --workers), or a comma-separated list of counts and `default`."""
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "default":
            out.append(None)
        elif part.isdigit() and int(part) >= 1:
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not a worker count or 'default': '{part}'")
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.transitions", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000,
                   help="proposals created, submitted and reviewed twice, per worker count (default 1000)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients / connections (default 16)")
    p.add_argument("--workers", type=parse_workers, default=[None], metavar="LIST",
                   help="rso serve --workers, one HTTP run each: e.g. 1,2,4; 'default' passes none, so that "
                        "rso serve starts its default (the default here)")
    p.add_argument("--warmup", type=int, default=None, help="untimed proposals first, each phase (default 4 x clients)")
    p.add_argument("--database-url", default=os.environ.get("RSO_BENCH_DATABASE_URL", DEFAULT_URL),
                   help=f"dropped and recreated; its name must contain 'bench' (default {DEFAULT_URL})")
    p.add_argument("--show-statements", action="store_true", help="print the SQL each action sends")
    p.add_argument("--profile", metavar="DIR", type=Path,
                   help="record the server with py-spy during each timed HTTP phase (figures are then perturbed)")
    p.add_argument("--floor", action="store_true",
                   help="also serve bench.floor (FastAPI + asyncpg, the raw SQL, no service) at the default "
                        "worker count: the highest ratio a FastAPI service reaches on this machine")
    p.add_argument("--check", action="store_true", help="exit 2 when a target is missed at the default worker count")
    args = p.parse_args(argv)
    if args.warmup is None:
        args.warmup = 4 * args.clients
    if args.n < 1 or args.clients < 1 or args.warmup < 0:
        p.error("--n and --clients must be at least 1, --warmup at least 0")
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


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak) of one process, in kB, from /proc (empty when gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in lines) if k in ("VmRSS", "VmHWM")}


async def create_users(url: str) -> dict:
    """The THA member-state official and the two co-managers, through the service."""
    import argon2
    from services.accounts import passwords, users
    from services.config.settings import Settings
    from services.wiring import build_services

    # Cheap but still argon2: the benchmark is not about signing in.
    passwords.HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    svc = build_services(Settings(_env_file=None, database_url=url))
    try:
        made = {}
        for key, (email, role, member_state, country) in USERS.items():
            made[key] = await users.create_user(svc, email=email, password=PASSWORD, role=role,
                                                member_state=member_state, country=country)
    finally:
        await svc.dispose()
    return {k: (u.id, u.role, u.name, u.country) for k, u in made.items()}


# --- statements per action: the app in this process ------------------------------------------

class StatementCounter:
    """Every statement (before_cursor_execute) and BEGIN/COMMIT/ROLLBACK an engine sends while
    counting, as tests/api/test_round_trips.py counts them."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.engine, self.seen, self.on = engine.sync_engine, [], False
        for name in ("begin", "commit", "rollback"):
            event.listen(self.engine, name, self._marker(name.upper()))
        event.listen(self.engine, "before_cursor_execute", self._statement)

    def _marker(self, word):
        def record(conn):
            if self.on:
                self.seen.append(word)
        return record

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.seen.append(" ".join(statement.split()))

    @contextmanager
    def counting(self):
        self.seen, self.on = [], True
        try:
            yield self
        finally:
            self.on = False


def statements_of(seen: list[str]) -> int:
    return sum(1 for s in seen if s not in ("BEGIN", "COMMIT", "ROLLBACK"))


async def count_statements(url: str, warmup: int = 2, rounds: int = 3) -> dict:
    """Create, submit and both reviews of `warmup` proposals untimed (statements prepared, each
    user's session looked up), then of `rounds` more while counting. The background delivery is
    off here (its passes are per batch of emails, not per action). Returns, per action, the
    statements seen in each counted round, and the ids of the proposals it made."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    from rso.app import create_app
    from services.config.settings import Settings

    settings = Settings(_env_file=None, database_url=url, secret_key=secrets.token_urlsafe(48),
                        deliver_in_background=False)
    app = create_app(settings)
    seen: dict[str, list[list[str]]] = {"create": [], "submit": [], "review AUS": [], "review IDN": []}
    ids = []
    async with app.router.lifespan_context(app):
        counter = StatementCounter(app.state.services.engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.example") as c:
            tokens = {}
            for key, (email, *_rest) in USERS.items():
                r = await c.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
                if r.status_code != 200:
                    fail(f"in-process sign-in of {email}: {r.status_code} {r.text[:300]}")
                tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}

            async def call(name, path, who, body, expect):
                with counter.counting():
                    r = await c.post(path, json=body, headers=tokens[who])
                if r.status_code != expect:
                    fail(f"in-process {name}: {r.status_code} {r.text[:300]}")
                return r, list(counter.seen)

            for i in range(warmup + rounds):
                r, created = await call("create", "/api/v1/proposals", "owner", PROPOSAL, 201)
                pid = r.json()["id"]
                ids.append(pid)
                _, submitted = await call("submit", f"/api/v1/proposals/{pid}/actions/submit", "owner", {}, 200)
                _, aus = await call("review AUS", f"/api/v1/proposals/{pid}/actions/review", "aus",
                                    {"recommendation": "endorse"}, 200)
                _, idn = await call("review IDN", f"/api/v1/proposals/{pid}/actions/review", "idn",
                                    {"recommendation": "endorse"}, 200)
                if i >= warmup:
                    for name, s in (("create", created), ("submit", submitted), ("review AUS", aus),
                                    ("review IDN", idn)):
                        seen[name].append(s)
    return {"seen": seen, "ids": ids}


def statement_figures(counted: dict) -> dict[str, tuple[str, str]]:
    """Per action: (statements, round trips) as text; a range when the rounds differ (then the
    count is not exact: say so rather than average)."""
    def span(xs):
        lo, hi = min(xs), max(xs)
        return str(lo) if lo == hi else f"{lo}-{hi}"
    out = {}
    for action in ACTIONS:
        rounds = [s for name, rs in counted["seen"].items() if name.split()[0] == action for s in rs]
        out[action] = (span([statements_of(s) for s in rounds]), span([len(s) for s in rounds]))
    return out


# --- the baseline: raw SQL -----------------------------------------------------------------

async def raw_slice(url: str, users: dict, clients: int, warmup: int, count: int) -> dict:
    """`warmup` rows untimed, then `count` rows timed, through the three raw actions in turn:
    create, submit, review (AUS then IDN, one transaction each). Per action: latencies, elapsed,
    CPU of PostgreSQL and of this process, steal; and the ids of every row made."""
    import asyncpg
    (oid, orole, oname, _), (aid, arole, aname, acountry), (iid, irole, iname, icountry) = (
        users["owner"], users["aus"], users["idn"])
    review, year = "co_manager_review", date.today().year
    created_args = json.dumps(PROPOSAL)
    thematic = json.dumps(PROPOSAL["thematic_areas"])
    # (to_state, version, actor..., action, from, to, arguments) of each transaction of an action
    moves = {
        "submit": [(review, 1, oid, orole, oname, "submit", "draft", review, "{}")],
        "review": [(review, 2, aid, arole, aname, "review", review, review,
                    json.dumps({"recommendation": "endorse", "country": acountry})),
                   (review, 3, iid, irole, iname, "review", review, review,
                    json.dumps({"recommendation": "endorse", "country": icountry}))],
    }
    conns = [await asyncpg.connect(asyncpg_dsn(url)) for _ in range(clients)]
    failures: list[str] = []

    async def create(conn, _item, latencies, made):
        t0 = time.perf_counter()
        async with conn.transaction():
            number = await conn.fetchval(RAW_COUNTER, year)
            pid = await conn.fetchval(RAW_CREATE, f"RSO-B-{year}-{number:04d}", oid, PROPOSAL["title"],
                                      PROPOSAL["summary"], PROPOSAL["engagement_type"], PROPOSAL["scope"], thematic)
            await conn.execute(RAW_INSERT, pid, oid, orole, oname, "create", None, "draft", created_args)
        latencies.append(time.perf_counter() - t0)
        made.append(pid)

    def move(action):
        async def run(conn, pid, latencies, _made):
            for to_state, version, actor_id, role, name, verb, frm, to, arguments in moves[action]:
                t0 = time.perf_counter()
                async with conn.transaction():
                    status = await conn.execute(RAW_UPDATE, to_state, pid, version)
                    if status != "UPDATE 1":
                        failures.append(f"raw {action} of row {pid} at version {version}: {status}")
                        return
                    await conn.execute(RAW_INSERT, pid, actor_id, role, name, verb, frm, to, arguments)
                latencies.append(time.perf_counter() - t0)
        return run

    async def drive(fn, items, latencies, made):
        queue: asyncio.Queue = asyncio.Queue()
        for i in items:
            queue.put_nowait(i)

        async def client(conn):
            while not queue.empty():
                await fn(conn, queue.get_nowait(), latencies, made)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for c in conns))
        return time.perf_counter() - t0

    out: dict = {}
    try:
        warm_ids, ids = [], []
        for action, fn in (("create", create), ("submit", move("submit")), ("review", move("review"))):
            await drive(fn, range(warmup) if action == "create" else warm_ids, [], warm_ids if action == "create" else [])
            await checkpoint(url)
            latencies: list[float] = []
            pg0, cpu0, st0 = postgres_cpu(), os.times(), cpu_steal()
            elapsed = await drive(fn, range(count) if action == "create" else ids, latencies,
                                  ids if action == "create" else [])
            pg1, cpu1, st1 = postgres_cpu(), os.times(), cpu_steal()
            out[action] = {"latencies": latencies, "elapsed": elapsed, "pg_cpu": pg1 - pg0,
                           "client_cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
                           "steal": steal_pct(st0, st1)}
            if failures:
                fail("raw transactions did not apply: " + "; ".join(failures[:5]))
    finally:
        for c in conns:
            await c.close()
    out["ids"] = warm_ids + ids
    return out


def merge_raw(slices: list[dict]) -> dict:
    """The baseline runs in slices, before, between and after the HTTP runs, so that a slow
    spell of the machine (a VM: see the steal figures) weighs on both sides of the ratios."""
    merged = {}
    for action in ACTIONS:
        parts = [s[action] for s in slices]
        elapsed = sum(p["elapsed"] for p in parts)
        merged[action] = {"latencies": [x for p in parts for x in p["latencies"]], "elapsed": elapsed,
                          "pg_cpu": sum(p["pg_cpu"] for p in parts),
                          "client_cpu": sum(p["client_cpu"] for p in parts),
                          "steal": sum(p["steal"] * p["elapsed"] for p in parts) / elapsed if elapsed else 0.0,
                          "slices": [len(p["latencies"]) / p["elapsed"] for p in parts]}
    merged["ids"] = [i for s in slices for i in s["ids"]]
    return merged


# --- the service ---------------------------------------------------------------------------

class Server:
    """`rso serve` in a subprocess of its own session; its log goes to a file. `workers` None
    passes no --workers: rso serve starts its default, `expected` of them (a guess: the number
    started is read from its log)."""

    def __init__(self, url: str, workers: int | None, expected: int, log: Path, floor: bool = False):
        self.port = free_port()
        self.floor = floor
        if floor:  # bench.floor at the same count as rso serve's default, with uvicorn's same options
            workers = workers or expected
        self.requested = workers
        self.expected = workers or expected
        self.log = log
        env = {**os.environ, "RSO_DATABASE_URL": url, "RSO_SECRET_KEY": secrets.token_urlsafe(48),
               "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_EPHEMERAL_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
        rso = Path(sys.executable).with_name("rso")
        extra = [] if workers is None else ["--workers", str(workers)]
        command = [str(rso), "serve", "--port", str(self.port), *extra]
        if floor:
            command = [sys.executable, "-m", "uvicorn", "bench.floor:create_app", "--factory", "--port",
                       str(self.port), "--workers", str(workers), "--log-level", "info"]
        self.proc = subprocess.Popen(command,
                                     cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes, from its log: the children of `rso serve` with several
        workers, `rso serve` itself with one."""
        return [int(p) for p in re.findall(r"Started server process \[(\d+)\]", self.log.read_text())]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"rso serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            started = self.log.read_text().count("Application startup complete")
            if started != last:
                last, since = started, time.monotonic()
            try:
                with urllib.request.urlopen(self.url("/api/v1/health"), timeout=1) as r:
                    # With several workers, wait for all: a connection opened earlier would all
                    # land on the first one. Without --workers the count is a guess: accept
                    # what started once nothing more has for 5 s.
                    if r.status == 200 and (started >= self.expected or (
                            self.requested is None and started and time.monotonic() - since > 5)):
                        self.workers = len(self.worker_pids())
                        return
            except OSError:
                pass
            time.sleep(0.1)
        fail(f"rso serve not healthy after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def label(self) -> str:
        if self.floor:
            return f"floor {self.workers}"
        return str(self.workers) if self.requested is not None else f"{self.workers} (default)"

    def token(self, email: str) -> str:
        form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url("/api/v1/auth/token"), data=form),
                                    timeout=30) as r:
            return json.loads(r.read())["access_token"]

    def cpu_by_process(self) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in process_tree(self.proc.pid)}

    def memory(self) -> dict[int, dict[str, int]]:
        return {p: memory_kb(p) for p in self.worker_pids()}

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


def http_run(server: Server, server_db: str, clients: int, warmup: int, n: int, profile_dir: Path | None) -> dict:
    """One server: create `warmup` + `n` drafts, submit them, review them (AUS then IDN), each
    action a phase (warm-up, then timed) of the same load generator and connections."""
    from bench import loadgen
    from bench.loadgen import Step

    tokens = {k: server.token(email) for k, (email, *_rest) in USERS.items()}
    steps = {
        "create": [Step("create", "/api/v1/proposals", tokens["owner"], json.dumps(PROPOSAL).encode(),
                        expect=201, collect="id")],
        "submit": [Step("submit", "/api/v1/proposals/{id}/actions/submit", tokens["owner"], b"{}")],
        "review": [Step("review AUS", "/api/v1/proposals/{id}/actions/review", tokens["aus"],
                        b'{"recommendation":"endorse"}'),
                   Step("review IDN", "/api/v1/proposals/{id}/actions/review", tokens["idn"],
                        b'{"recommendation":"endorse"}')],
    }
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    gen = ctx.Process(target=loadgen.serve, args=(child, "127.0.0.1", server.port, clients), daemon=True)
    gen.start()
    child.close()  # so that recv() fails rather than waits if the load generator dies
    phases: dict[str, dict] = {}
    warm_ids, ids = list(range(warmup)), list(range(n))
    recorder = None
    try:
        for action in ACTIONS:
            parent.send(("phase", steps[action], warm_ids, ids))
            kind, warm = _receive(parent, gen)
            if kind != "ready":
                fail(f"load generator failed during the {action} warm-up:\n{warm}")
            if warm.errors:
                fail(f"{len(warm.errors)} {action} warm-up requests were not answered as expected, "
                     f"e.g. {warm.errors[:3]} (server log: {server.log})")
            if profile_dir is not None:
                from bench.profiling import Recorder
                profile_dir.mkdir(parents=True, exist_ok=True)
                recorder = Recorder(server.proc.pid, profile_dir / f"server-workers{server.requested or 'default'}-{action}.txt")
                time.sleep(1.0)  # py-spy attaches to every process of the tree before we start
            asyncio.run(checkpoint(server_db))
            before, pg0, st0 = server.cpu_by_process(), postgres_cpu(), cpu_steal()
            parent.send("go")
            kind, result = _receive(parent, gen)
            after, pg1, st1 = server.cpu_by_process(), postgres_cpu(), cpu_steal()
            if recorder is not None:
                recorder.stop()
            if kind != "done":
                fail(f"load generator failed during {action}:\n{result}")
            if result.errors:
                fail(f"{len(result.errors)} {action} requests were not answered as expected, e.g. "
                     f"{result.errors[:3]} (server log: {server.log})")
            expected = len(ids) * len(steps[action])
            if result.requests != expected:
                fail(f"{result.requests} {action} requests made, expected {expected}")
            phases[action] = {"result": result, "server_cpu": {p: after[p] - before.get(p, 0.0) for p in after},
                              "pg_cpu": pg1 - pg0, "steal": steal_pct(st0, st1),
                              "profile": recorder.output if recorder else None}
            recorder = None
            if action == "create":
                warm_ids, ids = warm.collected, result.collected
                if len(set(warm_ids + ids)) != warmup + n:
                    fail(f"the creates returned {len(set(warm_ids + ids))} distinct ids, expected {warmup + n}")
        memory = server.memory()
        parent.send("stop")
    finally:
        if recorder is not None:
            recorder.stop()
        gen.join(timeout=10)
        if gen.is_alive():
            gen.kill()
    return {"label": server.label(), "workers": server.workers, "requested": server.requested, "floor": server.floor,
            "phases": phases, "memory": memory, "ids": warm_ids + ids}


async def verify(url: str, ids: list[int], raw_ids: list[int]) -> None:
    """Every proposal the service made in co_manager_review with this round's two votes and its
    four events (create, submit, two reviews); every raw row likewise at version 4."""
    import asyncpg
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT p.id, p.state, p.round, p.version, "
            "  (SELECT count(*) FROM review_votes v WHERE v.proposal_id = p.id AND v.round = p.round) AS votes, "
            "  (SELECT count(*) FROM history_events h WHERE h.item_kind = 'proposal' AND h.item_id = p.id) AS events "
            "FROM proposals p WHERE p.id = ANY($1::int[])", ids)
        bad = [dict(r) for r in rows if (r["state"], r["votes"], r["events"]) != ("co_manager_review", 2, 4)]
        if len(rows) != len(ids) or bad:
            fail(f"{len(bad) + len(ids) - len(rows)} of {len(ids)} proposals are not in co_manager_review with "
                 f"2 votes and 4 events, e.g. {bad[:3]}")
        raw_rows = await conn.fetch(
            "SELECT p.id, p.state, p.version, "
            "  (SELECT count(*) FROM history_events h WHERE h.item_kind = 'proposal' AND h.item_id = p.id) AS events "
            "FROM proposals p WHERE p.id = ANY($1::int[])", raw_ids)
        raw_bad = [dict(r) for r in raw_rows if (r["state"], r["version"], r["events"]) != ("co_manager_review", 4, 4)]
        if len(raw_rows) != len(raw_ids) or raw_bad:
            fail(f"{len(raw_bad) + len(raw_ids) - len(raw_rows)} of {len(raw_ids)} raw rows are not in "
                 f"co_manager_review at version 4 with 4 history events, e.g. {raw_bad[:3]}")
    finally:
        await conn.close()


# --- report ---------------------------------------------------------------------------------

def ms(xs: list[float], q: float) -> float:
    return quantile(xs, q) * 1000


def judged(runs: list[dict], default_workers: int) -> list[dict]:
    """The runs the targets are for: at rso serve's default worker count (all, if none is)."""
    runs = [r for r in runs if not r["floor"]]
    chosen = [r for r in runs if r["requested"] is None or r["workers"] == default_workers]
    return chosen or runs


def report(args, env: dict, statements: dict, raw: dict, runs: list[dict], timings: dict) -> bool:
    """Print everything; return whether the judged runs met every target."""
    default_workers, default_how = env["default_workers"]
    print(f"\nRSO Workflow: transitions benchmark (commit {env['commit']})")
    print(f"  N={args.n} proposals per worker count, each created, submitted and reviewed by AUS then IDN "
          f"({args.n} + {args.n} + {2 * args.n} requests); {args.clients} clients; warm-up {args.warmup} proposals "
          f"per phase; {env['cpus']} CPUs, Python {platform.python_version()}, {env['pg']} "
          f"(fsync={env['fsync']}, synchronous_commit={env['sync']})")
    print(f"  rso serve's default worker count: {default_workers} ({default_how}). Targets, for each action at "
          f"that count: ratio >= {TARGET_RATIO:.2f}, p99 <= {TARGET_P99_MS:.0f} ms, RSS <= {TARGET_RSS_MB:.0f} MB "
          "per worker")
    if args.profile:
        print("  (py-spy was recording the server: the HTTP figures are perturbed)")

    figures = statement_figures(statements)
    print("\n  Statements per action (the app in this process through httpx.ASGITransport, SQLAlchemy engine "
          f"events, {len(statements['seen']['create'])} rounds after a warm-up):")
    for action in ACTIONS:
        n_st, n_rt = figures[action]
        print(f"    {action:8}{n_st:>4} statements, {n_rt:>3} round trips with BEGIN/COMMIT/ROLLBACK   "
              f"(raw: {RAW_STATEMENTS[action]} statements, {RAW_STATEMENTS[action] + 2} round trips)")
    if args.show_statements:
        for name, rounds in statements["seen"].items():
            print(f"    -- {name} (last round):")
            print("\n".join(f"       {s[:160]}" for s in rounds[-1]))

    slices = len(raw["create"]["slices"])
    print(f"\n  Raw SQL (asyncpg, {args.clients} connections, one transaction per action; {slices} slices "
          f"of {len(raw['create']['latencies']) // slices} rows, one before each HTTP run and one after the last):")
    print(f"    {'action':8}{'tx/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'postgres':>10}{'client':>8}   "
          "tx/s by slice")
    print(f"    {'':8}{'':8}{'':9}{'':9}{'':9}{'CPU ms/tx':>10}{'ms/tx':>8}")
    raw_rate = {}
    for action in ACTIONS:
        r = raw[action]
        n = len(r["latencies"])
        raw_rate[action] = n / r["elapsed"]
        print(f"    {action:8}{raw_rate[action]:8.0f}{ms(r['latencies'], .5):9.2f}{ms(r['latencies'], .99):9.2f}"
              f"{max(r['latencies']) * 1000:9.2f}{1000 * r['pg_cpu'] / n:10.3f}{1000 * r['client_cpu'] / n:8.3f}   "
              + " / ".join(f"{x:.0f}" for x in r["slices"]))

    chosen = judged(runs, default_workers)
    print(f"\n  HTTP (rso serve; the load generator in its own process, {args.clients} keep-alive connections). "
          "ratio = req/s / raw tx/s of the same action; CPU per request; RSS = the largest worker's peak (VmHWM); "
          "* = a target missed:")
    print(f"    {'workers':12}{'action':8}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>9}{'max ms':>8}{'ratio':>8}"
          f"{'stmts':>6}{'server':>8}{'postgres':>10}{'RSS MB':>9}  targets")
    print(f"    {'':12}{'':8}{'':>7}{'':>8}{'':>9}{'':>8}{'':>8}{'':>6}{'CPU ms':>8}{'CPU ms':>10}")
    all_ok = True
    for run in runs:
        counted = run in chosen
        rss = [m.get("VmHWM", 0) / 1024 for m in run["memory"].values()]
        rss_max = max(rss) if rss else float("nan")
        rss_ok = bool(rss) and rss_max <= TARGET_RSS_MB
        for i, action in enumerate(ACTIONS):
            ph = run["phases"][action]
            res = ph["result"]
            lat = [x for xs in res.latencies.values() for x in xs]
            rate = res.requests / res.elapsed
            ratio = rate / raw_rate[action]
            p99 = ms(lat, .99)
            misses = [name for name, ok in (("ratio", ratio >= TARGET_RATIO), ("p99", p99 <= TARGET_P99_MS),
                                            ("RSS", rss_ok or i > 0)) if not ok]
            if counted and misses:
                all_ok = False
            mark = lambda name: "*" if name in misses else " "  # noqa: E731
            server_cpu = sum(ph["server_cpu"].values())
            verdict = ("MISS " + ", ".join(misses) if misses else "PASS") + (
                "" if counted else " (the stack's floor: not judged)" if run["floor"] else " (not judged)")
            print(f"    {run['label'] if i == 0 else '':12}{action:8}{rate:7.0f}{ms(lat, .5):8.2f}{p99:8.2f}"
                  f"{mark('p99')}{max(lat) * 1000:8.2f}{ratio:7.3f}{mark('ratio')}"
                  f"{FLOOR_STATEMENTS[action] if run['floor'] else figures[action][0]:>6}"
                  f"{1000 * server_cpu / res.requests:8.2f}{1000 * ph['pg_cpu'] / res.requests:10.2f}"
                  + (f"{rss_max:8.0f}{mark('RSS')}" if i == 0 else f"{'':9}") + f"  {verdict}")
    print()
    for run in runs:
        mem = run["memory"]
        peak = ", ".join(f"{m.get('VmHWM', 0) / 1024:.0f}" for m in mem.values())
        now = ", ".join(f"{m.get('VmRSS', 0) / 1024:.0f}" for m in mem.values())
        line = f"    workers {run['label']}: RSS per worker, peak {peak} MB, at the end {now} MB"
        if run["workers"] > 1:
            # The supervisor does nothing; each worker keeps the connections it accepted.
            total = {p: sum(ph["server_cpu"].get(p, 0.0) for ph in run["phases"].values()) for p in mem}
            share = sorted((100 * c / sum(total.values()) if sum(total.values()) else 0 for c in total.values()),
                           reverse=True)
            line += "; server CPU by worker " + " / ".join(f"{s:.0f}%" for s in share)
            if share and share[0] > 100 * 0.7:
                line += " UNBALANCED: the keep-alive connections went mostly to one worker"
        phases = run["phases"]
        line += ("; CPU steal " + ", ".join(f"{a} {phases[a]['steal']:.1f}%" for a in ACTIONS)
                 + "; load generator " + ", ".join(f"{1000 * phases[a]['result'].cpu / phases[a]['result'].requests:.2f}"
                                                   for a in ACTIONS) + " ms CPU/request")
        print(line)
    print("    raw: CPU steal " + ", ".join(f"{a} {raw[a]['steal']:.1f}%" for a in ACTIONS))

    if any(not r["floor"] and (r["requested"] is None or r["workers"] == default_workers) for r in runs):
        scope = "at the default worker count (workers " + ", ".join(r["label"] for r in chosen) + ")"
    else:
        scope = f"with no run at the default count ({default_workers}), at every worker count"
    print(f"\n  Targets {scope}: {'PASS' if all_ok else 'MISS'}")
    print("\n  wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return all_ok


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    from migrations import upgrade

    timings = lap = Laps()  # wall time by step
    env = {"commit": git_commit(), "cpus": os.cpu_count(), "default_workers": serve_default_workers()}

    recreate_database(args.database_url)
    upgrade(args.database_url)
    lap("database")
    users = run(create_users(args.database_url))
    statements = run(count_statements(args.database_url))
    lap("users, statements")

    import psycopg
    from services.infra.db import sync_url
    with psycopg.connect(sync_url(args.database_url).set(drivername="postgresql").render_as_string(
            hide_password=False)) as conn:
        env["pg"] = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]
        env["fsync"] = conn.execute("SHOW fsync").fetchone()[0]
        env["sync"] = conn.execute("SHOW synchronous_commit").fetchone()[0]

    # The baseline in slices of N/2 rows (as many as the old halves), one before each HTTP run
    # and one after the last.
    servers = [(w, False) for w in args.workers] + ([(None, True)] if args.floor else [])
    k, size = len(servers) + 1, max(1, args.n // 2)
    raw_slices = [run(raw_slice(args.database_url, users, args.clients, args.warmup, size))]
    lap(f"raw 1/{k}")
    runs = []
    logdir = Path(tempfile.mkdtemp(prefix="rso-bench-"))
    for i, (workers, floor) in enumerate(servers):
        server = Server(args.database_url, workers, env["default_workers"][0], logdir / f"server-{i}.log", floor)
        try:
            server.wait_ready()
            runs.append(http_run(server, args.database_url, args.clients, args.warmup, args.n, args.profile))
        finally:
            server.stop()
        lap(f"http workers {runs[-1]['label']}")
        raw_slices.append(run(raw_slice(args.database_url, users, args.clients, args.warmup, size)))
        lap(f"raw {i + 2}/{k}")
    raw = merge_raw(raw_slices)
    run(verify(args.database_url, statements["ids"] + [i for r in runs if not r["floor"] for i in r["ids"]],
               raw["ids"] + [i for r in runs if r["floor"] for i in r["ids"]]))
    lap("verify")
    shutil.rmtree(logdir, ignore_errors=True)  # kept only when something failed
    ok = report(args, env, statements, raw, runs, timings)
    if args.profile:
        from bench.profiling import summary
        for r in runs:
            for action in ACTIONS:
                if r["phases"][action]["profile"] is not None:
                    print(f"\n[workers {r['label']}, {action}] " + summary(r["phases"][action]["profile"]))
    return 2 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
