"""One set of application services for every lifecycle.

A lifecycle's items (proposals, secondments, ...) are served by a `Workflow`: the pure
lifecycle of `states/`, the item's table, its input and output schemas, and hooks for what is
particular to it (the effects of its actions, what entering a state opens, how it looks going
out, its timed steps and its emails' wording). Everything else is here, once: finding an item
the caller may see, the refusals in their order, If-Match, idempotent creation, references,
locking, tasks closed on leaving a state, the history event, the domain events, one
transaction per change, and the task inbox over every lifecycle the service serves.

This module names no lifecycle: `services.wiring` hands the service its lifecycles.

An item's table has at least: id, reference, member_state (the owning member state),
created_by_id, submitted_by_id, state, version (optimistic lock), created_at, updated_at,
submitted_at, closed_at.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
import sqlalchemy as sa
from sqlalchemy import and_, false
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapper, aliased
from sqlalchemy.orm.util import AliasedInsp
from sqlmodel import select

from services.engine import delegations, items, listing, tasks
from services.engine.errors import Forbidden, InvalidInput, NotFound
from services.engine.events import DomainEvent
from services.engine.items import check_version, parse, record
from services.engine.listing import MAX_ID, Export, Filter, Listing, ListQuery, Sort
from services.engine.models import HistoryEvent, User
from services.engine.people import actor_of, is_staff
from services.engine.schemas import HistoryPublic, ItemPublic, TaskPublic
from services.engine.tasks import Task, TaskStatus
from services.infra.tables import Column
from states.common import ActionNotAvailable, Actor, NotPermitted, Role
from states.conversation import Visibility, may_use
from states.lifecycle import Lifecycle, Outcome

if TYPE_CHECKING:
    from services.infra.uow import Services, UnitOfWork

_VIEWER_ID = sa.bindparam("viewer_id", type_=sa.Integer)
_VIEWER_MEMBER_STATE = sa.bindparam("viewer_member_state", type_=sa.String)
_VIEWER_COUNTRY = sa.bindparam("viewer_country", type_=sa.String)
_VIEWER_ROLE = sa.bindparam("viewer_role", type_=sa.String)
# A viewer whose every value is a parameter (`_viewer_params`): for statements built once for all.
_VIEWER = SimpleNamespace(id=_VIEWER_ID, member_state=_VIEWER_MEMBER_STATE, country=_VIEWER_COUNTRY, role=_VIEWER_ROLE)


def _viewer_params(user: User) -> dict:
    return {"viewer_id": user.id, "viewer_member_state": user.member_state, "viewer_country": user.country,
            "viewer_role": user.role}


def _shown(e: HistoryEvent, user: User) -> bool:
    """An internal comment or document is in the history of RSO staff only (`states.conversation`)."""
    return may_use(actor_of(user), e.arguments.get("visibility", Visibility.SHARED))


class Loaded:
    """An item with what its lifecycle decisions need: its open tasks and whatever else the
    workflow loads (`extra`: a proposal's votes, a secondment's checklist)."""

    def __init__(self, item: Any, tasks_: list[Task], extra: Any = None):
        self.item, self.tasks, self.extra = item, tasks_, extra
        self.staff: dict | None = None  # what `Workflow.staff_columns` read with the item, by label


@dataclass
class Step:
    """One action being taken, as the hooks see it."""

    action: StrEnum
    outcome: Outcome
    user: User | None  # None: the system, on a timer
    args: BaseModel
    details: dict = field(default_factory=dict)  # what the effect recorded, for the history


Effect = Callable[["UnitOfWork", Loaded, User, Any], Awaitable[dict]]


async def no_effect(uow: UnitOfWork, loaded: Loaded, user: User, args: Any) -> dict:
    """An action whose whole effect is its move (and what entering its state opens)."""
    return {}
Choice = tuple[str, str | None]  # (value, label); no label: the value's usual words


class Audience(StrEnum):
    """Who a lifecycle's milestone email goes to."""

    SUBMITTER = "submitter"  # the member state official who (re)submitted the item last
    CO_MANAGERS = "co_managers"  # both co-managers (never of an item the RSO has not received)


@dataclass(frozen=True)
class Milestone:
    word: str  # in the subject: "RSO-S-2027-0001 started: …"
    sentence: str
    audience: frozenset[Audience]
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value) lines of the email


@dataclass(frozen=True)
class Wording:
    """How a lifecycle's emails speak: each lifecycle writes its own."""

    item_label: str  # "proposal", "nomination"
    next_step: str  # what happens after a submission
    task_names: dict[str, str]  # by task kind: "co-manager review"
    task_subjects: dict[str, str]  # "Review requested"
    task_sentence: Callable[[Task, User, Any], str]  # what the task asks of this person, for this item
    decisions: dict[str, tuple[str, str]]  # by outcome: (subject word, sentence to the submitter)
    milestone: Callable[[Any, DomainEvent], Milestone]  # the email of a milestone event


@dataclass(frozen=True)
class Timer:
    """A step a lifecycle's calendar takes by itself, run by each deadline sweep (and as a
    Prefect task of its own, named `name`). It adds what it did to the counts, by name."""

    name: str  # "close-consultations"
    run: Callable[[Services, datetime, Counter], Awaitable[None]]
    counts: dict[str, str]  # the count names it adds to, and how the command line words them


@dataclass
class ItemPage:
    """All a page shows of one item, read in one transaction."""

    item: BaseModel  # the view, with the caller's available actions
    history: list[HistoryPublic]
    diagram: str
    choices: dict[str, dict[str, list[Choice]]]  # per available action, per field: what may be chosen
    also: Any = None  # what the caller's `also` read in the same transaction (documents)
    acting_for: dict[str, str] = field(default_factory=dict)  # per action taken in another's seat: their name


@dataclass(frozen=True)
class ExtraJoin:
    """What a lifecycle's decisions need of an item beyond its row and its open tasks (a
    proposal's votes, a secondment's checklist), read in the same query: `columns` added to
    the select, through `joins` (outer joins: (target, on clause)); `collect` makes the item's
    `Loaded.extra` of the distinct non-empty tuples of `columns` found (none: an empty one)."""

    columns: tuple
    joins: tuple
    collect: Callable[[list[tuple]], Any]


async def _no_choices(uow: UnitOfWork, loaded: Loaded, user: User, action: str) -> dict[str, list[Choice]]:
    return {}


@dataclass
class Workflow:
    kind: str  # item_kind of tasks and history events: "proposal"
    path: str  # the collection in URLs: "proposals"
    prefix: str  # of references: "RSO-P"
    model: type  # the table
    lifecycle: Lifecycle
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    public_schema: type[BaseModel]
    arguments: dict[StrEnum, type[BaseModel]]
    effects: dict[StrEnum, Effect]
    facts: Callable[[Loaded], Any]
    view: Callable[[Loaded], dict]  # the item's own fields of `public_schema` (the engine adds the shared ones)
    apply_fields: Callable[[UnitOfWork, Any, BaseModel, User, str], Awaitable[dict]]  # -> changes, JSON-ready
    enter: Callable[[UnitOfWork, Loaded, Step], None]  # tasks and events of a state entered (not on self-loops)
    title: Callable[[Any], str]  # in the inbox and emails
    wording: Wording
    timers: tuple[Timer, ...] = ()
    title_columns: tuple[str, ...] = ("title",)  # the columns `title` reads (the inbox reads only those)
    extra: ExtraJoin | None = None
    visible: Callable[[User], Any] | None = None  # the SQL clause; default: own member state, staff submitted
    # What of a history event a user may not read: {"actor"?, "comment"?, "arguments"?} replaced.
    redact: Callable[[HistoryEvent, User], dict] | None = None
    # What RSO staff see more of an item (a proposal's reviews and responses): `staff_columns`,
    # labelled columns correlated with the item's row (`services.infra.db.json_rows`), read
    # with the item; `staff_details` fills the view from them (by label), or, after an action
    # (None: not read with the locked row), reads them itself.
    staff_details: Callable[[UnitOfWork, BaseModel, dict | None], Awaitable[None]] | None = None
    staff_columns: Callable[[], tuple] | None = None
    # What an action's fields may take beyond their schema: a lifecycle's own lists (the
    # stakeholders one may invite). The lifecycle's branches (checklist items still open) come anyway.
    choices: Callable[[UnitOfWork, Loaded, User, str], Awaitable[dict[str, list[Choice]]]] = _no_choices
    creator_role: Role = Role.MEMBER_STATE
    # Lists (`services.engine.listing`): the lifecycle's own filters, the codes a member state
    # may be filtered by (None: any), the name of the order by `title_columns[0]`, and the
    # columns of the item's table an export writes, in order.
    list_filters: tuple[Filter, ...] = ()
    member_codes: Callable[[], Collection[str]] | None = None
    title_sort: str = "title"
    export_columns: tuple[Column, ...] = ()
    # The action that does each kind of task (a review task: `review`), offered as a link in
    # the task's emails, one per choice of its routing argument (endorse, revise, decline).
    task_actions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.reference_pattern = re.compile(rf"{re.escape(self.prefix)}-\d{{4}}-\d{{4,8}}")
        self.noun = self.lifecycle.noun
        self.draft_state = next(iter(self.lifecycle.states)).value  # where every item starts; editable only there
        self._statements: dict[tuple, Any] = {}
        self._staff_labels = [c.key for c in self.staff_columns()] if self.staff_columns else None
        # The fields every item shows that this lifecycle's table has (asked once, not per item).
        self._shared_fields = tuple(name for name in ItemPublic.model_fields if hasattr(self.model, name))
        self._final = [s.value for s in self.lifecycle.final]
        self.sorts = self._sorts()

    # --- finding ---------------------------------------------------------------------------
    #
    # The statements of every request (one item, a page of a list) are built once for each
    # shape (by id or by reference, the viewer's role, locked or not) with the values as
    # parameters, and kept: building a joined ORM select and keying it for SQLAlchemy's
    # compiled cache cost more CPU than PostgreSQL spends running it.

    def _statement(self, key: tuple, build: Callable[[], Any]):
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statements[key] = build()
        return stmt

    def _lookup(self, id_or_ref: str | int) -> tuple[str, int | str] | None:
        """("id", n) or ("reference", text); None when it can name no item."""
        text = str(id_or_ref).strip().upper()
        if text.isascii() and text.isdigit():
            return ("id", int(text)) if len(text) < 11 and int(text) <= MAX_ID else None
        if self.reference_pattern.fullmatch(text):
            return ("reference", text)
        return None  # not an id nor a reference: nothing to find

    def _by_lookup(self, by: str):
        return getattr(self.model, by) == sa.bindparam("lookup", type_=getattr(self.model, by).type)

    def _visible_to_role(self, role: str):
        """The visibility clause of a viewer of this role, the viewer's own values as parameters
        (`_viewer_params`)."""
        return self.visible_clause(SimpleNamespace(**{**vars(_VIEWER), "role": role}))

    def visible_clause(self, user: User):
        if self.visible is not None:
            return self.visible(user)
        m = self.model
        if user.role == Role.MEMBER_STATE:
            return m.member_state == user.member_state
        if is_staff(user):
            # A draft stays with its member state, even one withdrawn before it was submitted.
            return m.submitted_at.is_not(None)
        return false()

    async def find(self, uow: UnitOfWork, user: User, id_or_ref: str | int):
        """The row of one item the caller may see (no tasks, nothing else)."""
        found = self._lookup(id_or_ref)
        item = None
        if found is not None:
            q = self._statement(("find", found[0], user.role), lambda: select(self.model).where(
                self._by_lookup(found[0]), self._visible_to_role(user.role)))
            item = (await uow.session.exec(q, params={"lookup": found[1], **_viewer_params(user)})).first()
        if item is None:
            raise NotFound(f"{self.noun} '{id_or_ref}'")
        return item

    def _loaded_query(self, where, *, lock: bool = False, staff: bool = False):
        """The items matching `where` with their open tasks and their `extra`, in one query (a
        row per combination; `_collect` makes them whole again). With `lock`, the items' rows
        are locked (FOR UPDATE OF the item's table only), and each row ends with the version
        the statement's snapshot saw (see `load`)."""
        m, ej = self.model, self.extra
        t = aliased(Task)  # not `tasks`: a visibility rule's subquery on tasks must not correlate with it
        extra = list(ej.columns if ej else ())
        if lock:
            seen = aliased(m)
            extra.append(select(seen.version).where(seen.id == m.id).scalar_subquery().label("seen_version"))
        if staff:
            extra += list(self.staff_columns())
        q = self._with_open_tasks_and_extra(select(m, t, *extra).where(where), t, t)
        return q.with_for_update(of=m) if lock else q

    def _with_open_tasks_and_extra(self, q, tasks_, columns):
        """`q` outer-joined to the items' open tasks (`tasks_`, whose columns are `columns`'
        attributes: an ORM alias or a table alias's `.c`) while the item is live, then to `extra`."""
        m, ej = self.model, self.extra
        live = m.state.not_in([s.value for s in self.lifecycle.final])
        q = q.outerjoin(tasks_, and_(columns.item_kind == self.kind, columns.item_id == m.id,
                                     columns.status == TaskStatus.OPEN, live))
        for target, on in (ej.joins if ej else ()):
            q = q.outerjoin(target, on)
        return q

    def _plain_query(self, page):
        """What `_loaded_query` reads, for the items of `page`, as plain columns (labelled by
        part: the item's, its task's, each of `extra`'s), not ORM objects: a list is read-only,
        and 50 items with their tasks were 150 objects to build and track."""
        m, ej = self.model, self.extra
        t = Task.__table__.alias("open_task")
        # Each part: whether it is a row of a table (else one column), and its columns' names.
        parts: list[tuple[bool, list[str]]] = [(True, [c.name for c in m.__table__.c]), (True, [c.name for c in t.c])]
        cols = [*(c.label(f"item__{c.name}") for c in m.__table__.c), *(c.label(f"task__{c.name}") for c in t.c)]
        for n, spec in enumerate(ej.columns if ej else ()):
            insp = sa.inspect(spec, raiseerr=False)
            if isinstance(insp, (Mapper, AliasedInsp)):  # an entity (a table, an alias of one)
                parts.append((True, [c.key for c in insp.mapper.column_attrs]))
                cols += [getattr(spec, key).label(f"x{n}__{key}") for key in parts[-1][1]]
            else:
                parts.append((False, [""]))
                cols.append(spec.label(f"x{n}__"))
        q = self._with_open_tasks_and_extra(sa.select(*cols).join(page, page.c.id == m.id), t, t.c)
        return q, parts

    def _collect_plain(self, rows, parts) -> list[Loaded]:
        """`_collect` for `_plain_query`'s rows: each part a namespace of its columns (an outer
        join's part that found nothing: None), in the order the items first appear."""
        spans, at = [], 0
        for is_row, keys in parts:
            spans.append((is_row, keys, at, at + len(keys)))
            at += len(keys)
        (_, item_keys, i0, i1), (_, task_keys, t0, t1), *extras = spans
        item_at, task_at = i0 + item_keys.index("id"), t0 + task_keys.index("id")  # each row's key
        found: dict[int, tuple[Any, dict, dict]] = {}
        for row in rows:
            item_id = row[item_at]
            entry = found.get(item_id)
            if entry is None:
                entry = found[item_id] = (SimpleNamespace(**dict(zip(item_keys, row[i0:i1]))), {}, {})
            _, open_, extra = entry
            if row[task_at] is not None:
                open_.setdefault(row[task_at], SimpleNamespace(**dict(zip(task_keys, row[t0:t1]))))
            if extras:
                values, key = [], []
                for is_row, keys, a, b in extras:
                    if not is_row:
                        values.append(row[a])
                        key.append(row[a])
                    elif row[a:b] == (None,) * (b - a):
                        values.append(None)
                        key.append(None)
                    else:
                        values.append(SimpleNamespace(**dict(zip(keys, row[a:b]))))
                        key.append(row[a:b])
                if any(v is not None for v in values):
                    extra.setdefault(tuple(key), tuple(values))
        return self._assemble(found)

    def _assemble(self, found: dict[int, tuple[Any, dict, dict]]) -> list[Loaded]:
        """Each item found with its open tasks (soonest due first) and its `extra`, collected."""
        ej = self.extra
        return [Loaded(item, sorted(open_.values(), key=lambda t: (t.due_at, t.id)),
                       ej.collect(list(extra.values())) if ej else None)
                for item, open_, extra in found.values()]

    def _collect(self, rows, *, lock: bool = False, staff: list[str] | None = None) -> list[Loaded]:
        found: dict[int, tuple[Any, dict, dict]] = {}
        staff_of: dict[int, dict] = {}
        for item, task, *rest in rows:
            if staff:
                staff_of.setdefault(item.id, dict(zip(staff, rest[-len(staff):])))
                del rest[-len(staff):]
            if lock:
                rest.pop()  # the version seen
            _, open_, extra = found.setdefault(item.id, (item, {}, {}))
            if task is not None:
                open_[task.id] = task
            if rest and any(x is not None for x in rest):
                extra[tuple(id(x) if hasattr(x, "__table__") else x for x in rest)] = tuple(rest)
        loaded = self._assemble(found)
        for x in loaded:
            x.staff = staff_of.get(x.item.id)
        return loaded

    async def load(self, uow: UnitOfWork, user: User, id_or_ref: str | int, *, lock: bool = False) -> Loaded:
        """One item the caller may see, with what its decisions need, in one query.

        Locked, on PostgreSQL: a row lock that had to wait for another transaction returns the
        item's row as that one left it, but the tables joined to it as the statement's snapshot
        saw them, from before (a vote just cast missing). The snapshot's version of the row,
        read alongside, tells: when it differs from the row's, the read is made again (the lock
        is ours by then, so it does not wait, and its snapshot is new)."""
        found = self._lookup(id_or_ref)
        if found is None:
            raise NotFound(f"{self.noun} '{id_or_ref}'")
        # Read for a view (not locked for a change), an RSO staff member's item comes with what
        # staff see more of it, in the same query.
        staff = not lock and self.staff_columns is not None and is_staff(user)
        q = self._statement(("load", found[0], user.role, lock), lambda: self._loaded_query(
            and_(self._by_lookup(found[0]), self._visible_to_role(user.role)), lock=lock, staff=staff))
        params = {"lookup": found[1], **_viewer_params(user)}
        rows = (await uow.session.exec(q, params=params)).all()
        if not rows:
            raise NotFound(f"{self.noun} '{id_or_ref}'")
        if lock and rows[0][-1] != rows[0][0].version:
            rows = (await uow.session.exec(q.execution_options(populate_existing=True), params=params)).all()
        if lock:
            # Events are stamped once the row is ours: their times follow the order they commit in.
            uow.now = uow.services.clock()
        return self._collect(rows, lock=lock, staff=self._staff_labels if staff else None)[0]

    async def load_many(self, uow: UnitOfWork, rows: list) -> list[Loaded]:
        if not rows:
            return []
        m = self.model
        by_id = {x.item.id: x for x in self._collect(
            (await uow.session.exec(self._loaded_query(m.id.in_([r.id for r in rows])))).all())}
        return [by_id[r.id] for r in rows]

    async def load_one(self, uow: UnitOfWork, item) -> Loaded:
        (loaded,) = await self.load_many(uow, [item])
        return loaded

    def new(self, item) -> Loaded:
        """An item just created: no task, nothing else yet (nothing to read)."""
        return Loaded(item, [], self.extra.collect([]) if self.extra else None)

    def available(self, loaded: Loaded, user: User, seats: Iterable[User] = ()) -> list[str]:
        """What `user` may do now: in their own seat, and in the seats of those they act for
        (`seats`, `delegations.principals`)."""
        facts = self.facts(loaded)
        found = self.lifecycle.available_actions(facts, actor_of(user))
        for seat in seats:
            found += [a for a in self.lifecycle.available_actions(facts, actor_of(seat, person=user)) if a not in found]
        return found

    def seat_of(self, loaded: Loaded, user: User, seats: Iterable[User], action: str) -> User:
        """In whose seat `user` would take `action` now: their own, or the first of `seats`
        where it is available."""
        facts = self.facts(loaded)
        if action in self.lifecycle.available_actions(facts, actor_of(user)):
            return user
        for seat in seats:
            if action in self.lifecycle.available_actions(facts, actor_of(seat, person=user)):
                return seat
        return user

    def present(self, svc: Services, loaded: Loaded, user: User, names: dict[int, str], now: datetime,
                seats: Iterable[User] = ()) -> BaseModel:
        """The item as `user` sees it: the fields every item has, its own, the caller's
        available actions and its open tasks."""
        item = loaded.item
        shared = {name: getattr(item, name) for name in self._shared_fields}
        open_tasks = [task_view(svc, t, reference=item.reference, title=self.title(item), names=names, now=now)
                      for t in loaded.tasks if t.status == TaskStatus.OPEN]
        return self.public_schema(**shared, **self.view(loaded), available_actions=self.available(loaded, user, seats),
                                  tasks=open_tasks)

    async def _view(self, uow: UnitOfWork, loaded: Loaded, user: User, seats: list[User] | None = None) -> BaseModel:
        """The item as `user` sees it (`seats`: whom they act for today, if already read)."""
        if seats is None:
            seats = await delegations.principals(uow, user)
        view = self.present(uow.services, loaded, user, await tasks.assignee_names(uow, loaded.tasks, user), uow.now,
                            seats)
        if self.staff_details and is_staff(user):
            await self.staff_details(uow, view, loaded.staff)
        return view

    async def _written_view(self, uow: UnitOfWork, loaded: Loaded, user: User) -> BaseModel:
        """The item as a change leaves it: its changes written (one statement on PostgreSQL),
        the view made of what the transaction holds, not read back; the same view as `get`."""
        await uow.write()
        loaded.tasks = [t for t in loaded.tasks if t.status == TaskStatus.OPEN]
        return await self._view(uow, loaded, user)

    # --- reading ---------------------------------------------------------------------------

    async def get(self, svc: Services, *, user: User, id_or_ref: str | int) -> BaseModel:
        """One item the caller may see, with their available actions and its open tasks."""
        async with svc.uow(write=False) as uow:
            return await self._view(uow, await self.load(uow, user, id_or_ref), user)

    async def page(self, svc: Services, *, user: User, id_or_ref: str | int,
                   also: Callable[[UnitOfWork, Any], Awaitable[Any]] | None = None) -> ItemPage:
        """What a person's page of one item shows, in one read: the item, its history, its
        diagram, for each action they may take now what its fields may take, and what `also`
        reads of the item (its row given) in the same transaction."""
        async with svc.uow(write=False) as uow:
            loaded = await self.load(uow, user, id_or_ref)
            seats = await delegations.principals(uow, user)
            view = await self._view(uow, loaded, user, seats)
            history = [self._history_view(e, user) for e in await items.history(uow, self.kind, loaded.item.id)
                       if _shown(e, user)]
            facts = self.facts(loaded)
            choices, acting_for = {}, {}
            for action in view.available_actions:
                seat = self.seat_of(loaded, user, seats, action)
                actor = actor_of(seat, person=user if seat is not user else None)
                if seat is not user:
                    acting_for[action] = seat.name
                choices[action] = {f: [(v, None) for v in values]
                                   for f, values in self.lifecycle.choices(facts, actor, action).items()}
                choices[action].update(await self.choices(uow, loaded, seat, action))
            extra = await also(uow, loaded.item) if also is not None else None
        return ItemPage(view, history, self.lifecycle.diagram(loaded.item.state), choices, extra, acting_for)

    # --- lists -----------------------------------------------------------------------------
    #
    # A list's statements are kept per shape too (which filters are given, the order, the
    # cursor; `ListQuery.shape`), the values as parameters.

    def _sorts(self) -> dict[str, Sort]:
        m = self.model
        title = getattr(m, self.title_columns[0])
        return {s.name: s for s in (
            Sort("created", lambda: m.id, by_id=True, description="when the item was created (its id)"),
            Sort("updated", lambda: m.updated_at, description="its last change"),
            Sort("submitted", lambda: m.submitted_at, nullable=True, description="when it was submitted"),
            Sort("due", lambda: listing.next_due(m, self.kind, self._final), nullable=True,
                 description="when its soonest open task is due"),
            Sort("reference", lambda: m.reference),
            Sort(self.title_sort, lambda: title),
            Sort("member_state", lambda: m.member_state),
            Sort("state", lambda: m.state),
        )}

    def list_query(self, svc: Services, params: Mapping[str, str], *, limit: int = 50) -> ListQuery:
        """The list an address asks for: filter (state, member_state, the lifecycle's own
        filters, overdue, submitted_from, submitted_to), search (q), order (sort) and page
        (limit, before, after), or InvalidInput naming each parameter that cannot be read.
        A filter of another lifecycle (a thematic area, asked of secondments) is refused as such."""
        own = {f.name for f in self.list_filters}
        elsewhere: dict[str, str] = {}
        for wf in svc.workflows.values():
            for f in wf.list_filters:
                if f.name not in own:
                    elsewhere.setdefault(f.name, wf.path)
        return listing.read(params, states=[s.value for s in self.lifecycle.states],
                            member_codes=self.member_codes() if self.member_codes else None, own=self.list_filters,
                            sorts=list(self.sorts), elsewhere=elsewhere, items=self.path, limit=limit)

    def _where(self, query: ListQuery, role: str, *, paged: bool = True) -> list:
        m = self.model
        return [self._visible_to_role(role), *listing.conditions(
            m, query, kind=self.kind, final=self._final, own={f.name: f for f in self.list_filters},
            search=[m.reference, *(getattr(m, c) for c in self.title_columns)], paged=paged)]

    async def listing(self, svc: Services, *, user: User, query: ListQuery) -> Listing:
        """One page of the items the caller may see that match `query`, in its order, and the
        address of the next page (by keyset: `after` the last item, or in the default order
        `before` it, as ever). One query: the page of ids (each with its place), joined to the
        items with their open tasks and what their actions need."""
        m, sort = self.model, self.sorts[query.sort]

        def build():
            order = listing.ordering(m, sort, query.descending)
            page = sa.select(m.id, sa.func.row_number().over(order_by=order).label("at")).where(
                *self._where(query, user.role))
            if query.after is not None:
                cursor, follows = listing.after_clause(m, sort, query.descending, self._visible_to_role(user.role))
                page = page.join(cursor, sa.true()).where(follows)
            page = page.order_by(*order).limit(sa.bindparam("limit", type_=sa.Integer)).subquery("page")
            q, parts = self._plain_query(page)
            return q.order_by(page.c.at), parts  # each item's rows together, the items in the page's order

        q, parts = self._statement(("list", user.role, query.shape()), build)
        async with svc.uow(write=False) as uow:
            params = {**query.values(svc.timezone, uow.now), **_viewer_params(user)}
            rows = (await uow.session.exec(q, params=params)).all()
            loaded = self._collect_plain(rows, parts)
            names = await tasks.assignee_names(uow, [t for x in loaded for t in x.tasks], user)
            seats = await delegations.principals(uow, user) if loaded else []
            found = [self.present(svc, x, user, names, uow.now, seats) for x in loaded]
        nxt = None
        if len(found) == query.limit:  # there may be more
            last = str(found[-1].id)
            nxt = {"before": last} if query.by_default_order and query.after is None else {"after": last}
        return Listing(found, nxt, query)

    async def list(self, svc: Services, *, user: User, state: str | None = None, limit: int = 50,
                   before: int | None = None) -> list:
        """The items the caller may see, newest first (of one state); `before`: those older than
        that id. `listing` with a filter of the state only."""
        if state is not None and state not in {s.value for s in self.lifecycle.states}:
            raise InvalidInput.one("state", "must be one of " + ", ".join(s.value for s in self.lifecycle.states))
        return (await self.listing(svc, user=user, query=ListQuery(state=state, limit=limit, before=before))).items

    async def count(self, svc: Services, *, user: User, query: ListQuery) -> int:
        """How many items the caller may see match `query`'s filter and search (every page)."""
        def build():
            return sa.select(sa.func.count()).select_from(self.model).where(*self._where(query, user.role, paged=False))

        q = self._statement(("count", user.role, query.shape(paged=False)), build)
        async with svc.uow(write=False) as uow:
            params = {**query.values(svc.timezone, uow.now), **_viewer_params(user)}
            return (await uow.session.exec(q, params=params)).one()[0]

    def export_table_columns(self) -> list[Column]:
        return [*self.export_columns, Column("next_due", "Next task due", "moment"), Column("overdue", "Overdue")]

    async def export(self, svc: Services, *, user: User, query: ListQuery, format: str) -> Export:
        """Every item the caller may see that matches `query`'s filter and search, in its
        order (not a page of them: `limit`, `before` and `after` do not apply), as a CSV or XLSX
        file of `export_columns`, the soonest open task's due moment and whether it is overdue
        as of now; moments in the RSO's time. The same visibility as the list, from one plain
        query of those columns (no item is presented: 10,000 rows are a fraction of a second).
        More than `listing.EXPORT_MAX` items: InvalidInput (narrow the filter)."""
        if format not in listing.FORMATS:
            raise InvalidInput.one("format", "must be one of json, " + ", ".join(listing.FORMATS))
        m, sort = self.model, self.sorts[query.sort]

        def build():
            table = m.__table__
            return (sa.select(*(table.c[c.key] for c in self.export_columns),
                              listing.next_due(m, self.kind, self._final).label("next_due"))
                    .where(*self._where(query, user.role, paged=False))
                    .order_by(*listing.ordering(m, sort, query.descending))
                    .limit(sa.bindparam("limit", type_=sa.Integer)))

        q = self._statement(("export", user.role, query.shape(paged=False)), build)
        async with svc.uow(write=False) as uow:
            now = uow.now
            params = {**query.values(svc.timezone, now), "limit": listing.EXPORT_MAX + 1, **_viewer_params(user)}
            rows = (await uow.session.exec(q, params=params)).all()
        if len(rows) > listing.EXPORT_MAX:
            raise listing.too_many()
        rows_out = ((*r, "yes" if r[-1] is not None and r[-1] < now else "no") for r in rows)
        table = listing.table_of(self.path, self.path.capitalize(), self.export_table_columns(), rows_out,
                                 svc.timezone)
        return await listing.render(table, format, f"{self.path}-{svc.calendar.today(now).isoformat()}")

    async def history(self, svc: Services, *, user: User, id_or_ref: str | int) -> list[HistoryPublic]:
        """Every event of an item the caller may see, oldest first."""
        async with svc.uow(write=False) as uow:
            item = await self.find(uow, user, id_or_ref)
            events = await items.history(uow, self.kind, item.id)
        return [self._history_view(e, user) for e in events if _shown(e, user)]

    def _history_view(self, e: HistoryEvent, user: User) -> HistoryPublic:
        actor = f"{e.actor_name} for {e.on_behalf_of_name}" if e.on_behalf_of_name else e.actor_name
        shown = {"actor": actor, "comment": e.comment, "arguments": e.arguments,
                 **(self.redact(e, user) if self.redact else {})}
        return HistoryPublic(id=e.id, at=e.at, actor_role=e.actor_role, action=e.action, from_state=e.from_state,
                             to_state=e.to_state, on_behalf_of=e.on_behalf_of_name if shown["actor"] == actor else None,
                             via=e.via, **shown)

    async def diagram(self, svc: Services, *, user: User, id_or_ref: str | int) -> str:
        """The lifecycle as Mermaid text with the item's current state marked."""
        async with svc.uow(write=False) as uow:
            item = await self.find(uow, user, id_or_ref)
        return self.lifecycle.diagram(item.state)

    # --- creating and editing --------------------------------------------------------------

    def can_edit(self, user: User, item) -> bool:
        """Whether the caller may edit this item now: its member state's official, a draft."""
        return user.role == self.creator_role and item.state == self.draft_state

    def require_creator(self, user: User) -> None:
        if user.role != self.creator_role:
            raise Forbidden(f"only a {self.creator_role.value.replace('_', ' ')} official may create or edit "
                            f"{self.path}")

    async def create(self, svc: Services, *, user: User, data: Any,
                     idempotency_key: str | None = None) -> tuple[BaseModel, bool]:
        """The caller drafts an item for their member state.

        Returns (item, created). With an Idempotency-Key already used by this user for the
        same request, returns the item that request created, and created=False."""
        return await self.save(svc, user=user, data=data, idempotency_key=idempotency_key)

    async def update(self, svc: Services, *, user: User, id_or_ref: str | int, data: Any,
                     if_match: str | None = None) -> BaseModel:
        """The owning member state edits its draft. Records an `edit` event with the changes."""
        item, _ = await self.save(svc, user=user, id_or_ref=id_or_ref, data=data, if_match=if_match)
        return item

    async def save(self, svc: Services, *, user: User, data: Any, id_or_ref: str | int | None = None,
                   submit: bool = False, idempotency_key: str | None = None,
                   if_match: str | None = None) -> tuple[BaseModel, bool]:
        """Create a draft (no `id_or_ref`) or edit one, and with `submit` submit it too: one
        transaction, so a refused submission leaves neither a new draft nor a half-made edit.
        Returns (item, created); see `create` for the Idempotency-Key."""
        self.require_creator(user)
        fields = parse(self.create_schema if id_or_ref is None else self.update_schema, data)
        key = items.check_idempotency_key(idempotency_key) if id_or_ref is None else None
        digest = items.request_hash(data)
        existing = None
        for attempt in (1, 2):
            try:
                async with svc.uow() as uow:
                    if key and (existing := await items.replayed_item_id(
                            uow, user=user, item_kind=self.kind, key=key, digest=digest)) is not None:
                        break
                    if id_or_ref is None:
                        loaded = self.new(await self._create_in(uow, user, fields, key, digest))
                    else:
                        loaded = await self._edit_in(uow, user, id_or_ref, fields, if_match)
                    if submit:
                        await self.take(uow, loaded, user, "submit", {})
                    view = await self._written_view(uow, loaded, user)
                    await uow.commit()
                return view, id_or_ref is None
            except IntegrityError:
                # The same key committed by a concurrent request: answer with its item (next lap).
                if not key or attempt == 2:
                    raise
        return await self.get(svc, user=user, id_or_ref=existing), False

    async def _create_in(self, uow: UnitOfWork, user: User, fields: BaseModel, key: str | None, digest: str):
        reference = await items.next_reference(uow, self.prefix, uow.now.astimezone(uow.services.timezone).year)
        item = self.model(reference=reference, member_state=user.member_state, created_by_id=user.id,
                          state=self.draft_state, created_at=uow.now, updated_at=uow.now)
        changes = await self.apply_fields(uow, item, fields, user, "")
        uow.session.add(item)
        await uow.session.flush()
        record(uow, item_kind=self.kind, item_id=item.id, actor=user, action="create", from_state=None,
               to_state=item.state, arguments=changes)
        if key:
            items.remember_key(uow, user=user, item_kind=self.kind, key=key, digest=digest, item_id=item.id)
        return item

    async def _edit_in(self, uow: UnitOfWork, user: User, id_or_ref: str | int, fields: BaseModel,
                       if_match: str | None) -> Loaded:
        loaded = await self.load(uow, user, id_or_ref, lock=True)
        item = loaded.item
        check_version(if_match, item.version)
        if item.state != self.draft_state:
            raise ActionNotAvailable("edit", item.state, self.available(loaded, user),
                                     "only a draft can be edited; after a request for changes, use 'resubmit'")
        changes = await self.apply_fields(uow, item, fields, user, "")
        if changes:
            item.updated_at = uow.now
            record(uow, item_kind=self.kind, item_id=item.id, actor=user, action="edit", from_state=item.state,
                   to_state=item.state, arguments=changes)
        return loaded

    # --- actions ---------------------------------------------------------------------------

    async def act(self, svc: Services, *, user: User, id_or_ref: str | int, action: str,
                  arguments: Any = None, if_match: str | None = None, via: str | None = None,
                  check: Callable[[UnitOfWork, Loaded], Awaitable[None]] | None = None) -> BaseModel:
        """Take one lifecycle action on an item the caller may see.

        Refusals, in this order: NotFound (not visible), UnknownAction, NotPermitted (never for
        this role), VersionConflict (If-Match is not the current version), ActionNotAvailable
        (not now; lists what is), InvalidInput (the arguments). Otherwise, in one transaction:
        the effects, tasks closed and opened, one history event, the domain events.

        `via`: how the action came ("email_link"), for the history; `check`: what the caller
        must still find true of the locked item before it is taken (an email link's task still
        open), in the same transaction."""
        async with svc.uow() as uow:
            loaded = await self.load(uow, user, id_or_ref, lock=True)
            if check is not None:
                await check(uow, loaded)
            await self.take(uow, loaded, user, action, arguments, if_match, via=via)
            view = await self._written_view(uow, loaded, user)
            await uow.commit()
        return view

    async def _seat(self, uow: UnitOfWork, loaded: Loaded, user: User, action: str) -> tuple[User, Actor, StrEnum]:
        """In whose seat `user` takes `action`: their own when they may, or else that of someone
        they act for today (`delegations`). Refused in every seat: the refusal of their own,
        unless another seat knows the action and says why not now."""
        facts, lc = self.facts(loaded), self.lifecycle
        own = actor_of(user)
        try:
            return user, own, lc.check(facts, own, action)
        except (NotPermitted, ActionNotAvailable) as exc:
            refused = exc
        for seat in await delegations.principals(uow, user):
            actor = actor_of(seat, person=user)
            try:
                return seat, actor, lc.check(facts, actor, action)
            except NotPermitted:
                continue
            except ActionNotAvailable as exc:
                if isinstance(refused, NotPermitted):
                    refused = exc
        raise refused

    async def take(self, uow: UnitOfWork, loaded: Loaded, user: User | None, action: str, arguments: Any,
                   if_match: str | None = None, *, system_actor: Actor | None = None, via: str | None = None) -> Step:
        """The action inside the caller's unit of work (`user` None with `system_actor`: the
        system acting on its own, e.g. a deadline). A delegate acts in the seat of the one
        they act for: the lifecycle and the effects see that seat (`uow.acting_person` is who
        acts in person), the history both."""
        item, lc = loaded.item, self.lifecycle
        facts = self.facts(loaded)
        person = user
        if system_actor is not None:
            actor, act_ = system_actor, lc.check(facts, system_actor, action)
        else:
            user, actor, act_ = await self._seat(uow, loaded, user, action)
        uow.acting_person = person
        check_version(if_match, item.version)
        args = parse(self.arguments[act_], arguments)
        routing = {}
        if act_ in lc.routing_arguments:
            name = lc.routing_arguments[act_][0]
            routing[name] = getattr(args, name).value
        outcome = lc.outcome(facts, actor, act_, **routing)
        before = list(loaded.tasks)
        step = Step(act_, outcome, user, args)
        step.details = await self.effects[act_](uow, loaded, user, args)
        if outcome.changed:
            # Leaving a state ends what was still open in it (not what the action just opened).
            tasks.close_tasks(uow, before, TaskStatus.CANCELLED)
            loaded.tasks = [t for t in loaded.tasks if t not in before]
            item.state = outcome.to_state.value
            if outcome.to_state in lc.final:
                item.closed_at = uow.now
            self.enter(uow, loaded, step)
        item.updated_at = uow.now  # every action moves the version on
        record(uow, item_kind=self.kind, item_id=item.id, actor=person, action=act_.value,
               from_state=outcome.from_state.value, to_state=outcome.to_state.value,
               comment=getattr(args, "comment", None), arguments=step.details,
               on_behalf_of=user if person is not None and user is not person else None, via=via)
        return step


# --- tasks, over every lifecycle served ------------------------------------------------------

def task_view(svc: Services, task: Task, *, reference: str, title: str, names: dict[int, str],
              now: datetime, on_behalf_of: str | None = None) -> TaskPublic:
    return TaskPublic(id=task.id, kind=task.kind, status=task.status, item_kind=task.item_kind,
                      item_id=task.item_id, reference=reference, title=title,
                      assignee=tasks.assignee_label(task, names), assignee_id=task.assignee_id,
                      due_at=task.due_at, due_date=svc.calendar.today(task.due_at),
                      overdue=task.status == TaskStatus.OPEN and now > task.due_at, on_behalf_of=on_behalf_of)


async def items_by_kind(uow: UnitOfWork, wanted: Iterable[tuple[str, int]], *, rows: bool = False
                        ) -> dict[tuple[str, int], Any]:
    """The items behind (item_kind, item_id) pairs, one query per lifecycle: ORM objects, or with
    `rows` plain rows (read-only, several times cheaper to load: what a sweep needs)."""
    by_kind: dict[str, set[int]] = {}
    for kind, item_id in wanted:
        by_kind.setdefault(kind, set()).add(item_id)
    found = {}
    for kind, ids in by_kind.items():
        m = uow.services.workflow(kind).model
        q = sa.select(m.__table__).where(m.__table__.c.id.in_(ids)) if rows else select(m).where(m.id.in_(ids))
        for row in (await uow.session.exec(q)).all():
            found[(kind, row.id)] = row
    return found


@cache
def _inbox_statement(kinds: tuple[tuple[str, type, tuple[str, ...]], ...]):
    """The inbox's query, built once: any viewer's open tasks (the viewer's values are
    parameters), each with the id, reference and title columns of its item, an outer join a
    lifecycle, their columns labelled by kind."""
    t = Task.__table__
    q = sa.select(t).where(t.c.status == TaskStatus.OPEN, t.c.item_kind.in_([kind for kind, _, _ in kinds]),
                           tasks.tasks_for(_VIEWER))
    for kind, model, title_columns in kinds:
        a = model.__table__.alias(f"item_{kind}")
        q = q.add_columns(*(a.c[c].label(f"{kind}__{c}") for c in ("id", "reference", *title_columns)))
        q = q.outerjoin(a, and_(t.c.item_kind == kind, a.c.id == t.c.item_id))
    return q.order_by(t.c.due_at, t.c.id).limit(sa.bindparam("limit", type_=sa.Integer))


async def inbox(svc: Services, *, user: User, limit: int = 200) -> list[TaskPublic]:
    """The caller's open tasks over every lifecycle, soonest due first, each with `overdue`: one
    query, each task with what the inbox shows of its item (an outer join a lifecycle). Read as
    plain rows, not ORM objects: 200 tasks with their items would be 400 objects to build for a
    read-only list. A delegate's inbox also holds the tasks of those they act for today, each
    marked with whose it is (`on_behalf_of`): one more query per person away."""
    wfs = list(svc.workflows.values())
    q = _inbox_statement(tuple((wf.kind, wf.model, wf.title_columns) for wf in wfs))
    async with svc.uow(write=False) as uow:
        found, seen = [], set()
        for seat in [user, *await delegations.principals(uow, user)]:
            for row in (await uow.session.exec(q, params={"limit": limit, **_viewer_params(seat)})).all():
                m = row._mapping
                if m[f"{row.item_kind}__id"] is None or row.id in seen:
                    continue  # the item is gone (never, with the foreign keys), or the task is theirs too
                seen.add(row.id)
                wf, prefix = svc.workflow(row.item_kind), f"{row.item_kind}__"
                item = SimpleNamespace(**{c: m[prefix + c] for c in ("reference", *wf.title_columns)})
                found.append((row, wf, item, None if seat is user else seat.name))
        found = sorted(found, key=lambda f: (f[0].due_at, f[0].id))[:limit]
        names = await tasks.assignee_names(uow, [r for r, *_ in found])
        return [task_view(svc, r, reference=item.reference, title=wf.title(item), names=names, now=uow.now,
                          on_behalf_of=seat)
                for r, wf, item, seat in found]
