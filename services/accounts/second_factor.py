"""Two-factor sign-in: a TOTP code (RFC 6238, any authenticator app; pyotp) or one of ten
recovery codes, after the password. Required for admins, whom it lets do nothing else until
it is set up; anyone else may switch it on. Codes follow the service's clock, and each is
good once."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pyotp

from services.accounts.models import SecondFactor
from services.engine.errors import Forbidden, InvalidInput
from services.engine.models import User
from services.infra.uow import Services, UnitOfWork
from states.common import Role

ISSUER = "RSO Workflow"
RECOVERY_CODES = 10
STEP = 30  # seconds a code lasts


def required(user: User) -> bool:
    """Admins run the service: they sign in with a second factor."""
    return user.role == Role.ADMIN


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app
    uri: str  # otpauth://, for a QR code


@dataclass(frozen=True)
class Confirmed:
    recovery_codes: list[str]  # shown once


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


async def of(uow: UnitOfWork, user_id: int) -> SecondFactor | None:
    return await uow.session.get(SecondFactor, user_id)


async def enabled(uow: UnitOfWork, user_id: int) -> bool:
    found = await of(uow, user_id)
    return found is not None and found.confirmed_at is not None


async def begin(svc: Services, *, user: User) -> Enrolment:
    """The secret for the caller's authenticator app, waiting for a first code to confirm it:
    the one already waiting, or a new one. One that is on must be switched off first."""
    async with svc.uow() as uow:
        current = await of(uow, user.id)
        if current is not None and current.confirmed_at is not None:
            raise InvalidInput.one("body", "two-factor sign-in is already on; switch it off first to set up a new one")
        if current is None:
            current = SecondFactor(user_id=user.id, secret=pyotp.random_base32())
            uow.session.add(current)
        await uow.commit()
    return Enrolment(current.secret,
                     pyotp.TOTP(current.secret, interval=STEP).provisioning_uri(name=user.email, issuer_name=ISSUER))


async def confirm(svc: Services, *, user: User, code: str) -> Confirmed:
    """The first code from the app turns two-factor sign-in on; the recovery codes come back,
    to be kept somewhere safe (each works once, instead of a code)."""
    async with svc.uow() as uow:
        current = await of(uow, user.id)
        if current is None or current.confirmed_at is not None:
            raise InvalidInput.one("body", "start setting up two-factor sign-in first")
        if not accept(uow, current, code, recovery=False):
            raise InvalidInput.one("code", "that code is not the one your app shows now")
        codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
        current.confirmed_at, current.recovery_hashes = uow.now, [_hash(c) for c in codes]
        await uow.commit()
    return Confirmed(codes)


async def switch_off(svc: Services, *, user: User, code: str) -> None:
    """The caller switches their second factor off, with a current code. Not an admin."""
    if required(user):
        raise Forbidden("an admin signs in with a second factor: it cannot be switched off")
    async with svc.uow() as uow:
        current = await of(uow, user.id)
        if current is None or current.confirmed_at is None:
            raise InvalidInput.one("body", "two-factor sign-in is not on")
        if not accept(uow, current, code):
            raise InvalidInput.one("code", "that code is not a current one")
        await uow.session.delete(current)
        await uow.commit()


def accept(uow: UnitOfWork, factor: SecondFactor, code: str, *, recovery: bool = True) -> bool:
    """Whether `code` is good now: this or the neighbouring 30-second step, later than the last
    one used; or an unused recovery code (then spent). Marks what it accepts as used."""
    code = (code or "").strip()
    if code.isdigit() and len(code) == 6:
        totp, now = pyotp.TOTP(factor.secret, interval=STEP), uow.now.timestamp()
        for offset in (-1, 0, 1):
            step = int(now // STEP) + offset
            if step > factor.last_step and secrets.compare_digest(totp.at(step * STEP), code):
                factor.last_step = step
                return True
        return False
    if recovery and (digest := _hash(code)) in factor.recovery_hashes:
        factor.recovery_hashes = [h for h in factor.recovery_hashes if h != digest]
        return True
    return False


async def remove(svc: Services, *, user: User, of_user: int) -> None:
    """An admin takes away someone's second factor (a lost phone and lost recovery codes); they
    set up a new one at their next sign-in if they must have one."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may reset someone's two-factor sign-in")
    async with svc.uow() as uow:
        current = await of(uow, of_user)
        if current is not None:
            await uow.session.delete(current)
        await uow.commit()


async def status(svc: Services, *, user: User) -> dict:
    async with svc.uow(write=False) as uow:
        current = await of(uow, user.id)
    on = current is not None and current.confirmed_at is not None
    return {"enabled": on, "required": required(user),
            "recovery_codes_left": len(current.recovery_hashes) if on else 0}

