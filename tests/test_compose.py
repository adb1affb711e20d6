"""docker-compose.yml runs what the project really has: every service's command is one of
its commands with options it accepts, the settings are ones it reads, and the order of
start-up (database healthy, migrations before the flows) holds."""
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


def test_the_five_services_are_there():
    assert set(SERVICES) == {"postgres", "prefect-server", "api", "flows", "mailpit"}


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("command")])
def test_every_command_is_one_the_project_has(name):
    for argv in commands(SERVICES[name]):
        if argv[0] == "rso":
            parser().parse_args(argv[1:])  # SystemExit(2) on an unknown command or option
            assert "rso" in (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("[")[0]
        elif argv[:3] == ["prefect", "server", "start"]:  # Prefect's own server, as installed
            prefect = str(Path(sys.executable).with_name("prefect"))
            words = [a for a in argv[1:] if not a.startswith("--") and a not in ("0.0.0.0", "4200")]
            help_text = subprocess.run([prefect, *words, "--help"], capture_output=True, text=True, timeout=60,
                                       cwd=ROOT, env={**os.environ, "DO_NOT_TRACK": "1"})
            assert help_text.returncode == 0, help_text.stderr
            for option in (a for a in argv[1:] if a.startswith("--")):
                assert option in help_text.stdout, f"{name}: prefect server start does not take {option}"
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
    assert SERVICES["flows"]["depends_on"] == {"prefect-server": {"condition": "service_healthy"},
                                               "api": {"condition": "service_healthy"}}
    for name, s in SERVICES.items():
        for dep in s.get("depends_on", {}):
            assert dep in SERVICES
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
    for name in ("api", "flows"):
        env = SERVICES[name]["environment"]
        unknown = {k for k in env if k.startswith("RSO_")} - fields
        assert not unknown, f"{name}: {unknown} are not settings"
        assert env["RSO_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/rso" in env["RSO_DATABASE_URL"]
        assert env["RSO_SMTP_HOST"] == "${RSO_SMTP_HOST:-mailpit}"
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_the_image_builds_from_what_the_repository_holds():
    for name in ("prefect-server", "api", "flows"):
        assert SERVICES[name]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if m := re.match(r"COPY (.+) \S+$", line):
            for src in m.group(1).split():
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repository"
