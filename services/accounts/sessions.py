"""Sessions on the server: a sign-in opens one; a bearer token or a page's cookie carries its
id. It is looked up on every request, so that signing out, a password change or a
deactivation ends it at once, in every worker."""
from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import select

from services.accounts.models import Session
from services.engine.errors import Forbidden
from services.engine.models import User
from services.infra.uow import Services, UnitOfWork


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
    async with svc.uow(write=False) as uow:
        found = await live(uow, sid)
    if found is None:
        return None
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
        await uow.commit()


async def end_all(uow: UnitOfWork, user_id: int, *, keep: str | None = None) -> None:
    """End every session of a user (but `keep`), in the caller's transaction."""
    q = sa.update(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
    if keep:
        q = q.where(Session.id != keep)
    await uow.session.exec(q.values(ended_at=uow.now))
