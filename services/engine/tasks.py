"""Tasks: the human steps of every lifecycle, each with an owner and a due date.

This module owns what a task is: its kinds and statuses, who it is for (one rule, read in
Python for a loaded task, in SQL for an inbox and for the people to email), when its
reminders and escalations fall (the notice schedule, from the timing policy and the
calendar), opening and closing tasks, and the notices the deadline sweep has sent.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select

from services.engine.events import DomainEvent, EventName
from services.engine.models import User, moment
from services.infra.db import insert_rows, update_rows, utcnow
from services.engine.people import STAFF, directory
from states.common import Role

if TYPE_CHECKING:
    from services.config.calendar import BusinessCalendar
    from services.config.policy import Policy
    from services.infra.uow import UnitOfWork


class TaskKind(StrEnum):
    REVIEW = "review"  # a co-manager's review of a proposal
    CONSULTATION = "consultation"  # a stakeholder's response
    GUIDANCE = "guidance"  # the co-chairs' guidance
    DECISION = "decision"  # the co-managers' decision on a nomination
    EXTENSION = "extension"  # the co-managers' decision on an extension request
    FINAL_REPORT = "final_report"  # the member state's final report of a secondment


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # its state was left before it was done
    EXPIRED = "expired"  # closed for want of an answer (a consultation closed without it)


class Task(SQLModel, table=True):
    """A human step with an owner and a due date.

    The assignee is a user (`assignee_id`), or a role seat: `assignee_role` with an optional
    `assignee_country` ("the Australian co-manager") or `assignee_member_state`; a role with
    neither is shared by everyone in it ("both co-chairs": whoever acts first completes it).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_item_status", "item_kind", "item_id", "status"),
        sa.Index("ix_tasks_status_due_at", "status", "due_at"),
        # The sweep reads only what has a notice due: its cost follows what is due, not what is open.
        sa.Index("ix_tasks_next_notice", "next_notice_at", postgresql_where=sa.text("status = 'open'"),
                 sqlite_where=sa.text("status = 'open'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    kind: str = Field(max_length=20)  # a TaskKind
    round: int | None = None
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    assignee_role: str | None = Field(default=None, max_length=20)
    assignee_country: str | None = Field(default=None, max_length=3)
    assignee_member_state: str | None = Field(default=None, max_length=10)
    status: str = Field(default=TaskStatus.OPEN.value, max_length=12)  # a TaskStatus
    due_at: datetime = moment()
    created_at: datetime = moment(default_factory=utcnow)
    closed_at: datetime | None = moment(default=None)
    closed_by_id: int | None = Field(default=None, foreign_key="users.id")
    # When the next reminder or escalation of this task is due (None: no more).
    next_notice_at: datetime | None = moment(default=None)


class DeadlineNotice(SQLModel, table=True):
    """A reminder, an escalation or a timed step the sweep has taken: at most once per `key`
    ("task:12:reminder:1", "secondment:3:extension_ask:2027-06-30"), however often and
    however many sweeps run at once."""

    __tablename__ = "deadline_notices"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    task_id: int | None = Field(default=None, foreign_key="tasks.id")
    kind: str = Field(max_length=30)
    due_at: datetime = moment()  # the moment the notice was scheduled for
    created_at: datetime = moment(default_factory=utcnow)  # when a sweep sent it


# --- who a task is for ---------------------------------------------------------------------

class _InPython:
    and_ = staticmethod(lambda *xs: all(xs))
    or_ = staticmethod(lambda *xs: any(xs))
    is_none = staticmethod(lambda x: x is None)


class _InSql:
    and_ = staticmethod(sa.and_)
    or_ = staticmethod(sa.or_)
    is_none = staticmethod(lambda x: x.is_(None) if hasattr(x, "is_") else x is None)  # a column, or a value


def _is_for(task: Any, user: Any, ops) -> Any:
    """The rule, written once: the task is the user's own, or it is their seat's or their
    role's shared one. `task` and `user` are rows or columns; `ops` reads it in Python or SQL."""
    seat = ops.and_(task.assignee_role == user.role,
                    ops.or_(ops.is_none(task.assignee_country), task.assignee_country == user.country),
                    ops.or_(ops.is_none(task.assignee_member_state),
                            task.assignee_member_state == user.member_state))
    return ops.or_(task.assignee_id == user.id, ops.and_(ops.is_none(task.assignee_id), seat))


def is_for(task: Task, user: User) -> bool:
    """Is this (loaded) task the user's to do?"""
    return bool(_is_for(task, user, _InPython))


def tasks_for(user: User):
    """The SQL condition on tasks: those that are this user's to do (their inbox)."""
    return _is_for(Task, user, _InSql)


async def people_for(uow: UnitOfWork, task: Task) -> list[User]:
    """The active users this task is for (whom its emails go to)."""
    everyone = await directory(uow)
    if everyone is not None:
        return [u for _, u in sorted(everyone.items()) if u.active and is_for(task, u)]
    q = select(User).where(User.active.is_(True), _is_for(task, User, _InSql)).order_by(User.id)
    return list((await uow.session.exec(q)).all())


# --- the notice schedule -----------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    at: datetime
    kind: str  # reminder, escalation
    seq: int  # which reminder, which escalation (0, 1, ...)


def schedule(task: Task, policy: Policy, cal: BusinessCalendar) -> Iterator[Notice]:
    """The task's notices in time order: its reminders, then its escalations (one, or one
    every so many business days while it stays open)."""
    p, due_day = policy.task(task.kind), cal.today(task.due_at)
    reminders = sorted(cal.add_business_days(due_day, -b) for b in p.remind_business_days_before)
    for i, day in enumerate(reminders):
        yield Notice(cal.at(day, policy.notice_hour), EventName.REMINDER, i)
    if p.escalate_business_days_after is None:
        return
    day, n = cal.add_business_days(due_day, p.escalate_business_days_after), 0
    while True:
        yield Notice(cal.at(day, policy.notice_hour), EventName.ESCALATION, n)
        if not p.escalate_every_business_days:
            return
        day, n = cal.add_business_days(day, p.escalate_every_business_days), n + 1


def next_notice_after(task: Task, moment_: datetime, policy: Policy, cal: BusinessCalendar) -> datetime | None:
    return next((n.at for n in schedule(task, policy, cal) if n.at > moment_), None)


def due_notices(task: Task, since: datetime, now: datetime, policy: Policy, cal: BusinessCalendar) -> list[Notice]:
    """The notices between `since` and `now`. After a gap (the sweeper was down), only the
    latest of each kind goes out: one reminder and one escalation, not a backlog."""
    latest: dict[str, Notice] = {}
    for n in schedule(task, policy, cal):
        if n.at > now:
            break
        if n.at >= since:
            latest[n.kind] = n
    return sorted(latest.values(), key=lambda n: n.at)


# What the sweep reads of a task with a notice due: enough to schedule its notices and to
# find its people, and no more (each column of 500 rows costs a decoding, a batch at a time).
# The table's columns, not the ORM's attributes: a plain Core statement, which SQLAlchemy runs
# without the ORM's compile and result layers.
DUE_COLUMNS = tuple(Task.__table__.c[name] for name in (
    "id", "item_kind", "item_id", "kind", "due_at", "next_notice_at",
    "assignee_id", "assignee_role", "assignee_country", "assignee_member_state"))


def due_tasks(now: datetime, batch: int):
    """The next batch of open tasks with a notice due, locked, skipping what another sweeper
    holds. The explicit ORDER BY ... LIMIT keeps PostgreSQL on the partial index
    `ix_tasks_next_notice` (without it the planner may scan the table)."""
    t = Task.__table__
    return (sa.select(*DUE_COLUMNS).where(t.c.status == TaskStatus.OPEN, t.c.next_notice_at <= now)
            .order_by(t.c.next_notice_at).limit(batch).with_for_update(skip_locked=True))


async def set_next_notices(uow: UnitOfWork, tasks: list, moments: list[datetime | None]) -> None:
    """Each task's next notice, by one UPDATE."""
    await update_rows(uow.session, Task.__table__, "id",
                      [{"id": task.id, "next_notice_at": at} for task, at in zip(tasks, moments)])


async def claim_notices(uow: UnitOfWork, notices: list[dict]) -> set[str]:
    """Record these notices ({key, item_kind, item_id, kind, due_at, task_id?}); the keys
    recorded now, not by an earlier or a concurrent sweep. What a sweep sends, it claims first."""
    if not notices:
        return set()
    t = DeadlineNotice.__table__
    rows = [{"task_id": None, **n, "created_at": uow.now} for n in notices]
    return set(await insert_rows(uow.session, t, rows, keys=[t.c.key], returning=t.c.key))


# --- opening and closing -----------------------------------------------------------------

def open_task(uow: UnitOfWork, *, item_kind: str, item_id: int, reference: str, kind: TaskKind,
              due_at: datetime, round: int | None = None, assignee: User | None = None,
              role: Role | None = None, country: str | None = None,
              member_state: str | None = None) -> Task:
    """A new open task, with its first notice scheduled; its people are told (an event)."""
    svc = uow.services
    task = Task(item_kind=item_kind, item_id=item_id, kind=kind.value, round=round, due_at=due_at,
                created_at=uow.now, assignee_id=assignee.id if assignee else None,
                assignee_role=role.value if role else None, assignee_country=country,
                assignee_member_state=member_state)
    task.next_notice_at = next_notice_after(task, uow.now, svc.policy, svc.calendar)
    uow.session.add(task)
    uow.emit(DomainEvent(EventName.TASK_ASSIGNED, item_kind, item_id, reference, {"task": task}))
    return task


def due_in(uow: UnitOfWork, kind: TaskKind) -> datetime:
    """When a task of `kind` opened now is due, by the timing policy."""
    svc = uow.services
    return svc.calendar.due_in(uow.now, svc.policy.task(kind).due_business_days)


def close_tasks(uow: UnitOfWork, tasks: Iterable[Task], status: TaskStatus, by: User | None = None) -> None:
    for t in tasks:
        if t.status == TaskStatus.OPEN:
            t.status, t.closed_at, t.closed_by_id = status.value, uow.now, (by.id if by else None)


async def open_tasks_of(uow: UnitOfWork, item_kind: str, item_ids: Iterable[int]) -> list[Task]:
    ids = list(item_ids)
    if not ids:
        return []
    q = (select(Task).where(Task.item_kind == item_kind, Task.item_id.in_(ids), Task.status == TaskStatus.OPEN)
         .order_by(Task.due_at, Task.id))
    return list((await uow.session.exec(q)).all())


# --- how a task reads --------------------------------------------------------------------

async def assignee_names(uow: UnitOfWork, tasks: Iterable[Task], viewer: User | None = None) -> dict[int, str]:
    """Who each task's person is, in words. A `viewer` outside the RSO's staff (a member
    state, a stakeholder) sees the name of their own task only: "another stakeholder" for the
    others, so that invitees are not told of each other."""
    ids = {t.assignee_id for t in tasks if t.assignee_id is not None}
    if not ids:
        return {}
    everyone = await directory(uow)
    if everyone is not None:
        rows = [(u.id, u.name, u.organisation, u.role) for i in ids if (u := everyone.get(i)) is not None]
    else:
        rows = await uow.session.exec(select(User.id, User.name, User.organisation, User.role).where(User.id.in_(ids)))
    private = viewer is not None and viewer.role not in STAFF
    return {i: f"another {r.replace('_', ' ')}" if private and i != viewer.id else f"{n} ({o})" if o else n
            for i, n, o, r in rows}


def assignee_label(task: Task, names: dict[int, str]) -> str:
    """Who is to act, in words: "co-manager (AUS)", "both co-chairs", a person's name."""
    if task.assignee_id is not None:
        return names.get(task.assignee_id, f"user {task.assignee_id}")
    role = task.assignee_role.replace("_", "-")
    if task.assignee_country:
        return f"{role} ({task.assignee_country})"
    if task.assignee_member_state:
        return f"{role} ({task.assignee_member_state})"
    return f"both {role}s"


def due_day(task: Task, cal: BusinessCalendar) -> date:
    return cal.today(task.due_at)
