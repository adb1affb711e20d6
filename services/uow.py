"""The unit of work and the container every service function receives."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.calendar import BusinessCalendar
from services.db import WRITE, utcnow
from services.policy import Policy, load_policy
from services.events import DomainEvent

EventWriter = Callable[["UnitOfWork"], Awaitable[None]]


class UnitOfWork:
    """One transaction. Rolls back unless `commit()` was called; collects domain events."""

    def __init__(self, services: Services, write: bool):
        self.services = services
        self.session: AsyncSession = (services._writer if write else services._reader)()
        self.events: list[DomainEvent] = []
        self.now: datetime = services.clock()
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type, exc, tb):
        # close() rolls back whatever was not committed; unlike rollback() it does not
        # expire the objects read, so a caller may keep using them.
        await self.session.close()

    def emit(self, event: DomainEvent) -> None:
        self.events.append(event)

    async def commit(self) -> None:
        for writer in self.services.event_writers:
            await writer(self)
        await self.session.commit()
        self._committed = True
        for hook in self.services.after_commit:
            hook(self)


@dataclass
class Services:
    """What service functions need from the outside: the database, the clock, the calendar."""

    engine: AsyncEngine
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Bangkok"))
    calendar: BusinessCalendar | None = None  # default: Thailand's, in `timezone`
    policy: Policy = field(default_factory=load_policy)  # deadlines, reminders, escalations
    clock: Callable[[], datetime] = utcnow
    event_writers: list[EventWriter] = field(default_factory=list)
    after_commit: list[Callable[[UnitOfWork], None]] = field(default_factory=list)

    def __post_init__(self):
        if self.calendar is None:
            self.calendar = BusinessCalendar("TH", self.timezone)
        opts = dict(class_=AsyncSession, expire_on_commit=False, autoflush=False)
        self._reader = async_sessionmaker(self.engine, **opts)
        self._writer = async_sessionmaker(self.engine.execution_options(**WRITE), **opts)

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self, write)

    async def dispose(self) -> None:
        await self.engine.dispose()
