"""The tables every lifecycle shares: users, history events, idempotency keys, reference
counters. History events (and tasks, `services.engine.tasks`) name their item by `item_kind`
("proposal", "secondment") and `item_id`; each lifecycle's own tables live in its package."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.infra.db import UtcDateTime, factory, utcnow


def moment(**kw) -> Any:
    """A column holding an aware UTC moment."""
    return Field(sa_type=UtcDateTime, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)  # stored lower-case
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    member_state: str | None = Field(default=None, max_length=10)
    country: str | None = Field(default=None, max_length=3)
    organisation: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = moment(default_factory=utcnow)


class ItemFields(SQLModel):
    """The columns the engine reads of every lifecycle's item table (`services.engine.workflow`).
    A lifecycle's table adds its own, and a version column of its own for optimistic locking:
    `VERSION = sa.Column("version", sa.Integer, nullable=False)`,
    `version: int = Field(default=1, sa_column=VERSION)`, `__mapper_args__ = {"version_id_col": VERSION}`
    (a stale writer then fails with StaleDataError instead of overwriting)."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    member_state: str = Field(max_length=10)  # the owning (nominating) member state
    created_by_id: int = Field(foreign_key="users.id")
    submitted_by_id: int | None = Field(default=None, foreign_key="users.id")  # who (re)submitted last
    state: str = Field(max_length=30, index=True)
    round: int = 0  # how many times it was submitted: 1 on submission, 2 on the first resubmission...
    created_at: datetime = moment(default_factory=utcnow)
    updated_at: datetime = moment(default_factory=utcnow)
    submitted_at: datetime | None = moment(default=None)
    closed_at: datetime | None = moment(default=None)


class HistoryEvent(SQLModel, table=True):
    """One action, automatic or not. Never updated or deleted (a database trigger refuses)."""

    __tablename__ = "history_events"
    __table_args__ = (sa.Index("ix_history_item", "item_kind", "item_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    at: datetime = moment(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # None: the system
    actor_role: str = Field(max_length=20)  # a role, or "system"
    actor_name: str = Field(max_length=200)  # as it was when the event happened
    action: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=30)
    to_state: str = Field(max_length=30)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    arguments: dict = Field(default_factory=factory(dict), sa_type=sa.JSON)
    # A delegate's action: whose seat it was taken in (the actor is the delegate, in person).
    on_behalf_of_id: int | None = None  # a user's id
    on_behalf_of_name: str | None = Field(default=None, max_length=200)
    via: str | None = Field(default=None, max_length=20)  # how it came, when not the app: "email_link"


class IdempotencyKey(SQLModel, table=True):
    """A create retried with the same Idempotency-Key returns the item of the first one."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "item_kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    item_kind: str = Field(max_length=20)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    item_id: int
    created_at: datetime = moment(default_factory=utcnow)


class ReferenceCounter(SQLModel, table=True):
    """The last number handed out per prefix and year (RSO-P-2026-0001)."""

    __tablename__ = "reference_counters"

    prefix: str = Field(primary_key=True, max_length=10)
    year: int = Field(primary_key=True)
    last: int = 0




class Document(SQLModel, table=True):
    """A file attached to an item: its metadata here, its bytes in the storage (by `sha256`).
    A new upload of the same kind and name is the next `version`; earlier versions stay: the
    service never changes or removes a row."""

    __tablename__ = "documents"
    __table_args__ = (sa.UniqueConstraint("item_kind", "item_id", "kind", "name", "version",
                                          name="uq_documents_version"),
                      sa.Index("ix_documents_item", "item_kind", "item_id", "id"))

    id: int | None = Field(default=None, primary_key=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    kind: str = Field(max_length=20)  # states.conversation.DocumentKind
    name: str = Field(max_length=200)  # the file name as uploaded, made safe
    version: int = 1
    size: int = Field(sa_type=sa.BigInteger)
    content_type: str = Field(max_length=100)  # found from the content
    sha256: str = Field(max_length=64, index=True)
    visibility: str = Field(max_length=10)  # states.conversation.Visibility
    uploaded_by_id: int = Field(foreign_key="users.id")
    uploaded_by_name: str = Field(max_length=200)
    uploaded_at: datetime = moment(default_factory=utcnow)
