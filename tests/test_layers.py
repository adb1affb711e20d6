"""The shape of the house holds as the code grows: the import-linter contracts in
pyproject.toml (layers, independence, no cycles) are kept, and the lifecycles a service serves
are the ones it names, whatever was imported first."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def test_every_import_runs_with_the_layers():
    r = subprocess.run([LINT, "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_a_wrong_import_breaks_the_build(tmp_path):
    """The contracts can fail: a copy of the code whose engine imports a lifecycle is refused."""
    for path in ("services", "rso", "workflows", "notifications", "states", "migrations"):
        shutil.copytree(ROOT / path, tmp_path / path, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    engine = tmp_path / "services" / "engine" / "workflow.py"
    engine.write_text(engine.read_text() + "\nimport services.proposals  # a lifecycle, from the engine\n")
    r = subprocess.run([LINT, "--no-cache"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode != 0 and "BROKEN" in r.stdout
    assert "services.engine.workflow -> services.proposals" in r.stdout


PAGES_FIRST = """
import rso.web.pages  # the pages module before anything that names the lifecycles
from fastapi.testclient import TestClient
from rso.app import create_app
from services.config.settings import Settings
app = create_app(Settings(_env_file=None, database_url="sqlite:///{db}", secret_key="k" * 32))
with TestClient(app) as client:
    for path in ("/proposals/new", "/secondments/new", "/api/v1/proposals", "/api/v1/secondments"):
        print(path, client.get(path, follow_redirects=False).status_code)
"""


def test_the_service_serves_the_lifecycles_it_names_whatever_is_imported_first(tmp_path):
    from migrations import upgrade
    upgrade(f"sqlite:///{tmp_path / 'x.db'}")

    def answers(script: str) -> dict[str, int]:
        r = subprocess.run([sys.executable, "-c", script.format(db=tmp_path / "x.db")], capture_output=True,
                           text=True, cwd=tmp_path, timeout=120)
        assert r.returncode == 0, r.stderr
        return {path: int(code) for path, code in (line.split() for line in r.stdout.splitlines())}

    pages_first = answers(PAGES_FIRST)
    assert pages_first == answers(PAGES_FIRST.replace("import rso.web.pages  #", "#"))
    # Every lifecycle's pages ask a visitor to sign in (not 404), and its API asks for a token.
    assert pages_first == {"/proposals/new": 303, "/secondments/new": 303, "/api/v1/proposals": 401,
                           "/api/v1/secondments": 401}
