"""What every lifecycle's items share: input parsing, version checks, references, history
events and idempotent creation."""
from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
import sqlalchemy as sa
from sqlmodel import select

from services.engine.errors import InvalidInput, VersionConflict
from services.engine.models import HistoryEvent, IdempotencyKey, ReferenceCounter, User
from services.engine.schemas import Strict
from services.infra.db import insert_on_conflict

if TYPE_CHECKING:
    from services.infra.uow import UnitOfWork

M = TypeVar("M", bound=Strict)


def _nul_fields(data: Any, path: tuple = ()) -> list[str]:
    """Where a NUL character hides in input (PostgreSQL refuses it in text)."""
    if isinstance(data, str):
        return [".".join(map(str, path)) or "body"] if "\x00" in data else []
    if isinstance(data, dict):
        return [f for k, v in data.items() for f in _nul_fields(k, path) + _nul_fields(v, (*path, k))]
    if isinstance(data, list):
        return [f for i, v in enumerate(data) for f in _nul_fields(v, (*path, i))]
    return []


def parse(model: type[M], data: Any) -> M:
    """Validate input against `model`, or InvalidInput with one message per field: first the
    fields one by one, then the rules across them (`Strict.problems`)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput.one("body", "must be a JSON object")
    if nul := _nul_fields(data):
        raise InvalidInput([{"field": f, "message": "must not contain NUL characters"} for f in nul])
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None
    if problems := parsed.problems():
        raise InvalidInput([{"field": f, "message": m} for f, m in problems])
    return parsed


def check_version(if_match: str | int | None, current: int) -> None:
    """An If-Match header that names another version than the current one is a conflict."""
    if if_match is None:
        return
    text = str(if_match).strip().removeprefix("W/").strip('"')
    if text == "*":
        return
    if text != str(current):
        raise VersionConflict(str(if_match)[:40], current)


@cache
def _next_number(dialect: str):
    """The counter's upsert in this dialect, built once (the values are parameters)."""
    t = ReferenceCounter.__table__
    return (insert_on_conflict(dialect, t, [t.c.prefix, t.c.year], update={"last": t.c.last + 1})
            .values(prefix=sa.bindparam("prefix"), year=sa.bindparam("year"), last=1).returning(t.c.last))


async def next_reference(uow: UnitOfWork, prefix: str, year: int) -> str:
    """RSO-P-2026-0001: numbers per prefix and year, never handed out twice."""
    stmt = _next_number(uow.session.get_bind().dialect.name)
    number = (await uow.session.exec(stmt, params={"prefix": prefix, "year": year})).scalar_one()
    return f"{prefix}-{year}-{number:04d}"


def record(uow: UnitOfWork, *, item_kind: str, item_id: int, actor: User | None, action: str,
           from_state: str | None, to_state: str, comment: str | None = None,
           arguments: dict | None = None, on_behalf_of: User | None = None,
           via: str | None = None) -> HistoryEvent:
    """Add the immutable history event of one action (actor None: the system), taken by
    `actor` in person, for `on_behalf_of` when in their seat, `via` a channel ("email_link")."""
    event = HistoryEvent(item_kind=item_kind, item_id=item_id, at=uow.now,
                         actor_id=actor.id if actor else None,
                         actor_role=actor.role if actor else "system",
                         actor_name=actor.name if actor else "RSO Workflow (system)",
                         action=action, from_state=from_state, to_state=to_state,
                         comment=comment, arguments=arguments or {},
                         on_behalf_of_id=on_behalf_of.id if on_behalf_of else None,
                         on_behalf_of_name=on_behalf_of.name if on_behalf_of else None, via=via)
    uow.session.add(event)
    return event


async def history(uow: UnitOfWork, item_kind: str, item_id: int) -> list[HistoryEvent]:
    q = (select(HistoryEvent).where(HistoryEvent.item_kind == item_kind, HistoryEvent.item_id == item_id)
         .order_by(HistoryEvent.id))
    return list((await uow.session.exec(q)).all())


# --- idempotent creation -------------------------------------------------------------------

def request_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200:
        raise InvalidInput.one("Idempotency-Key", "must be 1 to 200 characters")
    return key


async def replayed_item_id(uow: UnitOfWork, *, user: User, item_kind: str, key: str, digest: str) -> int | None:
    """The item a previous create with this key made, if any. The same key with another
    request body is a client mistake, refused rather than silently answered."""
    row = (await uow.session.exec(select(IdempotencyKey).where(
        IdempotencyKey.user_id == user.id, IdempotencyKey.item_kind == item_kind,
        IdempotencyKey.key == key))).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise InvalidInput.one("Idempotency-Key", "this key was already used for a different request")
    return row.item_id


def remember_key(uow: UnitOfWork, *, user: User, item_kind: str, key: str, digest: str, item_id: int) -> None:
    uow.session.add(IdempotencyKey(user_id=user.id, item_kind=item_kind, key=key, request_hash=digest,
                                   item_id=item_id, created_at=uow.now))
