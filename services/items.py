"""What every lifecycle's items share: references, history, tasks, idempotent creation,
version checks and input parsing. Proposals use it now; secondments will too."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import or_, select

from services.errors import InvalidInput, VersionConflict
from services.events import DomainEvent
from services.models import HistoryEvent, IdempotencyKey, ReferenceCounter, Task, User
from services.uow import UnitOfWork
from states.common import Role

M = TypeVar("M", bound=BaseModel)


class TaskStatus:
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


def _nul_fields(data: Any, path: tuple = ()) -> list[str]:
    """Where a NUL character hides in input (PostgreSQL refuses it in text)."""
    if isinstance(data, str):
        return [".".join(map(str, path)) or "body"] if "\x00" in data else []
    if isinstance(data, dict):
        return [f for k, v in data.items() for f in _nul_fields(k, path) + _nul_fields(v, (*path, k))]
    if isinstance(data, list):
        return [f for i, v in enumerate(data) for f in _nul_fields(v, (*path, i))]
    return []


def parse(model: type[M], data: Any, prefix: tuple = ()) -> M:
    """Validate input against `model`, or InvalidInput with one message per field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput.one(".".join(prefix) or "body", "must be a JSON object")
    if nul := _nul_fields(data, prefix):
        raise InvalidInput([{"field": f, "message": "must not contain NUL characters"} for f in nul])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc, prefix) from None


def check_version(if_match: str | int | None, current: int) -> None:
    """An If-Match header that names another version than the current one is a conflict."""
    if if_match is None:
        return
    text = str(if_match).strip().removeprefix("W/").strip('"')
    if text == "*":
        return
    if text != str(current):
        raise VersionConflict(str(if_match)[:40], current)


async def next_reference(uow: UnitOfWork, prefix: str, year: int) -> str:
    """RSO-P-2026-0001: numbers per prefix and year, never handed out twice."""
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    t = ReferenceCounter.__table__
    stmt = (insert(t).values(prefix=prefix, year=year, last=1)
            .on_conflict_do_update(index_elements=[t.c.prefix, t.c.year], set_={"last": t.c.last + 1})
            .returning(t.c.last))
    number = (await uow.session.exec(stmt)).scalar_one()
    return f"{prefix}-{year}-{number:04d}"


def record(uow: UnitOfWork, *, item_kind: str, item_id: int, actor: User | None, action: str,
           from_state: str | None, to_state: str, comment: str | None = None,
           arguments: dict | None = None) -> HistoryEvent:
    """Add the immutable history event of one action (actor None: the system)."""
    event = HistoryEvent(item_kind=item_kind, item_id=item_id, at=uow.now,
                         actor_id=actor.id if actor else None,
                         actor_role=actor.role if actor else "system",
                         actor_name=actor.name if actor else "RSO Workflow (system)",
                         action=action, from_state=from_state, to_state=to_state,
                         comment=comment, arguments=arguments or {})
    uow.session.add(event)
    return event


async def history(uow: UnitOfWork, item_kind: str, item_id: int) -> list[HistoryEvent]:
    q = (select(HistoryEvent).where(HistoryEvent.item_kind == item_kind, HistoryEvent.item_id == item_id)
         .order_by(HistoryEvent.id))
    return list((await uow.session.exec(q)).all())


# --- tasks -------------------------------------------------------------------------------

def open_task(uow: UnitOfWork, *, item_kind: str, item_id: int, reference: str, kind: str,
              due_at: datetime, round: int | None = None, assignee: User | None = None,
              role: Role | None = None, country: str | None = None,
              member_state: str | None = None) -> Task:
    task = Task(item_kind=item_kind, item_id=item_id, kind=kind, round=round, due_at=due_at,
                created_at=uow.now, assignee_id=assignee.id if assignee else None,
                assignee_role=role.value if role else None, assignee_country=country,
                assignee_member_state=member_state)
    from services.deadlines import next_notice_after
    task.next_notice_at = next_notice_after(task, uow.now, uow.services.policy, uow.services.calendar)
    uow.session.add(task)
    uow.emit(DomainEvent("task_assigned", item_kind, item_id, reference,
                         {"task": task, "kind": kind}))
    return task


def close_tasks(uow: UnitOfWork, tasks: Iterable[Task], status: str, by: User | None = None) -> None:
    for t in tasks:
        if t.status == TaskStatus.OPEN:
            t.status, t.closed_at, t.closed_by_id = status, uow.now, (by.id if by else None)


async def open_tasks_of(uow: UnitOfWork, item_kind: str, item_ids: Iterable[int]) -> list[Task]:
    ids = list(item_ids)
    if not ids:
        return []
    q = (select(Task).where(Task.item_kind == item_kind, Task.item_id.in_(ids), Task.status == TaskStatus.OPEN)
         .order_by(Task.due_at, Task.id))
    return list((await uow.session.exec(q)).all())


def assigned_to(task: Task, user: User) -> bool:
    """Is this task the user's to do (their own, their seat's, or their role's shared one)?"""
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    return (task.assignee_role == user.role
            and task.assignee_country in (None, user.country)
            and task.assignee_member_state in (None, user.member_state))


def tasks_of_user_clause(user: User):
    """The SQL form of `assigned_to`, for the inbox."""
    seat = (Task.assignee_role == user.role) & or_(Task.assignee_country.is_(None), Task.assignee_country == user.country) \
        & or_(Task.assignee_member_state.is_(None), Task.assignee_member_state == user.member_state)
    return or_(Task.assignee_id == user.id, Task.assignee_id.is_(None) & seat)


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
