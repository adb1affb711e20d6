"""Documents: a big file up and down through `rso serve`, against a plain file copy.

    .venv/bin/python -m bench.documents [--mb 50] [--limit-mb 64] [--runs 3] [--database-url URL]

Starts `rso serve` (one worker, RSO_MAX_UPLOAD_MB=--limit-mb, its own storage folder), signs
in the THA official, drafts a proposal, then `--runs` times: uploads a fresh `--mb` MB file (a
PDF's header, then random bytes) as a concept note, streamed from disk over one HTTP/1.1
connection, and downloads it again. Meanwhile a thread reads the server's RSS (VmRSS) every
5 ms. Baseline, in the same run: the same file copied on the same disk by `shutil.copyfile`
(and flushed), and read back.

Prints the throughput of each side (MB/s, median of the runs) and their ratio, and the server's
RSS before, its peak during the uploads and downloads, and its growth: the upload is streamed to
disk, so the growth must stay far below the file's size (target: under a quarter of it).
`--check` exits 2 when it does not. Needs PostgreSQL on 127.0.0.1:5432 (trust auth); the
database (default `rso_bench_documents`, a name with `bench`) is dropped and recreated.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.transitions import (PASSWORD, PROPOSAL, ROOT, USERS, create_users, fail, free_port, git_commit,
                               recreate_database)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rso_bench_documents"
CHUNK = 1024 * 1024


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=int, default=50, help="the file's size in MB (default 50)")
    p.add_argument("--limit-mb", type=int, default=64, help="RSO_MAX_UPLOAD_MB for the run (default 64)")
    p.add_argument("--runs", type=int, default=3, help="uploads and downloads (default 3)")
    p.add_argument("--database-url", default=os.environ.get("RSO_BENCH_DOCUMENTS_URL", DEFAULT_URL))
    p.add_argument("--check", action="store_true", help="exit 2 when the RSS growth target is missed")
    return p.parse_args(argv)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssWatch:
    """The peak VmRSS of a process while the block runs, read every 5 ms by a thread."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self.peak = rss_kb(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make_file(path: Path, mb: int) -> str:
    """A PDF's header (so the type is accepted) and `mb` MB of random bytes; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        f.write(head)
        digest.update(head)
        for _ in range(mb):
            block = os.urandom(CHUNK)
            f.write(block)
            digest.update(block)
    return digest.hexdigest()


def plain_copy(src: Path, dst: Path) -> tuple[float, float]:
    """(seconds to copy and flush, seconds to read back) on the same disk."""
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    with dst.open("rb+") as f:
        os.fsync(f.fileno())
    copied = time.perf_counter() - t0
    t0 = time.perf_counter()
    with dst.open("rb") as f:
        while f.read(CHUNK):
            pass
    read = time.perf_counter() - t0
    dst.unlink()
    return copied, read


def upload(port: int, token: str, ref: str, path: Path) -> tuple[int, dict]:
    boundary = secrets.token_hex(16)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nconcept_note\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                yield block
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("POST", f"/api/v1/proposals/{ref}/documents", body=body(), headers={
            "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail))})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered before the body ended (a refusal) and closed: read its answer
    try:
        r = conn.getresponse()
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return 0, {"detail": "the connection was closed before an answer could be read"}
    answer = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, answer


def download(port: int, token: str, ref: str, document_id: int) -> tuple[int, str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", f"/api/v1/proposals/{ref}/documents/{document_id}", headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    digest, size = hashlib.sha256(), 0
    while block := r.read(CHUNK):
        digest.update(block)
        size += len(block)
    conn.close()
    return r.status, digest.hexdigest(), size


def api(port: int, method: str, path: str, token: str | None = None, body: dict | None = None, form: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form is not None:
        data, headers["Content-Type"] = urllib.parse.urlencode(form), "application/x-www-form-urlencoded"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body), "application/json"
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    answer = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, answer


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rso-bench-documents-"))
    recreate_database(args.database_url)
    from migrations import upgrade
    upgrade(args.database_url)
    asyncio.run(create_users(args.database_url))
    port = free_port()
    log = work / "server.log"
    env = {**os.environ, "RSO_DATABASE_URL": args.database_url, "RSO_SECRET_KEY": secrets.token_urlsafe(48),
           "RSO_MAX_UPLOAD_MB": str(args.limit_mb), "RSO_STORAGE_DIR": str(work / "storage"),
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_ENABLED": "false"}
    rso = Path(sys.executable).with_name("rso")
    server = subprocess.Popen([str(rso), "serve", "--port", str(port), "--workers", "1"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if api(port, "GET", "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                fail(f"rso serve did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        status, answer = api(port, "POST", "/api/v1/auth/token", form={"username": USERS["owner"][0], "password": PASSWORD})
        token = answer["access_token"]
        status, item = api(port, "POST", "/api/v1/proposals", token, body=PROPOSAL)
        if status != 201:
            fail(f"could not draft a proposal: {status} {item}")
        ref = item["reference"]
        # warm-up: a small upload and download, so the first measured run pays no import or cache
        small = work / "warm.pdf"
        make_file(small, 1)
        status, doc = upload(port, token, ref, small)
        if status != 201:
            fail(f"warm-up upload: {status} {doc}")
        download(port, token, ref, doc["id"])
        before = rss_kb(server.pid)

        ups, downs, copies, reads, up_peak, down_peak = [], [], [], [], before, before
        for i in range(args.runs):
            path = work / f"big-{i}.pdf"
            sha = make_file(path, args.mb)
            size = path.stat().st_size
            copied, read = plain_copy(path, work / "copy.bin")
            copies.append(size / copied)
            reads.append(size / read)
            with RssWatch(server.pid) as w:
                t0 = time.perf_counter()
                status, doc = upload(port, token, ref, path)
                ups.append(size / (time.perf_counter() - t0))
            up_peak = max(up_peak, w.peak)
            if status != 201 or doc.get("sha256") != sha or doc.get("size") != size:
                fail(f"upload {i}: {status} {doc}")
            with RssWatch(server.pid) as w:
                t0 = time.perf_counter()
                status, got_sha, got_size = download(port, token, ref, doc["id"])
                downs.append(size / (time.perf_counter() - t0))
            down_peak = max(down_peak, w.peak)
            if status != 200 or got_sha != sha or got_size != size:
                fail(f"download {i}: {status}, {got_size} bytes, sha256 {'matches' if got_sha == sha else 'differs'}")
            path.unlink()
        # over the limit: refused (413, or the connection closed on a client still sending), and nothing kept
        over = work / "over.pdf"
        make_file(over, args.limit_mb + 1)
        status, answer = upload(port, token, ref, over)
        if status not in (413, 0):
            fail(f"a file over the limit got {status} {answer}")
        refused = "413" if status == 413 else "refused (connection closed while sending)"
        leftovers = list((work / "storage" / "tmp").glob("*"))
        if leftovers:
            fail(f"the refused upload left {leftovers}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    mb = 1024 * 1024
    med = lambda xs: statistics.median(xs) / mb  # noqa: E731
    growth = max(up_peak, down_peak) - before
    target = args.mb * 1024 / 4
    ok = growth <= target
    print(f"\nRSO Workflow: documents benchmark (commit {git_commit()}); {args.runs} runs of a {args.mb} MB file, "
          f"limit {args.limit_mb} MB, rso serve with 1 worker, {os.cpu_count()} CPUs")
    print(f"  {'':28}{'MB/s':>9}{'baseline MB/s':>15}{'ratio':>8}")
    print(f"  {'upload (POST, multipart)':28}{med(ups):9.0f}{med(copies):15.0f}{med(ups) / med(copies):8.2f}"
          "   baseline: shutil.copyfile + fsync on the same disk")
    print(f"  {'download (GET)':28}{med(downs):9.0f}{med(reads):15.0f}{med(downs) / med(reads):8.2f}"
          "   baseline: reading the file back")
    print(f"  server RSS: {before / 1024:.0f} MB before, peak {up_peak / 1024:.0f} MB uploading, "
          f"{down_peak / 1024:.0f} MB downloading: growth {growth / 1024:.1f} MB for a {args.mb} MB file "
          f"(target <= {target / 1024:.1f} MB) {'PASS' if ok else 'MISS'}")
    print(f"  a {args.limit_mb + 1} MB file: {refused}, nothing kept")
    shutil.rmtree(work, ignore_errors=True)
    return 2 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
