"""The accounts' own tables: every sign-in attempt (the throttle's memory and the admins' log),
the sessions a sign-in opens, and each user's second factor."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.engine.models import moment


class SignInAttempt(SQLModel, table=True):
    """One attempt to sign in, whatever came of it; never updated. Also an admin's unlock."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (sa.Index("ix_sign_in_attempts_email", "email", "id"),
                      sa.Index("ix_sign_in_attempts_address", "address", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = moment()
    email: str = Field(max_length=254)  # as given, lower-case: a guess at an unknown address counts too
    user_id: int | None = Field(default=None, foreign_key="users.id")
    address: str = Field(max_length=64)  # the client's address
    via: str = Field(max_length=10)  # api, web
    outcome: str = Field(max_length=20)  # an Outcome
    by_id: int | None = Field(default=None, foreign_key="users.id")  # the admin, for an unlock


class Session(SQLModel, table=True):
    """What a sign-in opens: a bearer token or a page's cookie names it. Ended by signing out, a
    password change, the user's deactivation or its expiry; checked on every request."""

    __tablename__ = "sessions"
    __table_args__ = (sa.Index("ix_sessions_user", "user_id"),)

    id: str = Field(primary_key=True, max_length=64)  # random; the token's `sid`
    user_id: int = Field(foreign_key="users.id")
    via: str = Field(max_length=10)  # api, web
    address: str = Field(max_length=64)
    created_at: datetime = moment()
    expires_at: datetime = moment()
    ended_at: datetime | None = moment(default=None)
    stage: str = Field(default="full", max_length=10)  # a Stage: what the session may do


class SecondFactor(SQLModel, table=True):
    """A user's TOTP secret (RFC 6238) and their recovery codes (hashed), once confirmed."""

    __tablename__ = "second_factors"

    user_id: int = Field(primary_key=True, foreign_key="users.id")
    secret: str = Field(max_length=64)
    confirmed_at: datetime | None = moment(default=None)
    last_step: int = 0  # the last time step accepted: a code is good once
    recovery_hashes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
