"""Where documents' files are kept: content-addressed (by SHA-256), behind one small interface.

`Storage` is what the services use; `LocalStorage` keeps the files in a folder
(`RSO_STORAGE_DIR`). Another store (S3-compatible, say) is one more class with the same four
methods: the services never see a path.

An upload is written as it arrives into a temporary file of the store, hashed on the way, and
flushed to disk (`fsync`) before it is given its name: the database row that points at it is
committed only after `finish` returns, so a committed row never points at a missing file. A
file whose transaction then failed is left unreferenced: `sweep` removes such files once they
are older than a grace period (an upload still in flight has touched its file more recently).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 256 * 1024


class TooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the file is larger than {limit} bytes")


@dataclass(frozen=True)
class Stored:
    """A file written and flushed, under its content's name."""

    sha256: str
    size: int


class Upload(Protocol):
    """A file being written: `write` its bytes as they arrive, then `finish` or `abort`.
    `head`: its first bytes so far (what `filetype` reads)."""

    head: bytes | bytearray

    async def write(self, data: bytes) -> None: ...

    async def finish(self) -> Stored: ...

    async def abort(self) -> None: ...


class Storage(Protocol):
    def begin(self, limit: int) -> Upload: ...

    def open(self, sha256: str) -> AsyncIterator[bytes]: ...

    def path(self, sha256: str) -> Path | None:
        """A local path to serve the file from (None: stream it with `open`)."""

    async def sweep(self, referenced: Callable[[list[str]], Awaitable[set[str]]] | None, *,
                    older_than: float) -> list[str]: ...


HEAD = 8192  # what `filetype` reads


class _LocalUpload:
    def __init__(self, store: LocalStorage, limit: int):
        self.store, self.limit = store, limit
        self.tmp = store.root / "tmp" / f"{secrets.token_hex(16)}.part"
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "xb")  # noqa: SIM115 - closed by finish/abort
        self.hash, self.size, self.head = hashlib.sha256(), 0, bytearray()

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            await self.abort()
            raise TooLarge(self.limit)
        if len(self.head) < HEAD:
            self.head += data[:HEAD - len(self.head)]
        self.hash.update(data)
        # Small writes to the page cache: cheap enough inline; the fsync goes to a thread.
        self.file.write(data)

    async def finish(self) -> Stored:
        def flush() -> Stored:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            digest = self.hash.hexdigest()
            final = self.store._where(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            # Always this upload's own file, put in place atomically (the same bytes if the
            # content was there already): a sweep that removed an older copy a moment ago
            # cannot take this one, which is new.
            os.replace(self.tmp, final)
            _fsync_dir(final.parent)
            return Stored(digest, self.size)
        try:
            return await asyncio.to_thread(flush)
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """Files in a folder: `<root>/ab/cd/<sha256>`, uploads in progress in `<root>/tmp`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _where(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def begin(self, limit: int) -> _LocalUpload:
        return _LocalUpload(self, limit)

    def path(self, sha256: str) -> Path | None:
        return self._where(sha256)

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        with open(self._where(sha256), "rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk

    async def sweep(self, referenced: Callable[[list[str]], Awaitable[set[str]]] | None = None, *,
                    older_than: float = 3600.0) -> list[str]:
        """Remove what no row points at and nobody has touched for `older_than` seconds: the
        files of transactions that failed, and uploads abandoned half-way. `referenced(names)`
        answers which of these SHA-256s a row points at. Returns what was removed."""
        cutoff = time.time() - older_than
        removed: list[str] = []
        for part in (self.root / "tmp").glob("*.part") if (self.root / "tmp").is_dir() else ():
            if _older(part, cutoff):
                part.unlink(missing_ok=True)
                removed.append(part.name)
        old = {p.name: p for p in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*")
               if len(p.name) == 64 and _older(p, cutoff)}
        if not old:
            return removed
        keep = await referenced(list(old)) if referenced is not None else set()
        # Each candidate is moved aside first, then asked about again: an upload of the same
        # content that finished meanwhile has put a new file in place (or a row now points at
        # it), and the candidate goes back instead of away.
        aside = self.root / "quarantine"
        aside.mkdir(exist_ok=True)
        moved: dict[str, Path] = {}
        for name, p in old.items():
            if name in keep:
                continue
            try:
                os.replace(p, aside / name)
            except FileNotFoundError:
                continue
            moved[name] = p
        if not moved:
            return removed
        keep = await referenced(list(moved)) if referenced is not None else set()
        for name, p in moved.items():
            held = aside / name
            if p.exists():  # an upload put its own copy in place meanwhile
                held.unlink(missing_ok=True)
            elif name in keep or not _older(held, cutoff):
                os.replace(held, p)
            else:
                held.unlink(missing_ok=True)
                removed.append(name)
        return removed


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # gone meanwhile (an upload put in place, another sweep)
        return False
