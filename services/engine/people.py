"""People as the engine sees them: who a user is as an actor of a lifecycle, who is RSO staff,
and one spelling of an email address."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from services.engine.errors import InvalidInput
from services.engine.models import User
from states.common import Actor, Role

async def directory(uow) -> dict[int, User] | None:
    """Every user by id, as this worker keeps them (on PostgreSQL, forgotten on any change to a
    user: `services.accounts.sessions.LiveSessions`), or None: read them from the database."""
    keeper = uow.services.live_sessions
    return await keeper.users(uow) if keeper is not None else None


STAFF = frozenset({Role.CO_MANAGER.value, Role.CO_CHAIR.value, Role.ADMIN.value})


def is_staff(user: User) -> bool:
    return user.role in STAFF


def actor_of(user: User, person: User | None = None) -> Actor:
    """The actor of `user`'s seat; with `person`, taken by that person on their behalf (a delegate)."""
    return Actor(role=Role(user.role), user_id=user.id, member_state=user.member_state, country=user.country,
                 person_id=person.id if person is not None else None)


def normalise_email(email: str, field: str = "email") -> str:
    """The address as stored (lower-case, normalised), or InvalidInput naming `field`."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput.one(field, str(exc)) from None
