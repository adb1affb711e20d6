"""How the scheduled flows run: served from one process (`rso flows`, which `rso up` starts),
or deployed to a Prefect work pool (`rso deploy`) that any number of workers poll
(`rso worker`, a wrapper of `prefect worker start`). Both read the one list below: adding a
scheduled flow is one line there."""
from __future__ import annotations

import os
import signal
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

from prefect import Flow, serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from workflows.flows import delivery_flow, digest_flow, half_year_report_flow, monthly_report_flow, sweep_flow

DEPLOYMENT = "rso"  # every flow's deployment has this name: `deadline-sweep/rso`, …
POOL_TYPE = "process"  # a worker runs each flow run as a child process, from the installed package


class Scheduled(NamedTuple):
    flow: Flow
    cron: str
    description: str


SCHEDULED = [
    # Reminders and escalations fall at 08:00 in the RSO's time zone; sweeping every five
    # minutes keeps them within minutes of it and takes the timed steps soon after they fall due.
    Scheduled(sweep_flow, "*/5 * * * *", "Reminders, escalations and timed steps, every five minutes."),
    # Retries, and anything the service's own deliverer left.
    Scheduled(delivery_flow, "* * * * *", "Deliver the outbox, every minute."),
    Scheduled(digest_flow, "0 8 * * *", "The co-managers' daily digest, at 08:00."),
    Scheduled(monthly_report_flow, "0 7 1 * *", "Last month's report (PDF) to the co-managers, on the 1st at 07:00."),
    Scheduled(half_year_report_flow, "0 7 1 1,7 *",
              "The six months' report (PDF) to the co-managers and co-chairs, on 1 January and 1 July at 07:00."),
]


def deployments(timezone: str = "Asia/Bangkok", work_pool: str | None = None) -> list[RunnerDeployment]:
    # By module path, so a run finds its flow wherever the package is installed: in the serving
    # process, or in a worker on another machine with the same package.
    common = dict(name=DEPLOYMENT, entrypoint_type=EntrypointType.MODULE_PATH, work_pool_name=work_pool)
    return [s.flow.to_deployment(schedules=[Cron(s.cron, timezone=timezone)], description=s.description, **common)
            for s in SCHEDULED]


def main(timezone: str = "Asia/Bangkok") -> None:
    """Serve the scheduled flows from this process until SIGTERM or Ctrl-C."""
    serve(*deployments(timezone), print_starting_message=True)


def api_url() -> str:
    """The Prefect server's API, from PREFECT_API_URL (or the Prefect profile). Without one,
    Prefect would start a temporary server of its own, and deployments registered there, or a
    worker polling it, would serve nobody."""
    from prefect.settings import PREFECT_API_URL
    if not (url := PREFECT_API_URL.value()):
        raise RuntimeError("set PREFECT_API_URL to the Prefect server's API (e.g. http://127.0.0.1:4200/api)")
    return url


def deploy(pool: str, timezone: str = "Asia/Bangkok") -> list[str]:
    """Register the scheduled flows as deployments on the work pool `pool` (created, of type
    process, if it is not there), at the Prefect server of PREFECT_API_URL. Running it again
    updates them in place; the server's scheduler then plans their runs, and whichever worker
    of the pool takes a run first is the only one that runs it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    api_url()
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type=POOL_TYPE))
            except ObjectAlreadyExists:
                pass  # another deployer got there first
    names = []
    for d in deployments(timezone, work_pool=pool):
        # No path: with one (Prefect takes the deployer's working directory), a worker copies
        # that directory into each run's workspace, a checkout with its .venv included. The
        # flows are imported by module path from the installed package; nothing needs copying.
        d._path = None
        d.apply()
        names.append(f"{d.flow_name}/{d.name}")
    return names


def worker_argv(pool: str, *, name: str | None = None, limit: int | None = None) -> list[str]:
    """`prefect worker start` for a worker of `pool`, as installed beside this Python."""
    prefect = Path(sys.executable).with_name("prefect")
    argv = [str(prefect) if prefect.exists() else shutil.which("prefect") or "prefect",
            "worker", "start", "--pool", pool, "--type", POOL_TYPE, "--install-policy", "never"]
    if name:
        argv += ["--name", name]
    if limit:
        argv += ["--limit", str(limit)]
    return argv


def worker(pool: str, *, name: str | None = None, limit: int | None = None) -> None:
    """Become a worker of `pool` (this process is replaced: SIGTERM reaches Prefect's worker)."""
    # No telemetry off the machine, wherever Prefect runs (unless the environment says otherwise).
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's worker stops on SIGTERM by sending itself SIGINT: a worker started with SIGINT
    # ignored (`rso worker &` from a script) would never stop. Exec keeps an ignored signal ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    api_url()
    argv = worker_argv(pool, name=name, limit=limit)
    os.execv(argv[0], argv)
