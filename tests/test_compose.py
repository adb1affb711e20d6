"""docker-compose.yml runs what the project really has: every service's command is one of
its commands with options it accepts (down to the `prefect worker start` that `rso worker`
becomes), the settings are ones it reads, and the order of start-up (database healthy,
migrations and deployments before the workers) holds."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rso.cli import parser
from services.config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def commands(service: dict) -> list[list[str]]:
    """The command lines a service runs: `sh -c "a && exec b"` is two."""
    cmd = service.get("command")
    if cmd is None:
        return []
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(part.strip().removeprefix("exec ")) for part in argv[2].split("&&")]
    return [argv]


def test_the_six_services_are_there():
    assert set(SERVICES) == {"postgres", "prefect-server", "api", "deploy", "worker", "mailpit"}


def prefect_help(*words: str) -> str:
    """`prefect WORDS --help`, as installed."""
    prefect = str(Path(sys.executable).with_name("prefect"))
    r = subprocess.run([prefect, *words, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={**os.environ, "DO_NOT_TRACK": "1"})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("command")])
def test_every_command_is_one_the_project_has(name):
    for argv in commands(SERVICES[name]):
        if argv[0] == "rso":
            parser().parse_args(argv[1:])  # SystemExit(2) on an unknown command or option
            assert "rso" in (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("[")[0]
        elif argv[:3] == ["prefect", "server", "start"]:  # Prefect's own server, as installed
            help_text = prefect_help("server", "start")
            for option in (a for a in argv[1:] if a.startswith("--")):
                assert option in help_text, f"{name}: prefect server start does not take {option}"
        else:
            pytest.fail(f"{name}: '{argv[0]}' is not a command of this project")


def test_the_api_applies_the_migrations_before_it_serves():
    first, *rest = commands(SERVICES["api"])
    assert first == ["rso", "db", "upgrade"] and rest[0][:2] == ["rso", "serve"]


def test_start_up_waits_for_what_each_service_needs():
    pg = SERVICES["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(pg)
    for name in ("prefect-server", "api"):
        assert SERVICES[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # The flows are deployed once the Prefect server answers; workers start once they are
    # deployed and the migrations have run (the API's health says so).
    assert SERVICES["deploy"]["depends_on"] == {"prefect-server": {"condition": "service_healthy"}}
    assert SERVICES["worker"]["depends_on"] == {"deploy": {"condition": "service_completed_successfully"},
                                                "api": {"condition": "service_healthy"}}
    assert SERVICES["deploy"]["restart"] == "no"  # a one-off: restarted, it would never complete
    for name, s in SERVICES.items():
        for dep in s.get("depends_on", {}):
            assert dep in SERVICES
            assert s["depends_on"][dep]["condition"] in ("service_healthy", "service_completed_successfully",
                                                         "service_started")
            if s["depends_on"][dep]["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep}, which has no health check"
        test = s.get("healthcheck", {}).get("test", [])
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")


def test_prefect_keeps_its_state_in_that_postgres():
    url = SERVICES["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/prefect" in url
    init = ROOT / "docker" / "initdb"
    assert "CREATE DATABASE prefect" in "".join(p.read_text() for p in init.glob("*.sql"))
    assert "./docker/initdb:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]


def test_settings_are_ones_the_service_reads_and_it_emails_through_mailpit():
    fields = {f"RSO_{name.upper()}" for name in Settings.model_fields}
    for name in ("api", "deploy", "worker"):
        env = SERVICES[name]["environment"]
        unknown = {k for k in env if k.startswith("RSO_")} - fields
        assert not unknown, f"{name}: {unknown} are not settings"
        assert env["RSO_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/rso" in env["RSO_DATABASE_URL"]
        assert env["RSO_SMTP_HOST"] == "${RSO_SMTP_HOST:-mailpit}"
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_the_image_builds_from_what_the_repository_holds():
    for name in ("prefect-server", "api", "deploy", "worker"):
        assert SERVICES[name]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if m := re.match(r"COPY (.+) \S+$", line):
            for src in m.group(1).split():
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repository"


def test_several_workers_serve_the_pool_the_flows_are_deployed_to():
    from workflows.serve import POOL_TYPE, worker_argv
    (deploy,), (worker,) = commands(SERVICES["deploy"]), commands(SERVICES["worker"])
    deploy_args, worker_args = parser().parse_args(deploy[1:]), parser().parse_args(worker[1:])
    assert (deploy_args.command, worker_args.command) == ("deploy", "worker")
    assert deploy_args.pool == worker_args.pool  # the same work pool
    replicas = SERVICES["worker"]["deploy"]["replicas"]
    assert isinstance(replicas, int) and replicas >= 2
    # What `rso worker` becomes is a `prefect worker start` that Prefect, as installed, takes:
    # every option, and a worker type it knows.
    argv = worker_argv(worker_args.pool, name=worker_args.name, limit=worker_args.limit)
    assert Path(argv[0]).name == "prefect" and argv[1:3] == ["worker", "start"]
    help_text = prefect_help("worker", "start")
    for option in (a for a in argv[3:] if a.startswith("--")):
        assert option in help_text, f"rso worker runs prefect worker start {option}, which it does not take"
    from prefect.workers.base import BaseWorker
    assert POOL_TYPE in BaseWorker.get_all_available_worker_types()
    assert argv[argv.index("--type") + 1] == POOL_TYPE
    # Workers stop within their grace period, on the signal Prefect's worker handles.
    assert SERVICES["worker"]["stop_signal"] == "SIGTERM"
