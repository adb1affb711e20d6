"""Each user's private calendar feed (iCalendar) of their open tasks' due dates, at a secret
address they can renew. The address carries a token signed for the "calendar-feed" purpose over
the user's id and the feed's generation; renewing moves the generation on, so every address
given before stops working. No session is involved: whoever holds the address reads the feed,
which is why it says no more than the inbox does."""
from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlmodel import Field, SQLModel

from services.engine import workflow
from services.engine.errors import NotFound
from services.engine.models import User, moment
from services.engine.schemas import TaskPublic
from services.infra.db import insert_on_conflict
from services.infra.signing import BadSignature, Signer
from services.infra.uow import Services
from services.mail import task_name


class CalendarFeed(SQLModel, table=True):
    """A user's feed's current generation (no row: generation 0, never renewed)."""

    __tablename__ = "calendar_feeds"

    user_id: int = Field(primary_key=True, foreign_key="users.id")
    generation: int = 0
    renewed_at: datetime = moment()


SIGNER_PURPOSE = "calendar-feed"
PRODID = "-//Regional Support Office of the Bali Process//RSO Workflow//EN"


def _signer(secret: str) -> Signer:
    return Signer(secret, SIGNER_PURPOSE)


async def _generation(uow, user_id: int) -> int:
    row = await uow.session.get(CalendarFeed, user_id)
    return row.generation if row else 0


def _url(secret: str, base_url: str, user_id: int, generation: int) -> str:
    token = _signer(secret).sign({"u": user_id, "g": generation})
    return f"{base_url.rstrip('/')}/calendar/{token}.ics"


async def feed_url(svc: Services, *, secret: str, base_url: str, user: User) -> str:
    """The signed-in user's own feed's address, as of its current generation. Changes nothing."""
    async with svc.uow(write=False) as uow:
        generation = await _generation(uow, user.id)
    return _url(secret, base_url, user.id, generation)


async def renew(svc: Services, *, secret: str, base_url: str, user: User) -> str:
    """A new address for the signed-in user's own feed: its generation moves on (in one
    statement, so two renewals at once give two generations), and every address given before
    stops working. Returns the new address."""
    t = CalendarFeed.__table__
    async with svc.uow() as uow:
        stmt = insert_on_conflict(uow.session, t, [t.c.user_id],
                                  update={"generation": t.c.generation + 1, "renewed_at": uow.now})
        generation = (await uow.session.exec(
            stmt.values(user_id=user.id, generation=1, renewed_at=uow.now).returning(t.c.generation))).scalar_one()
        await uow.commit()
    return _url(secret, base_url, user.id, generation)


def _reader(secret: str, token: str) -> tuple[int, int]:
    """(user id, generation) of a token signed for feeds; NotFound for anything else."""
    try:
        payload = _signer(secret).read(token)
    except BadSignature:
        raise NotFound("calendar feed") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int) or not isinstance(payload.get("g"), int):
        raise NotFound("calendar feed")
    return payload["u"], payload["g"]


async def feed(svc: Services, *, secret: str, base_url: str, token: str) -> bytes:
    """The feed at a secret address, for whoever holds it (no session): the open tasks of the
    user it names, from their inbox, as iCalendar. NotFound when the token is not a feed's, was
    renewed since, or names a user who is no longer active. Changes nothing."""
    user_id, generation = _reader(secret, token)
    async with svc.uow(write=False) as uow:
        user = await uow.session.get(User, user_id)
        current = await _generation(uow, user_id)
    if user is None or not user.active or generation != current:
        raise NotFound("calendar feed")
    return calendar_of(svc, base_url, user, await workflow.inbox(svc, user=user))


def _summary(svc: Services, task: TaskPublic) -> str:
    words = f"{task.reference} {task.title}: {task_name(svc, task)}"
    on_behalf_of = getattr(task, "on_behalf_of", None)  # a delegate's task, for the absent person
    return f"{words} for {on_behalf_of}" if on_behalf_of else words


def calendar_of(svc: Services, base_url: str, user: User, tasks: list[TaskPublic]) -> bytes:
    """The tasks as an iCalendar document: one all-day event each, on its due day in the RSO's
    calendar, stamped with the service's clock. A task's UID stays the same while it is open, so
    a calendar app updates its event (a new due day) rather than adding another."""
    stamp = svc.clock()
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"RSO Workflow tasks — {user.name}")
    cal.add("x-wr-timezone", str(svc.timezone))
    for task in tasks:
        link = f"{base_url.rstrip('/')}/{svc.workflow(task.item_kind).path}/{task.reference}"
        event = Event()
        event.add("uid", f"task-{task.id}@rso-workflow")
        event.add("dtstamp", stamp)
        event.add("dtstart", task.due_date)
        event.add("dtend", task.due_date + timedelta(days=1))
        event.add("summary", _summary(svc, task))
        event.add("description", f"Due {task.due_date:%A %-d %B %Y}. Open it: {link}")
        event.add("url", link)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
