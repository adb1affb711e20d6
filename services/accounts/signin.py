"""Signing in, with a throttle on guessing and a log of every attempt.

The throttle (its memory is the log, in the database, so it holds across workers and
restarts):
- an account (an email address, known or not) may fail FREE_FAILURES times in a row; then it
  is locked for a minute, and for twice as long after each further failure, up to an hour. A
  success or an admin's unlock starts the count again. While locked, no password is checked.
- a client address may fail ADDRESS_FAILURES times in ADDRESS_WINDOW; then it waits until the
  oldest of those failures leaves the window.
A refusal says when to try again (HTTP 429 with Retry-After).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import select

from services.accounts import passwords, second_factor, sessions
from services.accounts.models import Session, SignInAttempt
from services.accounts.sessions import Stage
from services.engine.errors import Forbidden, NotAuthenticated, NotFound, SecondFactorRequired, TooManyAttempts
from services.engine.models import User
from services.infra.uow import Services, UnitOfWork
from states.common import Role

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
ADDRESS_FAILURES = 30
ADDRESS_WINDOW = timedelta(minutes=15)
MAX_EMAIL = 254


class Outcome(StrEnum):
    SUCCESS = "success"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_EMAIL = "unknown_email"
    INACTIVE = "inactive"  # a deactivated user, with the right password or not
    CODE_REQUIRED = "code_required"  # the password was right; the second factor comes next
    WRONG_CODE = "wrong_code"
    LOCKED = "locked"  # refused unchecked: the account is locked
    THROTTLED = "throttled"  # refused unchecked: too many failures from this address
    UNLOCKED = "unlocked"  # an admin's unlock


FAILURES = (Outcome.WRONG_PASSWORD, Outcome.UNKNOWN_EMAIL, Outcome.INACTIVE, Outcome.WRONG_CODE)
RESETS = (Outcome.SUCCESS, Outcome.UNLOCKED)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session  # its id goes into the token or the cookie


def lock_after(failures: int) -> timedelta:
    """How long an account stays locked after `failures` failures in a row (none below FREE)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** (failures - FREE_FAILURES), LONGEST_LOCK)


async def _account_locked_until(uow: UnitOfWork, email: str) -> tuple[datetime | None, int]:
    """When this account's lock ends (None: not locked), and its failures in a row."""
    rows = (await uow.session.exec(
        select(SignInAttempt.at, SignInAttempt.outcome).where(SignInAttempt.email == email)
        .order_by(SignInAttempt.id.desc()).limit(50))).all()
    failures, last = 0, None
    for at, outcome in rows:
        if outcome in RESETS:
            break
        if outcome in FAILURES:
            failures, last = failures + 1, last or at
    until = last + lock_after(failures) if last is not None else None
    return (until if until and until > uow.now else None), failures


async def _address_waits_until(uow: UnitOfWork, address: str) -> datetime | None:
    recent = (await uow.session.exec(
        select(SignInAttempt.at).where(SignInAttempt.address == address, SignInAttempt.at > uow.now - ADDRESS_WINDOW,
                                       SignInAttempt.outcome.in_([o.value for o in FAILURES]))
        .order_by(SignInAttempt.at.desc()).limit(ADDRESS_FAILURES))).all()
    return recent[-1] + ADDRESS_WINDOW if len(recent) >= ADDRESS_FAILURES else None


async def _refusal(uow: UnitOfWork, email: str, address: str) -> tuple[TooManyAttempts, Outcome] | None:
    """Why this attempt may not be checked now, if it may not."""
    until, failures = await _account_locked_until(uow, email)
    if until is not None:
        return (TooManyAttempts((until - uow.now).total_seconds(),
                                f"this account is locked after {failures} failed sign-ins"), Outcome.LOCKED)
    if (until := await _address_waits_until(uow, address)) is not None:
        return (TooManyAttempts((until - uow.now).total_seconds(), "too many failed sign-ins from your address"),
                Outcome.THROTTLED)
    return None


def _log(uow: UnitOfWork, email: str, address: str, via: str, outcome: Outcome, user: User | None) -> None:
    uow.session.add(SignInAttempt(at=uow.now, email=email, user_id=user.id if user else None,
                                  address=address[:64], via=via, outcome=outcome.value))


async def sign_in(svc: Services, *, email: str, password: str, address: str, via: str, lasts: timedelta,
                  code: str | None = None) -> SignedIn:
    """Check a password (and the second factor's code, when the user has one) and open a
    session. Every attempt is logged. Refusals: TooManyAttempts (locked or throttled: nothing
    was checked), NotAuthenticated (wrong email or password, or code, told apart for nobody),
    SecondFactorRequired (the password was right; `pending` is the session awaiting the code)."""
    email = (email or "").strip().lower()[:MAX_EMAIL].replace("\x00", "")
    address = address or "unknown"
    async with svc.uow() as uow:
        if found := await _refusal(uow, email, address):
            refusal, outcome = found
            _log(uow, email, address, via, outcome, None)
            await uow.commit()
            raise refusal
        user = (await uow.session.exec(select(User).where(User.email == email))).first()
        right = await passwords.matches(user.password_hash if user else None, password)
        if user is None or not right or not user.active:
            outcome = Outcome.UNKNOWN_EMAIL if user is None else Outcome.WRONG_PASSWORD if not right \
                else Outcome.INACTIVE
            _log(uow, email, address, via, outcome, user)
            await uow.commit()
            raise NotAuthenticated("wrong email or password")
        factor = await second_factor.of(uow, user.id)
        has_factor = factor is not None and factor.confirmed_at is not None
        if has_factor and not code:
            pending = sessions.open_session(uow, user, via=via, address=address, lasts=timedelta(minutes=5),
                                            stage=Stage.CODE)
            _log(uow, email, address, via, Outcome.CODE_REQUIRED, user)
            await uow.commit()
            raise SecondFactorRequired(pending.id)
        if has_factor and not second_factor.accept(uow, factor, code):
            _log(uow, email, address, via, Outcome.WRONG_CODE, user)
            await uow.commit()
            raise NotAuthenticated("wrong two-factor code")
        stage = Stage.SETUP if second_factor.required(user) and not has_factor else Stage.FULL
        session = sessions.open_session(uow, user, via=via, address=address, lasts=lasts, stage=stage)
        _log(uow, email, address, via, Outcome.SUCCESS, user)
        await uow.commit()
    return SignedIn(user, session)


async def complete(svc: Services, *, pending: str, code: str, address: str, via: str,
                   lasts: timedelta) -> SignedIn:
    """The second step of a sign-in on the pages: the code for the session `sign_in` left
    waiting. A wrong code counts as a failed sign-in; five minutes after the password, the
    waiting session is gone and the person starts again."""
    async with svc.uow() as uow:
        found = await sessions.live(uow, pending)
        if found is None or found[0].stage != Stage.CODE:
            raise NotAuthenticated("the sign-in has expired: enter your email and password again")
        waiting, user = found
        if found := await _refusal(uow, user.email, address):
            refusal, outcome = found
            _log(uow, user.email, address, via, outcome, user)
            waiting.ended_at = uow.now
            await uow.commit()
            raise refusal
        factor = await second_factor.of(uow, user.id)
        if factor is None or not second_factor.accept(uow, factor, code):
            _log(uow, user.email, address, via, Outcome.WRONG_CODE, user)
            await uow.commit()
            raise NotAuthenticated("wrong two-factor code")
        waiting.ended_at = uow.now
        session = sessions.open_session(uow, user, via=via, address=address, lasts=lasts)
        _log(uow, user.email, address, via, Outcome.SUCCESS, user)
        await uow.commit()
    return SignedIn(user, session)


async def unlock(svc: Services, *, user: User, user_id: int) -> None:
    """An admin lifts a user's lock: the count of failures starts again (logged)."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may unlock an account")
    async with svc.uow() as uow:
        target = await uow.session.get(User, user_id)
        if target is None:
            raise NotFound(f"user {user_id}")
        uow.session.add(SignInAttempt(at=uow.now, email=target.email, user_id=target.id, address="-", via="admin",
                                      outcome=Outcome.UNLOCKED.value, by_id=user.id))
        await uow.commit()


async def attempts(svc: Services, *, user: User, email: str | None = None, limit: int = 100) -> list[SignInAttempt]:
    """For an admin: the latest sign-in attempts (all, or of one address), newest first."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may read the sign-in log")
    q = select(SignInAttempt).order_by(SignInAttempt.id.desc()).limit(limit)
    if email:
        q = q.where(SignInAttempt.email == email.strip().lower())
    async with svc.uow(write=False) as uow:
        return list((await uow.session.exec(q)).all())


async def locked_until(svc: Services, email: str) -> datetime | None:
    """When an account's lock ends, if it is locked now (for the admin's list of users)."""
    async with svc.uow(write=False) as uow:
        return (await _account_locked_until(uow, email))[0]
