"""Run py-spy on the server during the timed phase, and summarise its samples.

py-spy is an investigation tool, not a dependency of the project: `--profile` uses it when it
is on PATH or in the virtualenv (`.venv/bin/pip install py-spy`), and says so when it is not.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Where a sample's innermost frame runs, by file path; first match wins.
AREAS = [
    ("project: services/", ("services/",)),
    ("project: rso/", ("rso/",)),
    ("project: states/", ("states/",)),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("sqlmodel", ("sqlmodel/",)),
    ("asyncpg", ("asyncpg/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("fastapi", ("fastapi/",)),
    ("starlette", ("starlette/",)),
    ("uvicorn", ("uvicorn/", "httptools/")),
    ("transitions", ("transitions/",)),
    ("logging", ("logging/",)),
    ("json / orjson", ("json/", "orjson")),
    ("jwt / crypto", ("jwt/", "hmac.py", "hashlib")),
    ("asyncio / uvloop", ("asyncio/", "uvloop/")),
    ("typing / enum / dataclasses", ("typing.py", "enum.py", "dataclasses.py")),
]


PROJECT = ("(services/", "(rso/", "(states/")
# Frames every request runs under (start-up, middleware): left out of the inclusive list.
ROOTS = ("(rso/cli.py)", "(rso/app.py)", "<module> (")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Recorder:
    """py-spy record --subprocesses on a running server, stopped with SIGINT (it then writes)."""

    # --nonblocking: stopping the server for each sample (py-spy's default) halved its
    # throughput here and pushed p99 past a second; reading it while it runs costs ~10%.
    def __init__(self, pid: int, output: Path, rate: int = 200, nonblocking: bool = True):
        exe = py_spy()
        if exe is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (it is not a project dependency)")
        self.output = output
        self.log = output.with_suffix(".log")
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--nolineno",
             "--rate", str(rate), "--output", str(output), *(["--nonblocking"] if nonblocking else [])],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# The steps of one HTTP transition. A sample goes to the first function of this list that one of
# its frames names, so the order is a priority: the user lookup before the SELECTs it runs, a
# named step of `act` before `act` itself; failing that, to the package of its innermost frame. SQLAlchemy's async layer runs each session
# call in a greenlet, whose samples py-spy shows without the calling frames: those are told
# apart by the session method at their root (Session.get, Session.execute, Session.commit...).
PHASES = [
    ("user_id_from_token (rso/security.py)", "auth: JWT decode"),
    ("get_active_user (services/users.py)", "auth: load the user (own transaction)"),
    ("Session.get (sqlalchemy/orm/session.py)", "auth: load the user (own transaction)"),
    ("_view (services/proposals.py)", "act: build the ProposalPublic"),
    ("UnitOfWork.__init__ (services/uow.py)", "act: open the session"),
    ("_load (services/proposals.py)", "act: SELECTs (proposal FOR UPDATE, votes, tasks)"),
    ("_load_many (services/proposals.py)", "act: SELECTs (proposal FOR UPDATE, votes, tasks)"),
    ("_assignee_names (services/proposals.py)", "act: SELECTs (proposal FOR UPDATE, votes, tasks)"),
    ("UnitOfWork.commit (services/uow.py)", "act: flush + COMMIT"),
    ("Session.commit (sqlalchemy/orm/session.py)", "act: flush + COMMIT"),
    ("UnitOfWork.__aexit__ (services/uow.py)", "act: close the session"),
    ("Session.close (sqlalchemy/orm/session.py)", "act: close the session"),
    ("Session.execute (sqlalchemy/orm/session.py)", "act: SELECTs (proposal FOR UPDATE, votes, tasks)"),
    ("act (services/proposals.py)", "act: the rest (state machine, effects, ORM objects)"),
    ("serialize_response (fastapi/routing.py)", "FastAPI: response_model validation + JSON"),
    ("json_body (rso/api/deps.py)", "FastAPI: read the JSON body"),
    ("run_in_threadpool (starlette/concurrency.py)", "FastAPI: sync dependency in the thread pool"),
    ("solve_dependencies (fastapi/dependencies/utils.py)", "FastAPI: dependency resolution"),
    ("(logging/", "uvicorn: access log"),
    ("(uvicorn/protocols/http/", "uvicorn: HTTP protocol"),
    ("(starlette/", "Starlette/FastAPI: routing, middleware, responses"),
    ("(fastapi/", "Starlette/FastAPI: routing, middleware, responses"),
    ("(rso/app.py)", "Starlette/FastAPI: routing, middleware, responses"),
    ("(asyncpg/", "asyncpg, outside a session call"),
    ("(sqlalchemy/", "SQLAlchemy, outside a session call"),
    ("(asyncio/", "event loop"),
    ("(uvloop/", "event loop"),
]


def _phase(code: list[str]) -> str:
    # A named function: the first of the list found anywhere in the stack. Otherwise, a
    # package ("(pkg/"): that of the innermost frame that has one of them.
    for needle, label in PHASES:
        if not needle.startswith("(") and any(needle in frame for frame in code):
            return label
    for frame in reversed(code):
        for needle, label in PHASES:
            if needle.startswith("(") and needle in frame:
                return label
    return "other"


def _area(frame: str) -> str:
    path = frame[frame.rfind("(") + 1:].rstrip(")") if "(" in frame else frame
    for name, needles in AREAS:
        if any(n in path for n in needles):
            return name
    return "other: " + path.rsplit("/", 1)[-1][:40]


# Innermost frames that are a thread waiting, not working: py-spy's idle detection does not
# always tell them apart here (a VM), and the thread pool's idle workers would swamp the rest.
WAITS = ("Condition.wait (threading.py)", "EpollSelector.select (selectors.py)", "Event.wait (threading.py)",
         "Thread._wait_for_tstate_lock (threading.py)")


def load(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f]
        if frames and frames[-1] in WAITS:
            continue
        samples.append((_one_process_frame(frames), int(count)))
    return samples


def _one_process_frame(frames: list[str]) -> list[str]:
    """--subprocesses starts each stack with the processes (`process 123:"command line"`,
    parent then child), and a command line with a `;` in it (multiprocessing's spawn) is cut
    in pieces: keep one frame, the innermost process, then the code."""
    process, i = None, 0
    while i < len(frames) and frames[i].startswith("process "):
        process = frames[i].split(":", 1)[0]
        quoted = frames[i].count('"')
        i += 1
        while quoted % 2 and i < len(frames):  # the rest of a command line cut at a ';'
            quoted += frames[i].count('"')
            i += 1
    return ([process] if process else []) + frames[i:]


def summary(path: Path, top: int = 20) -> str:
    samples = load(path)
    total = sum(c for _, c in samples)
    if not total:
        return f"no samples in {path} (see {path.with_suffix('.log')})"
    by_process: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    by_phase: Counter[str] = Counter()
    for frames, count in samples:
        process = frames[0] if frames[0].startswith("process ") else "?"
        code = frames[1:] if process != "?" else frames
        by_process[process.split(":")[0]] += count
        if not code:
            continue
        by_area[_area(code[-1])] += count
        by_phase[_phase(code)] += count
        self_time[code[-1]] += count
        for f in set(code):
            inclusive[f] += count

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    out = [f"py-spy: {total} samples (Python stacks; threads waiting left out) from {path}"]
    out.append("  by process: " + ", ".join(f"{p} {pct(n)}" for p, n in by_process.most_common()))
    out.append("  by step of the request (see PHASES in bench/profiling.py):")
    out += [f"    {pct(n)}  {a}" for a, n in by_phase.most_common()]
    out.append("  where the time is spent (innermost frame, by package):")
    out += [f"    {pct(n)}  {a}" for a, n in by_area.most_common(16)]
    out.append(f"  inclusive, the project's functions, top {top} (a function and what it calls; what SQLAlchemy "
               "runs in a greenlet is not under its caller, see the steps above):")
    shown = 0
    for f, n in inclusive.most_common():
        if not any(p in f for p in PROJECT) or any(r in f for r in ROOTS):
            continue
        out.append(f"    {pct(n)}  {f}")
        shown += 1
        if shown >= top:
            break
    out.append("  self, top 15 (innermost frame):")
    out += [f"    {pct(n)}  {f}" for f, n in self_time.most_common(15)]
    return "\n".join(out)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20))
