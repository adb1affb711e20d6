"""`rso up`: everything on one machine. The API, a local Prefect server with its UI, and the
served flows, each a child process of this one; emails are captured locally unless
RSO_SMTP_HOST is set. Ctrl-C stops them in order: the flows first (so they do not spend a
minute retrying a server that is gone), then the API, then the Prefect server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.config.settings import Settings
from services.infra.db import is_sqlite, make_url

STOP_WAIT = 20  # seconds a child has to stop before it is killed


def prefect_home(settings: Settings) -> Path:
    """Prefect's own files (its SQLite database, logs) beside the service's SQLite file."""
    if is_sqlite(settings.database_url) and (db := make_url(settings.database_url).database) not in (None, ":memory:"):
        return Path(db).resolve().parent / ".prefect"
    return Path(".prefect").resolve()


def prefect_env(settings: Settings, port: int) -> dict[str, str]:
    home = prefect_home(settings)
    return {"PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
            "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false", "PREFECT_API_REQUEST_TIMEOUT": "10",
            "PREFECT_CLIENT_MAX_RETRIES": "2", "PREFECT_UI_ENABLED": "true", **QUIET_PREFECT}


# A local Prefect server at rest: the services `rso up` has no use for are off (automations,
# pauses, work pools: the flows are served by a runner), and the loops of the others run every
# so many seconds rather than every five. Idle, the server then uses ~2% of a core instead of
# ~4.5% (the floor is its task queue's 250 ms poll, fixed in Prefect 3.9.1).
QUIET_PREFECT = {
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "10",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "10",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "10",
}


def _bin(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else name


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class _Stop(Exception):
    pass


def _on_signal(signum, frame):
    raise _Stop()


def run(settings: Settings, *, host: str, port: int, prefect_port: int) -> int:
    env = {**os.environ, **prefect_env(settings, prefect_port)}
    home = Path(env["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    children: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, argv: list[str], log: Path | None = None) -> None:
        out = open(log, "ab") if log else None  # noqa: SIM115 - the child owns it until it stops
        # A session of its own: the terminal's Ctrl-C reaches only this process, which stops
        # the children in order.
        children.append((name, subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                                 start_new_session=True)))

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)  # even when started by a shell that ignores it (`cmd &`)
    code = 0
    try:
        start("api", [_bin("rso"), "serve", "--host", host, "--port", str(port)])
        start("prefect-server", [_bin("prefect"), "server", "start", "--host", "127.0.0.1",
                                 "--port", str(prefect_port)],
              home / "server.log")
        deadline = time.monotonic() + 120
        while not _healthy(f"http://127.0.0.1:{prefect_port}/api/health"):
            _check(children)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start within 2 minutes: see {home / 'server.log'}")
            time.sleep(0.5)
        start("flows", [_bin("rso"), "flows"], home / "flows.log")
        print(f"RSO Workflow on http://{host}:{port} (API docs at /docs)\n"
              f"Prefect UI on http://127.0.0.1:{prefect_port} (flows: deadline-sweep every 5 minutes, outbox-delivery "
              f"every minute, daily-digest at 08:00; logs in {home})\n"
              + ("Emails are captured locally (an admin reads them at /api/v1/admin/emails)\n"
                 if not settings.smtp_host else f"Emails go to {settings.smtp_host}:{settings.smtp_port}\n")
              + "Ctrl-C stops it all", file=sys.stderr, flush=True)
        while True:
            _check(children)
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        print("stopping: flows, API, Prefect server…", file=sys.stderr, flush=True)
    except _ChildDied as exc:
        print(f"rso: {exc}; stopping the rest", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name in ("flows", "api", "prefect-server"):
            for n, proc in children:
                if n == name:
                    _stop(proc)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return code


class _ChildDied(Exception):
    pass


def _check(children) -> None:
    for name, proc in children:
        if proc.poll() is not None:
            raise _ChildDied(f"the {name} process ended (exit {proc.returncode})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
