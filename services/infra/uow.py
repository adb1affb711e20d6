"""The unit of work, and the container every service function receives."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.infra import writes
from services.infra.db import WRITE, utcnow

if TYPE_CHECKING:
    from services.config.calendar import BusinessCalendar
    from services.config.policy import Policy
    from services.engine.events import DomainEvent
    from services.engine.workflow import Workflow

EventWriter = Callable[["UnitOfWork"], Awaitable[None]]


@cache
def _table_order() -> dict[str, int]:
    """Each table's place in dependency order, parents first: the order rows go in on SQLite."""
    from sqlmodel import SQLModel
    return {t.name: i for i, t in enumerate(SQLModel.metadata.sorted_tables)}


class UnitOfWork:
    """One transaction. Rolls back unless `commit()` was called; collects domain events, which
    the service's event writers turn into rows (the outbox) when it writes.

    `write()` sends what the transaction changed (the session's objects, and rows the event
    writers queued with `add_rows`) as one statement on PostgreSQL (`services.infra.writes`);
    the objects written are then detached from the session, their ids filled in: read them,
    don't change them further. `commit()` writes what is left and commits."""

    def __init__(self, services: Services, write: bool):
        self.services = services
        self.session: AsyncSession = services.sessions(write=write)()
        self.events: list[DomainEvent] = []
        self.now: datetime = services.clock()
        self.acting_person = None  # who takes the action in person (a delegate, in another's seat)
        self._after: list[Callable[[], None]] = []
        self._queued: list[writes.Write] = []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type, exc, tb):
        # close() rolls back whatever was not committed; unlike rollback() it does not
        # expire the objects read, so a caller may keep using them.
        await self.session.close()

    def emit(self, event: DomainEvent) -> None:
        self.events.append(event)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this transaction has committed (never if it rolls back)."""
        self._after.append(callback)

    def add_rows(self, write: writes.Insert) -> None:
        """Rows to insert with the transaction's next write (an event writer's outbox rows)."""
        self._queued.append(write)

    async def write(self) -> None:
        """Send the transaction's changes: the event writers' rows and the session's objects,
        in one statement on PostgreSQL."""
        for writer in self.services.event_writers:
            await writer(self)
        queued, self._queued = self._queued, []
        found = writes.orm_changes(self.session, _table_order())
        if found is None:  # not plain: the ORM's own flush, then the rows
            await self.session.flush()
            await writes.run(self.session, queued)
            return
        changes, written = found
        await writes.run(self.session, changes + queued)
        for obj in written:
            self.session.expunge(obj)

    async def commit(self) -> None:
        await self.write()
        await self.session.commit()
        for callback in self._after:
            callback()


@dataclass
class Services:
    """What service functions need from the outside: the database, the clock, the calendar and
    timing policy, and the lifecycles served (explicitly: `services.wiring` names them)."""

    engine: AsyncEngine
    calendar: BusinessCalendar
    policy: Policy  # deadlines, reminders, escalations
    clock: Callable[[], datetime] = utcnow
    workflows: dict[str, Workflow] = field(default_factory=dict)  # by item kind: "proposal", ...
    event_writers: list[EventWriter] = field(default_factory=list)
    # The sessions this worker found live, on PostgreSQL (`services.accounts.sessions.LiveSessions`);
    # None: every request reads its session.
    live_sessions: Any = None
    # Where documents' files are kept (`services.infra.storage.Storage`), and the largest accepted.
    storage: Any = None
    upload_limit: int = 20 * 1024 * 1024

    def __post_init__(self):
        opts = dict(class_=AsyncSession, expire_on_commit=False, autoflush=False)
        self._reader = async_sessionmaker(self.engine, **opts)
        self._writer = async_sessionmaker(self.engine.execution_options(**WRITE), **opts)

    @property
    def timezone(self) -> ZoneInfo:
        return self.calendar.tz

    def sessions(self, *, write: bool = True) -> async_sessionmaker:
        """Sessions on this database (a writer's begin with the write lock on SQLite)."""
        return self._writer if write else self._reader

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self, write)

    def at(self, moment: datetime) -> Services:
        """The same services with a clock stopped at `moment`: what a sweep or a digest does
        as of a given moment is stamped with it."""
        return replace(self, clock=lambda: moment)

    def serve(self, workflows: Iterable[Workflow]) -> Services:
        self.workflows = {wf.kind: wf for wf in workflows}
        return self

    def workflow(self, kind: str) -> Workflow:
        return self.workflows[kind]

    async def dispose(self) -> None:
        await self.engine.dispose()
