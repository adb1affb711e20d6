"""Passwords: argon2 hashes, checked off the event loop a few at a time, and the policy a new
password meets (NIST SP 800-63B): long enough for the role, not a commonly used one."""
from __future__ import annotations

import asyncio
import weakref
from functools import cache
from pathlib import Path

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from states.common import Role

COMMON_PASSWORDS = Path(__file__).resolve().parents[1] / "config" / "data" / "common_passwords.txt"
# Staff decide for the RSO (and admins run it): a longer password than a member state's or a
# stakeholder's, who sign in far less often.
MIN_LENGTH = {Role.CO_MANAGER: 12, Role.CO_CHAIR: 12, Role.ADMIN: 12}
MIN_LENGTH_OTHERS = 8
MAX_LENGTH = 256

# Replaceable so a test suite can use cheaper (still argon2) parameters.
HASHER = PasswordHasher()
# A check costs ~50 ms of a core: a few at a time, in threads, so that a crowd of sign-ins (or
# of guesses) queues here instead of stalling every other request on the event loop.
CHECKS_AT_ONCE = 2
_LIMITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one per event loop
_DUMMY: list[str] = []


async def _in_thread(fn, *args):
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(CHECKS_AT_ONCE)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def problems(password: str, role: Role | None) -> list[str]:
    """Why this password may not be chosen for a user of `role` (none: it may)."""
    least = MIN_LENGTH.get(role, MIN_LENGTH_OTHERS) if role else MIN_LENGTH_OTHERS
    if len(password) < least:
        return [f"must be at least {least} characters"]
    if len(password) > MAX_LENGTH:
        return [f"must be at most {MAX_LENGTH} characters"]
    if password.strip().lower() in common_passwords():
        return ["is one of the most commonly used passwords: choose another"]
    return []


async def hash_password(password: str) -> str:
    return await _in_thread(HASHER.hash, password)


async def matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `stored_hash` was made from. Without a hash (no such
    user) it spends the same time on a dummy, so that a wrong address is not told apart."""
    if len(password) > MAX_LENGTH:
        return False
    if stored_hash is None:
        if not _DUMMY:
            _DUMMY.append(await hash_password("not a password at all"))
        stored_hash, password = _DUMMY[0], password + "\x00"

    def check() -> bool:
        try:
            return HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await _in_thread(check)
