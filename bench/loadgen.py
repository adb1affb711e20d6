"""A cheap HTTP load generator for the benchmarks, run in its own process.

A minimal HTTP/1.1 client over asyncio streams with keep-alive connections: it costs a few tens
of microseconds of CPU per request, so on a 2-core machine it leaves the server and PostgreSQL
nearly all of the CPU (httpx costs several times more per request). Standard library (and
uvloop when installed) only: the process that runs it imports nothing of the service.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        # asyncio sets TCP_NODELAY on TCP transports.
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, headers: bytes = b"", body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read the whole response: (status, body). `headers` are
        ready-made `Name: value\\r\\n` lines."""
        if self.writer is None:
            await self.open()
        self.writer.write(b"%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: %d\r\n\r\n%s" % (
            method.encode(), path.encode(), self.host.encode(), self.port, headers, len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = None, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            payload = b"".join(parts)
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            raise HTTPError(f"response without Content-Length or chunked body: {head[:200]!r}")
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


@dataclass
class Step:
    """One request of a scenario: POST `path_template.format(id=...)` with `body`; any status
    but `expect` is an error. With `collect`, the field of that name in each (JSON) answer is
    kept, in `Result.collected` (e.g. the id of what a create made)."""

    name: str
    path_template: str
    token: str
    body: bytes
    expect: int = 200
    collect: str | None = None


@dataclass
class Result:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # step name -> seconds
    errors: list[tuple[int, str, int, str]] = field(default_factory=list)  # id, step, status, body
    elapsed: float = 0.0
    requests: int = 0
    cpu: float = 0.0  # this process's CPU seconds (user + system) during the run
    collected: list = field(default_factory=list)  # Step.collect's values, in order of answer


async def _drive(connections: list[Connection], steps: Sequence[Step], ids: Sequence[int],
                 stagger: float = 0.0) -> Result:
    result = Result(latencies={s.name: [] for s in steps})
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in ids:
        queue.put_nowait(i)
    prepared = [(s.name, s.path_template, b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                 % s.token.encode(), s.body, s.expect, s.collect) for s in steps]

    async def client(conn: Connection, delay: float):
        if delay:
            await asyncio.sleep(delay)
        if conn.writer is None:
            await conn.open()
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for name, template, headers, body, expect, collect in prepared:
                t0 = time.perf_counter()
                status, payload = await conn.request("POST", template.format(id=item), headers, body)
                result.latencies[name].append(time.perf_counter() - t0)
                result.requests += 1
                if status != expect:
                    result.errors.append((item, name, status, payload[:300].decode(errors="replace")))
                    break  # the next steps of this item would only fail too
                if collect is not None:
                    result.collected.append(json.loads(payload)[collect])

    cpu0, t0 = os.times(), time.perf_counter()
    await asyncio.gather(*(client(c, i * stagger) for i, c in enumerate(connections)))
    cpu1 = os.times()
    result.elapsed = time.perf_counter() - t0
    result.cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return result


def serve(pipe, host: str, port: int, clients: int) -> None:
    """The load generator process. Opens `clients` connections, then for each phase the parent
    sends, `("phase", steps, warmup_ids, ids)`: runs the warm-up items, reports
    `("ready", Result)`, waits for "go", runs the timed items and reports `("done", Result)`.
    "stop" ends it. The connections stay open (kept busy) from one phase to the next. Any
    failure is sent back as ("error", text) rather than left in a traceback nobody reads."""
    async def wait_for_parent(connections):
        message = asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        while not message.done():
            # uvicorn closes a keep-alive connection idle for 5 s: keep ours busy meanwhile.
            await asyncio.wait([message], timeout=2)
            if not message.done():
                for c in connections:
                    await c.request("GET", "/api/v1/health")
        return message.result()

    async def main():
        connections = [Connection(host, port) for _ in range(clients)]
        first = True
        while True:
            command = await wait_for_parent(connections)
            if command == "stop":
                break
            _, steps, warmup_ids, ids = command
            # The first time, open the connections one at a time while the earlier ones already
            # keep the server busy: a burst of connects is taken whole by whichever worker wakes
            # first, and keep-alive then pins all the load on it (seen with --workers 2: 100% /
            # 0%); a busy worker is slower to accept, so the idle one gets the next connection.
            warm = await _drive(connections, steps, warmup_ids, stagger=0.02 if first else 0.0)
            first = False
            for c in connections:
                if c.writer is None:  # the warm-up ended before this one's turn
                    await c.open()
            pipe.send(("ready", warm))
            if await wait_for_parent(connections) != "go":
                raise RuntimeError("expected 'go' from the parent")
            pipe.send(("done", await _drive(connections, steps, ids)))
        for c in connections:
            await c.close()

    try:
        try:
            from uvloop import run
        except ImportError:
            run = asyncio.run
        run(main())
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails loudly
        import traceback
        pipe.send(("error", "".join(traceback.format_exception(exc))))
