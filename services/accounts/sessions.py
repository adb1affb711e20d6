"""Sessions on the server: a sign-in opens one; a bearer token or a page's cookie carries its
id. Every request checks it, so that signing out, a password change or a deactivation ends it
at once, in every worker.

On PostgreSQL a worker keeps the sessions it has found live (`LiveSessions`), and forgets them
all whenever the database announces that a session or a user changed (a trigger notifies the
channel `rso_accounts` on commit, whoever made the change: migration 0008). A request then
costs no round trip for its sign-in. Without that channel (SQLite, or while the listening
connection is down) every request reads its session, as before."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from services.accounts.models import Session
from services.engine.errors import Forbidden
from services.engine.models import User
from services.infra.uow import Services, UnitOfWork


log = logging.getLogger("rso.sessions")
CHANNEL = "rso_accounts"


class LiveSessions:
    """The sessions this worker found live, while it hears of every change to sessions and users.

    A session found live stays usable from here until it expires, or until any session or user
    changes anywhere (then all are forgotten: such changes are rare, sign-outs and admins'
    acts, and a wrong keep would be a revocation ignored). A lookup that began before a change
    is not kept after it (`generation`). Nothing is kept while the listening connection is down."""

    MAX = 10_000  # sessions kept; past that, all are dropped and the cache refills

    def __init__(self, recheck: float = 30.0):
        self.found: dict[str, tuple[Session, User]] = {}
        self.people: dict[int, User] | None = None  # every user, by id (the directory the emails use)
        self.kept_values: dict[str, Any] = {}  # what other modules keep the same way (`kept`)
        self.generation = 0
        self.listening = False
        self.recheck = recheck  # seconds between checks that the listening connection is alive

    def get(self, sid: str, now: datetime) -> tuple[Session, User] | None:
        hit = self.found.get(sid) if self.listening else None
        if hit is not None and hit[0].expires_at <= now:
            self.found.pop(sid, None)
            return None
        return hit

    def keep(self, sid: str, found: tuple[Session, User], generation: int) -> None:
        if self.listening and generation == self.generation:
            if len(self.found) >= self.MAX:
                self.found.clear()
            self.found[sid] = found

    def forget(self, *_) -> None:
        self.found.clear()
        self.people = None
        self.kept_values.clear()
        self.generation += 1

    async def kept(self, name: str, uow: UnitOfWork, load: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        """What `load` reads, read once and kept as the directory is, until anything announced
        on the channel changes (the delegations: `services.engine.delegations`); None while not
        listening (then read it from the database)."""
        if not self.listening:
            return None
        if name not in self.kept_values:
            generation = self.generation
            value = await load(uow)
            if generation != self.generation or not self.listening:
                return value  # changed meanwhile: good for this transaction, not kept
            self.kept_values[name] = value
        return self.kept_values[name]

    async def users(self, uow: UnitOfWork) -> dict[int, User] | None:
        """Every user by id, active or not: read once, then kept until any user or session
        changes; None while not listening (then read what you need from the database)."""
        if not self.listening:
            return None
        if self.people is None:
            generation = self.generation
            found = list((await uow.session.exec(select(User))).all())
            for u in found:  # shared by requests from now on: read-only, in no session
                uow.session.expunge(u)
            people = {u.id: u for u in found}
            if generation != self.generation or not self.listening:
                return people  # changed meanwhile: good for this transaction, not kept
            self.people = people
        return self.people

    async def listen(self, engine) -> None:
        """Hear the database's announcements until cancelled, reconnecting after a failure."""
        pause = 1.0
        while True:
            try:
                async with engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection  # asyncpg's
                    try:
                        lost = asyncio.Event()
                        raw.add_termination_listener(lambda _c: lost.set())
                        await raw.add_listener(CHANNEL, self.forget)
                        self.forget()
                        self.listening, pause = True, 1.0
                        while not lost.is_set():
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(lost.wait(), self.recheck)
                            if not lost.is_set():  # a silent network failure shows here
                                await asyncio.wait_for(raw.fetchval("SELECT 1"), 5)
                    finally:
                        self.listening = False
                        self.forget()
                        await conn.invalidate()  # never back to the pool with LISTEN on it
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep trying; meanwhile every request reads its session
                log.warning("not hearing of session changes (each request reads its session); retrying in %.0f s",
                            pause, exc_info=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)


class Stage(StrEnum):
    CODE = "code"  # the password was right; waiting for the second factor's code
    SETUP = "setup"  # an admin without a second factor: may set one up, nothing else
    FULL = "full"


def open_session(uow: UnitOfWork, user: User, *, via: str, address: str, lasts: timedelta,
                 stage: Stage = Stage.FULL) -> Session:
    session = Session(id=secrets.token_urlsafe(32), user_id=user.id, via=via, address=address[:64],
                      created_at=uow.now, expires_at=uow.now + lasts, stage=stage.value)
    uow.session.add(session)
    return session


def _live(sid: str, now):
    return select(Session, User).join(User, User.id == Session.user_id).where(
        Session.id == sid, Session.ended_at.is_(None), Session.expires_at > now, User.active.is_(True))


async def live(uow: UnitOfWork, sid: str) -> tuple[Session, User] | None:
    return (await uow.session.exec(_live(sid, uow.now))).first() if sid else None


async def signed_in(svc: Services, sid: str | None, *, setting_up: bool = False) -> User | None:
    """The user of a live session, for a request (one read). A session still waiting for its
    second factor signs nobody in; an admin's set-up-only session is good for setting up the
    second factor (`setting_up`) and refused for anything else."""
    if not sid:
        return None
    cache: LiveSessions | None = svc.live_sessions
    found = cache.get(sid, svc.clock()) if cache else None
    if found is None:
        generation = cache.generation if cache else 0
        async with svc.uow(write=False) as uow:
            found = await live(uow, sid)
        if found is None:
            return None
        if cache:
            cache.keep(sid, found, generation)
    session, user = found
    if session.stage == Stage.CODE:
        return None
    if session.stage == Stage.SETUP and not setting_up:
        raise Forbidden("set up two-factor sign-in first: an admin signs in with a second factor "
                        "(POST /api/v1/me/two-factor, or the page /account/two-factor)")
    return user


async def end(svc: Services, sid: str | None) -> None:
    """Sign out: the session ends now, everywhere."""
    if not sid:
        return
    async with svc.uow() as uow:
        await uow.session.exec(sa.update(Session).where(Session.id == sid, Session.ended_at.is_(None))
                               .values(ended_at=uow.now))
        changed(uow)
        await uow.commit()


async def end_all(uow: UnitOfWork, user_id: int, *, keep: str | None = None) -> None:
    """End every session of a user (but `keep`), in the caller's transaction."""
    q = sa.update(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
    if keep:
        q = q.where(Session.id != keep)
    await uow.session.exec(q.values(ended_at=uow.now))
    changed(uow)


def changed(uow: UnitOfWork) -> None:
    """Sessions or users change in this transaction: this worker forgets the sessions it knew as
    soon as it commits (the others hear of it from the database)."""
    if uow.services.live_sessions is not None:
        uow.after_commit(uow.services.live_sessions.forget)
