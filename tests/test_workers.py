"""The flows scaled out on Prefect's own machinery: `rso deploy` puts them on a work pool of a
real Prefect server, two `rso worker` processes poll it, and the service's database is
PostgreSQL (SQLite has no row locks to share work by). Each scheduled run executes once, on
one worker; a worker killed in the middle of a sweep costs nothing but time: the next run
sends what was left, and every notice goes out once."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import deadlines
from services.config.policy import load_policy
from services.engine.tasks import Task, due_notices
from services.infra.db import make_sync_engine
from tests.conftest import ROSTER, TH
from tests.test_deadlines import bkk, world  # noqa: F401 (a fixture)
from tests.test_up import free_port
from tests.test_up import http as _http

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

RSO = str(Path(sys.executable).with_name("rso"))
PREFECT = str(Path(sys.executable).with_name("prefect"))


def prefect_environment(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RSO_", "PREFECT_"))}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false", "PREFECT_LOGGING_TO_API_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1"}


def http(url: str, data: dict | None = None):
    """A call of the Prefect server's API, retried as Prefect's own client retries it: its
    server answers 503 when its SQLite database is locked for a moment (two workers polling it
    every second, on a loaded machine), and nothing was written then."""
    for attempt in range(6):
        try:
            return _http(url, data)
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 5:
                raise
            time.sleep(0.5 * 2 ** attempt)


def wait_for(what: str, check, seconds: float, procs=()):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args[:3]} ended (exit {p.returncode}) before {what}"
        try:
            if got := check():
                return got
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {seconds} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def prefect():
    """A Prefect server of its own (its files in a temporary PREFECT_HOME) with the flows
    deployed to the work pool by `rso deploy`. Its scheduler is off: the runs are the ones
    each test puts on the calendar, so that none of the crons' runs (every minute) lands in
    the middle of a test."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rso-test-pool-") as home:
        env = prefect_environment(Path(home), port)
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env={**env, "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
                                  stdout=open(Path(home) / "server.log", "wb"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        api = env["PREFECT_API_URL"]
        try:
            wait_for("the Prefect server", lambda: http(f"{api}/health") is True, 120, [server])
            deployed = subprocess.run([RSO, "deploy"], env=env, capture_output=True, text=True, timeout=120)
            assert deployed.returncode == 0, deployed.stderr
            assert "deployed to work pool 'rso'" in deployed.stdout
            yield env
        finally:
            stop(server)


class Workers:
    """`rso worker` processes of the pool, each in a process group of its own."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.procs, self.logs = env, log_dir, {}, []

    def start(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - the worker writes it until it stops
        self.logs.append(log)
        self.procs[name] = subprocess.Popen([RSO, "worker", "--name", name, "--limit", "1"], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def online(self) -> set[str]:
        return {w["name"] for w in http(f"{self.env['PREFECT_API_URL']}/work_pools/rso/workers/filter", {})
                if w["status"] == "ONLINE"} & set(self.procs)

    def kill(self, name: str) -> list[int]:
        """The machine dies: the worker and every process under it, at once, by SIGKILL."""
        proc = self.procs[name]
        tree = [proc.pid, *descendants(proc.pid)]
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        return tree

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop(proc)
        for log in self.logs:
            log.close()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture
def workers(prefect, world, tmp_path):  # noqa: F811 (world is the imported fixture)
    """Two workers of the pool for this test's database and SMTP server, the service's clock
    starting at a moment each test names (RSO_NOW) before it starts them."""
    _, _, inbox, settings = world
    env = {**prefect, "RSO_DATABASE_URL": settings.database_url, "RSO_SECRET_KEY": settings.secret_key,
           "RSO_BASE_URL": settings.base_url, "RSO_SMTP_HOST": "127.0.0.1", "RSO_SMTP_PORT": str(inbox.port)}
    w = Workers(env, tmp_path)
    yield w
    w.stop_all()


def start_two(workers: Workers, now: datetime) -> None:
    workers.env["RSO_NOW"] = now.isoformat()
    for name in ("worker-1", "worker-2"):
        workers.start(name)
    wait_for("both workers online", lambda: workers.online() == {"worker-1", "worker-2"}, 90,
             list(workers.procs.values()))


def schedule_run(env: dict[str, str], flow: str) -> str:
    """A run of the flow's deployment put on the calendar for now, as Prefect's scheduler
    does with the deployment's cron: in the Scheduled state, for any worker of the pool."""
    api = env["PREFECT_API_URL"]
    (deployment,) = http(f"{api}/deployments/filter", {"flows": {"name": {"any_": [flow]}}})
    assert deployment["work_pool_name"] == "rso" and deployment["name"] == "rso"
    run = http(f"{api}/deployments/{deployment['id']}/create_flow_run",
               {"state": {"type": "SCHEDULED", "name": "Scheduled"}})
    assert run["state"]["type"] == "SCHEDULED"
    return run["id"]


def flow_run(env, run_id: str) -> dict:
    return http(f"{env['PREFECT_API_URL']}/flow_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})[0]


def times_started(env, run_id: str) -> int:
    """How often the run entered Running, from Prefect's record of its states."""
    return sum(s["type"] == "RUNNING" for s in http(f"{env['PREFECT_API_URL']}/flow_run_states/?flow_run_id={run_id}"))


def wait_finished(env, run_ids, procs, seconds=120) -> list[dict]:
    def done():
        runs = [flow_run(env, i) for i in run_ids]
        return runs if all(r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") for r in runs) else None
    return wait_for(f"{len(run_ids)} flow runs to finish", done, seconds, procs)


def message_ids(inbox) -> list[str]:
    return [m["Message-ID"] for m in inbox.messages]


def test_two_workers_share_the_scheduled_runs_and_each_runs_once(prefect, world, workers):  # noqa: F811
    api, _, inbox, _ = world
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")  # reviews due Monday 15 March 2027
    api.settle()
    start_two(workers, bkk(2027, 3, 11, 8))  # two business days before: the reminders fall due

    # The pool's deployments carry the crons the scheduler plans runs from (off here).
    api_url = prefect["PREFECT_API_URL"]
    flows = {f["id"]: f["name"] for f in http(f"{api_url}/flows/filter", {})}
    assert {flows[d["flow_id"]]: (d["work_pool_name"], [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"])
                                                         for s in d["schedules"]])
            for d in http(f"{api_url}/deployments/filter", {})} == {
        "deadline-sweep": ("rso", [("*/5 * * * *", "Asia/Bangkok", True)]),
        "outbox-delivery": ("rso", [("* * * * *", "Asia/Bangkok", True)]),
        "daily-digest": ("rso", [("0 8 * * *", "Asia/Bangkok", True)]),
        "monthly-report": ("rso", [("0 7 1 * *", "Asia/Bangkok", True)]),
        "half-year-report": ("rso", [("0 7 1 1,7 *", "Asia/Bangkok", True)])}

    # Two sweeps of the same moment, a digest and a delivery, all due at once.
    runs = [schedule_run(prefect, f) for f in ("deadline-sweep", "deadline-sweep", "daily-digest", "outbox-delivery")]
    finished = wait_finished(prefect, runs, list(workers.procs.values()))

    assert [r["state"]["type"] for r in finished] == ["COMPLETED"] * 4
    assert [r["run_count"] for r in finished] == [1] * 4
    assert [times_started(prefect, r["id"]) for r in finished] == [1] * 4
    ran_on = [r["labels"]["prefect.worker.name"] for r in finished]
    assert set(ran_on) == {"worker-1", "worker-2"}, ran_on  # a run at a time each: both took some
    # Each run's process began once, under the worker Prefect names. Two workers may go for the
    # same run; the server lets one have it ("cannot transition to a PENDING state": the other
    # aborts its submission), and that is what keeps it to once.
    logs = {name: (workers.log_dir / f"{name}.log").read_text() for name in ("worker-1", "worker-2")}
    for r in finished:
        began = f"Beginning flow run '{r['name']}'"
        assert {name: log.count(began) for name, log in logs.items()} == {
            name: int(name == r["labels"]["prefect.worker.name"]) for name in logs}

    # What people notice: each co-manager's reminder and digest, once.
    got = {who: sorted(m["Subject"].split(":")[0] for m in inbox.to(ROSTER[who]["email"])) for who in ROSTER}
    assert {w: s for w, s in got.items() if s} == {
        who: ["Reminder, due Monday 15 March 2027", "Your RSO tasks, 11 March 2027"] for who in ("cm_aus", "cm_idn")}
    assert len(set(message_ids(inbox))) == len(inbox.messages) == 4


def copy_proposal(engine: sa.Engine, reference: str, copies: int) -> None:
    """`copies` more proposals like `reference`, as submitted, each with its open review tasks
    (as `open_task` left them): more due reminders than a sweep takes in one batch, quickly."""
    with engine.begin() as conn:
        cols = [c for c in conn.execute(sa.text("SELECT * FROM proposals LIMIT 0")).keys() if c != "id"]
        select = ", ".join(f"'RSO-C-' || lpad(g::text, 5, '0')" if c == "reference" else f"p.{c}" for c in cols)
        new = conn.execute(sa.text(f"INSERT INTO proposals ({', '.join(cols)}) SELECT {select} FROM proposals p, "
                                   "generate_series(1, :n) g WHERE p.reference = :ref RETURNING id"),
                           {"n": copies, "ref": reference}).scalars().all()
        task_cols = [c for c in conn.execute(sa.text("SELECT * FROM tasks LIMIT 0")).keys() if c not in ("id", "item_id")]
        conn.execute(sa.text(f"INSERT INTO tasks (item_id, {', '.join(task_cols)}) "
                             f"SELECT n.id, {', '.join('t.' + c for c in task_cols)} FROM unnest(:new) AS n(id), "
                             "tasks t JOIN proposals p ON p.id = t.item_id AND t.item_kind = 'proposal' "
                             "WHERE p.reference = :ref AND t.status = 'open' ORDER BY n.id, t.id"),
                     {"new": list(new), "ref": reference})


def test_a_worker_killed_in_the_middle_of_a_sweep_loses_nothing_and_the_next_run_sends_each_notice_once(
        prefect, world, workers, database_url):  # noqa: F811
    api, _, inbox, settings = world
    # Many proposals submitted on Monday 1 March (reviews due Monday 15th, first reminder
    # Thursday 11th, 08:00), more than one batch of the sweep's...
    many = api.create()["reference"]
    api.act("tha", many, "submit")
    # ...and one a day later, whose reminder falls on Friday 12th: the last the sweep takes.
    api.clock.now = bkk(2027, 3, 2)
    api._tokens.clear()
    last = api.create(title="The last one")["reference"]
    api.act("tha", last, "submit")
    api.settle()
    engine = make_sync_engine(database_url)
    copy_proposal(engine, many, deadlines.BATCH // 2)
    sweep_at = bkk(2027, 3, 12, 8)
    with engine.connect() as conn:
        due = conn.execute(sa.text("SELECT count(*) FROM tasks WHERE status = 'open' AND next_notice_at <= :at"),
                           {"at": sweep_at}).scalar()
        last_task = conn.execute(sa.text("SELECT t.* FROM tasks t JOIN proposals p ON p.id = t.item_id "
                                         "WHERE p.reference = :ref ORDER BY t.id LIMIT 1"), {"ref": last}).one()
    assert due == deadlines.BATCH + 4  # the first batch, then the rest
    task = Task(**last_task._mapping)
    (notice,) = due_notices(task, task.next_notice_at, sweep_at, load_policy(), TH)
    assert TH.today(notice.at) == TH.today(sweep_at)

    # A transaction of the test's holds the key of the last proposal's reminder: the sweep
    # commits its first batch, then waits in its second, in the middle. (No task_id: its
    # foreign key would lock the task's row, and the sweep would skip the task, not wait.)
    holder = engine.connect()
    held = holder.begin()
    holder.execute(sa.text("INSERT INTO deadline_notices (key, item_kind, item_id, task_id, kind, due_at, created_at) "
                           "VALUES (:key, 'proposal', :item, NULL, :kind, :at, :at)"),
                   {"key": deadlines.notice_key(task.id, notice), "item": task.item_id,
                    "kind": notice.kind, "at": notice.at})
    try:
        start_two(workers, sweep_at)
        first = schedule_run(prefect, "deadline-sweep")
        db = sa.make_url(database_url).database

        def stuck_after_the_first_batch():
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT (SELECT count(*) FROM deadline_notices) = :batch AND EXISTS (SELECT 1 FROM "
                    "pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock')"),
                    {"batch": deadlines.BATCH, "db": db}).scalar()
        wait_for("the sweep's first batch", stuck_after_the_first_batch, 90, list(workers.procs.values()))
        running = flow_run(prefect, first)
        assert running["state"]["type"] == "RUNNING"
        killed = workers.kill(running["labels"]["prefect.worker.name"])
        assert int(running["infrastructure_pid"]) in killed  # the flow run's own process went with it
    finally:
        held.rollback()
        holder.close()

    with engine.connect() as conn:
        committed = conn.execute(sa.text("SELECT (SELECT count(*) FROM deadline_notices), "
                                         "(SELECT count(*) FROM outbox_messages WHERE status = 'pending')")).one()
    assert tuple(committed) == (deadlines.BATCH, deadlines.BATCH)  # the first batch stands, the second is undone
    assert inbox.messages == []  # and none of it went out

    # The killed run's connection ends once PostgreSQL notices (at once here; a next tick of
    # the cron comes five minutes later): its row locks go with it.
    def released():
        with engine.connect() as conn:
            return not conn.execute(sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE a.datname = :db AND l.relation = 'tasks'::regclass AND a.pid <> pg_backend_pid())"),
                {"db": db}).scalar()
    wait_for("the killed sweep's connection to end", released, 30)

    alive = [p for p in workers.procs.values() if p.poll() is None]
    assert len(alive) == 1
    (after,) = wait_finished(prefect, [schedule_run(prefect, "deadline-sweep")], alive)
    assert after["state"]["type"] == "COMPLETED" and after["labels"]["prefect.worker.name"] != \
        running["labels"]["prefect.worker.name"]
    assert flow_run(prefect, first)["state"]["type"] == "RUNNING"  # Prefect still thinks so: nobody told it

    # Every due reminder, once: one email per task, each its own message.
    assert len(inbox.messages) == len(set(message_ids(inbox))) == due
    per = {who: len(inbox.to(ROSTER[who]["email"])) for who in ("cm_aus", "cm_idn")}
    assert per == {"cm_aus": due // 2, "cm_idn": due // 2} and sum(per.values()) == len(inbox.messages)
    seen = [(m["To"], re.search(r"RSO-[A-Z]-\S+", m["Subject"]).group()) for m in inbox.messages]
    assert len(seen) == len(set(seen))
    assert sum(last in m["Subject"] for m in inbox.messages) == 2
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), count(DISTINCT key) FROM deadline_notices")).one() == (due, due)
        assert conn.execute(sa.text("SELECT count(*) FROM outbox_messages WHERE status <> 'sent'")).scalar() == 0
    engine.dispose()
