"""Users: creation with the rules of each role, and password checks (argon2)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import func, select

from services.config.reference_data import member_codes, members
from services.engine.errors import Forbidden, InvalidInput, NotAuthenticated
from services.engine.models import User
from services.engine.people import normalise_email
from services.infra.uow import Services
from states.common import SEAT_COUNTRIES, Role

# Replaceable so a test suite can use cheaper (still argon2) parameters.
HASHER = PasswordHasher()
_DUMMY_HASH = None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


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
    if len(password) < 8:
        errors.append({"field": "password", "message": "must be at least 8 characters"})
    try:
        r = Role(role)
    except ValueError:
        errors.append({"field": "role", "message": f"must be one of {', '.join(x.value for x in Role)}"})
        r = None
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
                    password_hash=hash_password(password), created_at=uow.now)
        uow.session.add(user)
        await uow.commit()
    return user


async def authenticate(svc: Services, *, email: str, password: str) -> User:
    """The active user with this email and password, or NotAuthenticated."""
    global _DUMMY_HASH
    email = email.strip().lower()
    if "\x00" in email or len(email) > 254:
        raise NotAuthenticated("wrong email or password")
    async with svc.uow(write=False) as uow:
        user = (await uow.session.exec(select(User).where(User.email == email))).first()
    try:
        if user is None or not user.active:
            # Spend the same time as a real check, so a wrong email is not told apart.
            _DUMMY_HASH = _DUMMY_HASH or HASHER.hash("not a password")
            HASHER.verify(_DUMMY_HASH, password)
        elif HASHER.verify(user.password_hash, password):
            return user
    except (VerificationError, InvalidHashError):
        pass
    raise NotAuthenticated("wrong email or password")


async def get_active_user(svc: Services, user_id: int) -> User | None:
    async with svc.uow(write=False) as uow:
        user = await uow.session.get(User, user_id)
    return user if user is not None and user.active else None


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
