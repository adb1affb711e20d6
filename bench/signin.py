"""Does checking passwords stall the service? `GET /api/v1/health` latency at rest, and while
five clients sign in over and over (each check a real argon2 verify, the default parameters),
against one `rso serve` on a SQLite file.

    .venv/bin/python -m bench.signin                      # this checkout
    .venv/bin/python -m bench.signin --rso /tmp/old/.venv/bin/rso   # another checkout's service

The service is set up through its own command line (`rso db upgrade`, `rso users add`), so
the same bench measures any version of it. Sign-ins use the right passwords, so that every
one costs a check (wrong ones are locked out after five, at no cost).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.loadgen import Connection

PASSWORD = "bench-sign-in-passphrase"
STATES = ["THA", "PHL", "VNM", "LKA", "NZL", "IDN", "MYS", "KHM"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(rso: str, *args: str, env: dict) -> None:
    r = subprocess.run([rso, *args], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode:
        sys.exit(f"rso {' '.join(args)}: {r.stderr.strip()}")


async def health_latencies(port: int, n: int) -> list[float]:
    conn = Connection("127.0.0.1", port)
    await conn.open()
    found = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            status, _ = await conn.request("GET", "/api/v1/health")
            found.append((time.perf_counter() - t0) * 1000)
            assert status == 200, status
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    return found


async def sign_in_forever(port: int, email: str, stop: asyncio.Event, done: list[int]) -> None:
    conn = Connection("127.0.0.1", port)
    await conn.open()
    body = f"username={email.replace('@', '%40')}&password={PASSWORD}".encode()
    headers = b"Content-Type: application/x-www-form-urlencoded\r\n"
    try:
        while not stop.is_set():
            status, _ = await conn.request("POST", "/api/v1/auth/token", headers, body)
            assert status == 200, status
            done.append(1)
    finally:
        await conn.close()


async def measure(port: int, clients: int, n: int) -> tuple[list[float], list[float], float]:
    idle = await health_latencies(port, n)
    stop, done = asyncio.Event(), []
    signers = [asyncio.create_task(sign_in_forever(port, f"official.{STATES[i].lower()}@bench.example", stop, done))
               for i in range(clients)]
    await asyncio.sleep(1.0)  # the sign-ins under way
    t0, before = time.perf_counter(), len(done)
    busy = await health_latencies(port, n)
    rate = (len(done) - before) / (time.perf_counter() - t0)
    stop.set()
    await asyncio.gather(*signers)
    return idle, busy, rate


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"  {name:<34} p50 {statistics.median(ms):8.1f} ms   p90 {q[89]:8.1f} ms   max {max(ms):8.1f} ms"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.signin", description=__doc__.split("\n\n")[0])
    p.add_argument("--rso", default=str(Path(sys.executable).with_name("rso")), help="the rso command to measure")
    p.add_argument("--clients", type=int, default=5, help="clients signing in at once (default 5)")
    p.add_argument("--n", type=int, default=200, help="/health requests in each phase (default 200)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rso-bench-signin-") as tmp:
        env = {**os.environ, "RSO_DATABASE_URL": f"sqlite:///{tmp}/rso.db", "RSO_SECRET_KEY": "b" * 48,
               "RSO_DELIVER_IN_BACKGROUND": "false", "DO_NOT_TRACK": "1"}
        run(args.rso, "db", "upgrade", env=env)
        for state in STATES[:args.clients]:
            run(args.rso, "users", "add", "--email", f"official.{state.lower()}@bench.example", "--password", PASSWORD,
                "--role", "member_state", "--member-state", state, env=env)
        port = free_port()
        server = subprocess.Popen([args.rso, "serve", "--port", str(port)], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("rso serve did not start")
                    time.sleep(0.2)
            idle, busy, rate = asyncio.run(measure(port, args.clients, args.n))
        finally:
            server.terminate()
            server.wait(20)
    print(f"RSO Workflow: /health while {args.clients} clients sign in ({args.rso})")
    print(summary("GET /health at rest", idle))
    print(summary(f"GET /health, {args.clients} clients signing in", busy))
    print(f"  sign-ins answered meanwhile: {rate:.1f}/s")
    print(f"  ratio of the p50s (busy / at rest): {statistics.median(busy) / statistics.median(idle):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
