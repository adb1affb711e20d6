"""Users: creation with the rules of each role, a password change, an admin's list, their
deactivation and reactivation."""
from __future__ import annotations

import unicodedata

from sqlmodel import func, select

from services.accounts import passwords, sessions
from services.config.reference_data import member_codes, members
from services.engine.errors import Forbidden, InvalidInput, NotFound
from services.engine.models import User
from services.engine.people import normalise_email
from services.infra.uow import Services
from states.common import SEAT_COUNTRIES, Role


def plain_text_problem(value: str | None) -> str | None:
    """A name or an organisation goes into email headers and pages: no control characters
    (a line break in a name could forge a header of its own)."""
    if value and any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        return "must not contain line breaks or other control characters"
    return None


async def create_user(svc: Services, *, email: str, password: str, role: str, name: str | None = None,
                      member_state: str | None = None, country: str | None = None,
                      organisation: str | None = None) -> User:
    """Add a user. Called by an admin (CLI, demo). Each role needs its own attribute:
    a member state official a member code, co-managers and co-chairs a seat country
    (AUS or IDN), a stakeholder an organisation."""
    errors = []
    try:
        email = normalise_email(email)
    except InvalidInput as exc:
        errors += exc.errors
    try:
        r = Role(role)
    except ValueError:
        errors.append({"field": "role", "message": f"must be one of {', '.join(x.value for x in Role)}"})
        r = None
    errors += [{"field": "password", "message": m} for m in passwords.problems(password, r)]
    errors += [{"field": f, "message": m} for f, v in (("name", name), ("organisation", organisation))
               if (m := plain_text_problem(v))]
    member_state = member_state.strip().upper() if member_state else None
    country = country.strip().upper() if country else None
    if r is Role.MEMBER_STATE and member_state not in member_codes():
        errors.append({"field": "member_state", "message": "a member state official needs a Bali Process member code (e.g. THA)"})
    if r in (Role.CO_MANAGER, Role.CO_CHAIR) and country not in SEAT_COUNTRIES:
        errors.append({"field": "country", "message": f"a {r.value} needs country AUS or IDN"})
    if r is Role.STAKEHOLDER and not (organisation and organisation.strip()):
        errors.append({"field": "organisation", "message": "a stakeholder needs an organisation"})
    if r is not Role.MEMBER_STATE and member_state:
        errors.append({"field": "member_state", "message": "only a member_state user has a member state"})
    if errors:
        raise InvalidInput(errors)
    async with svc.uow() as uow:
        taken = await uow.session.scalar(select(func.count()).select_from(User).where(User.email == email))
        if taken:
            raise InvalidInput.one("email", "a user with this email already exists")
        default_name = members()[member_state]["name"] if member_state else email.split("@")[0]
        user = User(email=email, name=(name or default_name).strip(), role=r.value,
                    member_state=member_state, country=country if r in (Role.CO_MANAGER, Role.CO_CHAIR) else None,
                    organisation=organisation.strip() if organisation else None,
                    password_hash=await passwords.hash_password(password), created_at=uow.now)
        uow.session.add(user)
        await uow.commit()
    return user


async def users_for(svc: Services, *, user: User) -> list[User]:
    """Every user, for an admin."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may list users")
    async with svc.uow(write=False) as uow:
        return list((await uow.session.exec(select(User).order_by(User.role, User.name, User.id))).all())


async def add_user(svc: Services, *, user: User, **fields) -> User:
    """An admin adds a user (see `create_user` for what each role needs)."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may add users")
    return await create_user(svc, **fields)


async def change_password(svc: Services, *, user: User, current: str, new: str, keep: str | None = None) -> None:
    """The caller changes their own password, giving the current one. Every other session of
    theirs ends (the one they use now, `keep`, goes on)."""
    problems = [{"field": "new_password", "message": m} for m in passwords.problems(new, Role(user.role))]
    if current == new:
        problems.append({"field": "new_password", "message": "must differ from the current password"})
    async with svc.uow() as uow:
        me = await uow.session.get(User, user.id)
        if not await passwords.matches(me.password_hash, current):
            problems.insert(0, {"field": "current_password", "message": "is not your current password"})
        if problems:
            raise InvalidInput(problems)
        me.password_hash = await passwords.hash_password(new)
        await sessions.end_all(uow, me.id, keep=keep)
        await uow.commit()


async def set_active(svc: Services, *, user: User, user_id: int, active: bool) -> User:
    """An admin deactivates a user (every session of theirs ends at once) or reactivates one."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may deactivate or reactivate users")
    if user_id == user.id and not active:
        raise InvalidInput.one("user", "you cannot deactivate yourself")
    async with svc.uow() as uow:
        target = await uow.session.get(User, user_id)
        if target is None:
            raise NotFound(f"user {user_id}")
        target.active = active
        sessions.changed(uow)
        if not active:
            await sessions.end_all(uow, target.id)
        await uow.commit()
    return target
