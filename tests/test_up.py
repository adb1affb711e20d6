"""`rso up` as a new user runs it: the API with demo data, a local Prefect server whose
scheduler plans the served flows, and a Ctrl-C that stops all of it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: dict | None = None, form: bytes | None = None):
    headers = {"content-type": "application/json"} if data is not None else {}
    body = json.dumps(data).encode() if data is not None else form
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=5) as r:
        return json.loads(r.read())


def wait_for(what, check, seconds: float, proc):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"rso up ended (exit {proc.returncode}) before {what}"
        try:
            if got := check():
                return got
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {seconds} s")


def processes_mentioning(text: str) -> list[str]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


def test_rso_up_runs_everything_and_ctrl_c_stops_it_all(tmp_path):
    api_port, prefect_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RSO_", "PREFECT_"))}
    env["RSO_DATABASE_URL"] = f"sqlite:///{tmp_path}/rso.db"
    rso = str(Path(sys.executable).with_name("rso"))
    proc = subprocess.Popen([rso, "up", "--demo", "--port", str(api_port), "--prefect-port", str(prefect_port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base, prefect = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prefect_port}/api"
        wait_for("the API", lambda: http(f"{base}/api/v1/health")["status"] == "ok", 60, proc)
        token = http(f"{base}/api/v1/auth/token",
                     form=b"username=co-manager.aus%40rso.example&password=rso-demo-2026")["access_token"]
        req = urllib.request.Request(f"{base}/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read()), "the demo co-manager has open tasks"

        names = wait_for("the served deployments", lambda: {d["name"] for d in http(
            f"{prefect}/deployments/filter", {})} == {"rso"} and len(http(f"{prefect}/deployments/filter", {})) == 5,
            120, proc)
        assert names
        flows = {f["id"]: f["name"] for f in http(f"{prefect}/flows/filter", {})}
        assert {"deadline-sweep", "outbox-delivery", "daily-digest", "monthly-report",
                "half-year-report"} <= set(flows.values())

        def planned():  # the scheduler has put runs of every flow on the calendar
            runs = http(f"{prefect}/flow_runs/filter", {"limit": 200})
            return {flows.get(r["flow_id"]) for r in runs if r["state_type"] == "SCHEDULED"} >= {
                "deadline-sweep", "outbox-delivery", "daily-digest", "monthly-report", "half-year-report"}
        wait_for("scheduled runs of the five flows", planned, 60, proc)
        assert (tmp_path / "rso.db").exists() and (tmp_path / ".prefect" / "prefect.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = out.decode()
    assert proc.returncode == 0, text
    assert "stopping: flows, API, Prefect server" in text
    assert processes_mentioning(f"--port {api_port}") == [] and processes_mentioning(f"--port {prefect_port}") == []
    for port in (api_port, prefect_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
