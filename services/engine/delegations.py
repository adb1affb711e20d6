"""Delegation: a co-manager or co-chair who is away names an acting person for a period (or an
admin does it for them). While it runs, the absent person's tasks are also in the delegate's
inbox, their task emails go to both, and the delegate acts in the absent person's seat; the
history records "X for Y".

The two-key rule holds here and in `states.proposal`: nobody holds both co-manager seats (the
other seat's holder, in person or as its delegate for any day of the period, can never be
named), and a person gives at most one of a round's two reviews.

A period is a span of days in the RSO's calendar, both ends included. A delegation is never
deleted: ending it early records when and by whom."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel, select

from services.engine.errors import Forbidden, InvalidInput, NotFound
from services.engine.events import DomainEvent, EventName
from services.engine.models import User, moment
from services.engine.people import directory, normalise_email
from services.engine.tasks import open_tasks_of, people_for
from services.infra.db import utcnow
from states.common import Role

if TYPE_CHECKING:
    from services.infra.uow import Services, UnitOfWork

# Who may be away with someone acting for them, and who may act: the RSO's decision makers.
# A member state or a stakeholder acting in an RSO seat would judge its own case; an admin
# takes no workflow decision.
SEATED = frozenset({Role.CO_MANAGER.value, Role.CO_CHAIR.value})
LONGEST_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # as every day of the API (`schemas.Day`)


class Delegation(SQLModel, table=True):
    __tablename__ = "delegations"
    __table_args__ = (sa.Index("ix_delegations_delegate", "delegate_id", "ends_on"),
                      sa.Index("ix_delegations_principal", "principal_id", "ends_on"))

    id: int | None = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="users.id")  # the one away
    delegate_id: int = Field(foreign_key="users.id")  # the one acting
    starts_on: date
    ends_on: date  # the last day, included
    created_by_id: int = Field(foreign_key="users.id")
    created_at: datetime = moment(default_factory=utcnow)
    ended_at: datetime | None = moment(default=None)  # ended early (the period then stops that day)
    ended_by_id: int | None = Field(default=None, foreign_key="users.id")


class DelegationView(BaseModel):
    """A delegation as the API and the page show it."""

    id: int
    principal: str  # name
    principal_email: str
    principal_role: str
    principal_country: str | None
    delegate: str
    delegate_email: str
    starts_on: date
    ends_on: date
    status: str  # scheduled, active, over, ended
    created_by: str
    ended_at: datetime | None


def _day(d: date) -> str:
    return d.strftime("%-d %B %Y")


def seat_words(user: User) -> str:
    """"the Australian co-manager's seat"-like words: "co-manager (AUS)"."""
    return f"{user.role.replace('_', '-')} ({user.country})" if user.country else user.role.replace("_", "-")


def _live(d=Delegation):
    return d.ended_at.is_(None)


def _running(today: date, d=Delegation):
    return sa.and_(_live(d), d.starts_on <= today, d.ends_on >= today)


# The delegations not ended, as a worker keeps them (`_kept`): (principal, delegate, first day, last day).
_LIVE_ROWS = sa.select(Delegation.__table__.c.principal_id, Delegation.__table__.c.delegate_id,
                       Delegation.__table__.c.starts_on, Delegation.__table__.c.ends_on).where(
    Delegation.__table__.c.ended_at.is_(None), Delegation.__table__.c.ends_on >= sa.bindparam("since", type_=sa.Date))


async def _load_live(uow: UnitOfWork) -> list[tuple[int, int, date, date]]:
    since = uow.services.calendar.today(uow.now) - timedelta(days=2)  # kept past midnight: days are filtered on use
    return [tuple(r) for r in (await uow.session.exec(_LIVE_ROWS, params={"since": since})).all()]


async def _kept(uow: UnitOfWork) -> tuple[list[tuple[int, int, date, date]], dict[int, User]] | None:
    """The delegations not ended and every user, as this worker keeps them while it hears of
    every change (PostgreSQL: a change to `delegations` is announced, as one to users is; see
    `services.accounts.sessions.LiveSessions`); None: ask the database. A request of a
    co-manager then reads nothing more for delegation."""
    keeper = uow.services.live_sessions
    if keeper is None:
        return None
    rows = await keeper.kept("delegations", uow, _load_live)
    people = await directory(uow) if rows is not None else None
    return None if rows is None or people is None else (rows, people)


async def principals(uow: UnitOfWork, user: User) -> list[User]:
    """Those `user` acts for today (active users, by id): none for anyone who cannot be a
    delegate, without asking the database."""
    if user.role not in SEATED:
        return []
    today = uow.services.calendar.today(uow.now)
    kept = await _kept(uow)
    if kept is not None:
        rows, people = kept
        ids = sorted({p for p, d, a, b in rows if d == user.id and a <= today <= b})
        return [people[i] for i in ids if i in people and people[i].active]
    q = (select(User).join(Delegation, Delegation.principal_id == User.id)
         .where(Delegation.delegate_id == user.id, _running(today), User.active.is_(True)).order_by(User.id))
    return list((await uow.session.exec(q)).all())


async def delegates_of(uow: UnitOfWork, ids: list[int] | None) -> dict[int, list[User]]:
    """For each of these users away today (None: everyone away), the active people acting for them."""
    if ids is not None and not ids:
        return {}
    today = uow.services.calendar.today(uow.now)
    kept = await _kept(uow)
    if kept is not None:
        rows, people = kept
        wanted, out = set(ids) if ids is not None else None, {}
        for p, d, a, b in sorted(rows, key=lambda r: r[1]):
            if (wanted is None or p in wanted) and a <= today <= b and d in people and people[d].active:
                out.setdefault(p, []).append(people[d])
        return out
    q = (select(Delegation.principal_id, User).join(User, User.id == Delegation.delegate_id)
         .where(_running(today), User.active.is_(True)).order_by(User.id))
    if ids is not None:
        q = q.where(Delegation.principal_id.in_(ids))
    found: dict[int, list[User]] = {}
    for pid, u in (await uow.session.exec(q)).all():
        found.setdefault(pid, []).append(u)
    return found


@dataclass(frozen=True)
class Away:
    """Someone away today, and who acts for them until when."""

    until: date
    delegates: list[str]


async def away(uow: UnitOfWork, user: User) -> Away | None:
    if user.role not in SEATED:
        return None
    today = uow.services.calendar.today(uow.now)
    q = (select(Delegation.ends_on, User.name).join(User, User.id == Delegation.delegate_id)
         .where(Delegation.principal_id == user.id, _running(today), User.active.is_(True))
         .order_by(Delegation.ends_on))
    rows = (await uow.session.exec(q)).all()
    if not rows:
        return None
    return Away(until=max(r[0] for r in rows), delegates=[r[1] for r in rows])


def _status(d: Delegation, today: date) -> str:
    if d.ended_at is not None:
        return "ended"
    if d.ends_on < today:
        return "over"
    return "active" if d.starts_on <= today else "scheduled"


async def _user_by_email(uow: UnitOfWork, email: str, field: str) -> User:
    address = normalise_email(email, field)
    found = (await uow.session.exec(select(User).where(User.email == address))).first()
    if found is None or not found.active:
        raise InvalidInput.one(field, f"no active user has the address {address}")
    return found


async def _views(uow: UnitOfWork, rows: list[Delegation]) -> list[DelegationView]:
    ids = {i for d in rows for i in (d.principal_id, d.delegate_id, d.created_by_id)}
    people = {u.id: u for u in (await uow.session.exec(select(User).where(User.id.in_(ids)))).all()} if ids else {}
    today = uow.services.calendar.today(uow.now)
    return [DelegationView(id=d.id, principal=people[d.principal_id].name, principal_email=people[d.principal_id].email,
                           principal_role=people[d.principal_id].role,
                           principal_country=people[d.principal_id].country,
                           delegate=people[d.delegate_id].name, delegate_email=people[d.delegate_id].email,
                           starts_on=d.starts_on, ends_on=d.ends_on, status=_status(d, today),
                           created_by=people[d.created_by_id].name, ended_at=d.ended_at)
            for d in rows]


async def _check(uow: UnitOfWork, principal: User, delegate: User, starts_on: date, ends_on: date) -> None:
    """Refuse, naming the field, what may not be: every rule of the period and of the two keys."""
    today = uow.services.calendar.today(uow.now)
    problems: list[dict] = []
    if delegate.id == principal.id:
        problems.append({"field": "delegate", "message": "you cannot act for yourself: name someone else"})
    elif delegate.role not in SEATED:
        problems.append({"field": "delegate", "message": (
            f"{delegate.name} is a {delegate.role.replace('_', ' ')}: only a co-manager or a co-chair may act "
            "in an RSO seat")})
    elif (principal.role == Role.CO_MANAGER and delegate.role == Role.CO_MANAGER
          and delegate.country != principal.country):
        problems.append({"field": "delegate", "message": (
            f"{delegate.name} holds the other co-manager seat ({delegate.country}): nobody may hold both "
            "co-manager seats, so the two reviews stay two people's.")})
    for name, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if not FIRST_DAY <= day <= LAST_DAY:
            problems.append({"field": name, "message": f"must be between {FIRST_DAY.isoformat()} and "
                                                       f"{LAST_DAY.isoformat()}"})
    if problems:
        raise InvalidInput(problems)
    if ends_on < starts_on:
        problems.append({"field": "ends_on", "message": "must not be before the first day (starts_on)"})
    elif ends_on < today:
        problems.append({"field": "ends_on", "message": f"is in the past: today is {_day(today)}"})
    elif (ends_on - starts_on).days + 1 > LONGEST_DAYS:
        problems.append({"field": "ends_on", "message": f"a delegation lasts at most {LONGEST_DAYS} days"})
    if problems:
        raise InvalidInput(problems)
    overlap = sa.and_(_live(), Delegation.starts_on <= ends_on, Delegation.ends_on >= starts_on)
    # One acting person at a time for each person away.
    q = (select(Delegation, User.name).join(User, User.id == Delegation.delegate_id)
         .where(Delegation.principal_id == principal.id, overlap))
    if (row := (await uow.session.exec(q)).first()) is not None:
        d, name = row
        raise InvalidInput.one("starts_on", (
            f"{name} already acts for {principal.name} from {_day(d.starts_on)} to {_day(d.ends_on)}: "
            "end that delegation first, or choose days outside it"))
    if principal.role == Role.CO_MANAGER:
        # The delegate must not hold the other co-manager seat on any day of the period.
        other = (select(Delegation, User).join(User, User.id == Delegation.principal_id)
                 .where(Delegation.delegate_id == delegate.id, overlap, User.role == Role.CO_MANAGER.value,
                        User.country != principal.country))
        if (row := (await uow.session.exec(other)).first()) is not None:
            d, held = row
            raise InvalidInput.one("delegate", (
                f"{delegate.name} acts for {held.name} in the other co-manager seat ({held.country}) from "
                f"{_day(d.starts_on)} to {_day(d.ends_on)}: nobody may hold both co-manager seats."))


async def create(svc: Services, *, user: User, delegate: str, starts_on: date, ends_on: date,
                 principal: str | None = None) -> DelegationView:
    """`user` (a co-manager or co-chair) names `delegate` (an email) to act for them from
    `starts_on` to `ends_on`; an admin names the person away (`principal`)."""
    if user.role == Role.ADMIN:
        if not principal:
            raise InvalidInput.one("principal", "an admin names whose seat is covered (their email)")
    elif user.role not in SEATED:
        raise Forbidden("only a co-manager or a co-chair names someone to act for them (or an admin for them)")
    elif principal and normalise_email(principal, "principal") != user.email:
        raise Forbidden("only an admin names someone to act for another person")
    async with svc.uow() as uow:
        away_user = user if user.role != Role.ADMIN else await _user_by_email(uow, principal, "principal")
        if away_user.role not in SEATED:
            raise InvalidInput.one("principal", f"{away_user.name} holds no co-manager's or co-chair's seat")
        acting = await _user_by_email(uow, delegate, "delegate")
        # Both people's rows locked (PostgreSQL) while the rules are checked and the row written:
        # two namings at once of the same person away, or of the same delegate, take turns.
        await uow.session.exec(select(User.id).where(User.id.in_([away_user.id, acting.id]))
                               .order_by(User.id).with_for_update())
        await _check(uow, away_user, acting, starts_on, ends_on)
        d = Delegation(principal_id=away_user.id, delegate_id=acting.id, starts_on=starts_on, ends_on=ends_on,
                       created_by_id=user.id, created_at=uow.now)
        uow.session.add(d)
        await uow.session.flush()
        uow.emit(DomainEvent(EventName.DELEGATED, "delegation", d.id, "", {
            "principal": away_user, "delegate": acting, "by": user, "starts_on": starts_on, "ends_on": ends_on,
            "ended": False}))
        (view,) = await _views(uow, [d])
        await uow.commit()
    _changed(svc)
    return view


def _changed(svc: Services) -> None:
    """This worker forgets what it kept at once (the others hear of it from the database)."""
    if svc.live_sessions is not None:
        svc.live_sessions.forget()


def _mine(user: User):
    if user.role == Role.ADMIN:
        return sa.true()
    return sa.or_(Delegation.principal_id == user.id, Delegation.delegate_id == user.id)


async def listing(svc: Services, *, user: User, include_past: bool = False) -> list[DelegationView]:
    """The delegations `user` is part of (an admin: all): those not over yet, soonest first;
    with `include_past`, every one. Forbidden to anyone else: member states and stakeholders
    neither cover nor are covered."""
    if user.role not in SEATED and user.role != Role.ADMIN:
        raise Forbidden("cover while away is for co-managers, co-chairs and admins")
    async with svc.uow(write=False) as uow:
        q = select(Delegation).where(_mine(user))
        if not include_past:
            q = q.where(_live(), Delegation.ends_on >= svc.calendar.today(uow.now))
        rows = list((await uow.session.exec(q.order_by(Delegation.starts_on, Delegation.id))).all())
        return await _views(uow, rows)


async def end(svc: Services, *, user: User, delegation_id: int) -> DelegationView:
    """End a delegation now (the person away, the delegate, or an admin): from this moment the
    delegate no longer acts for them. One already over or ended: as it is."""
    async with svc.uow() as uow:
        d = (await uow.session.exec(select(Delegation).where(Delegation.id == delegation_id, _mine(user))
                                    .with_for_update())).first()
        if d is None:
            raise NotFound(f"delegation {delegation_id}")
        if d.ended_at is None and d.ends_on >= svc.calendar.today(uow.now):
            d.ended_at, d.ended_by_id = uow.now, user.id
            people = {u.id: u for u in (await uow.session.exec(
                select(User).where(User.id.in_([d.principal_id, d.delegate_id])))).all()}
            uow.emit(DomainEvent(EventName.DELEGATED, "delegation", d.id, "", {
                "principal": people[d.principal_id], "delegate": people[d.delegate_id], "by": user,
                "starts_on": d.starts_on, "ends_on": d.ends_on, "ended": True}))
        await uow.session.flush()
        (view,) = await _views(uow, [d])
        await uow.commit()
    _changed(svc)
    return view


async def candidates(svc: Services, *, user: User) -> list[User]:
    """Who may be named to act for `user` (active co-managers and co-chairs, not the holder of
    the other co-manager seat), for a page's choice; an admin's: all of them."""
    async with svc.uow(write=False) as uow:
        q = select(User).where(User.active.is_(True), User.role.in_(SEATED)).order_by(User.role, User.name)
        return [u for u in (await uow.session.exec(q)).all() if u.id != user.id and not (
            user.role == Role.CO_MANAGER and u.role == Role.CO_MANAGER and u.country != user.country)]


async def cover(uow: UnitOfWork, item_kind: str, item_id: int) -> dict[int, list[str]]:
    """For each open task of an item whose person is away today, who acts for whom, in words:
    {task id: ["Co-Manager AUS is away, Co-Chair AUS acts"]} (the item's page shows it by the task)."""
    out: dict[int, list[str]] = {}
    for t in await open_tasks_of(uow, item_kind, [item_id]):
        people = await people_for(uow, t)
        acting = await delegates_of(uow, [u.id for u in people])
        words = [f"{u.name} is away, {d.name} acts" for u in people for d in acting.get(u.id, ())]
        if words:
            out[t.id] = words
    return out
