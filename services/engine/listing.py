"""The lists of a lifecycle's items as people work with them: filtered, searched, sorted and
paged, the whole of it read from the address (a query string), so that a list can be
bookmarked and shared, and the same address exported as a file.

One reading of the address (`read`) for the API and the pages alike: what it refuses, it
refuses field by field (`InvalidInput`, 422). The SQL of each filter, of each order and of
its cursor is here too; `Workflow.listing`, `count` and `export` run it.

Paging is by keyset in any order: `after` names the last item of the previous page by its id,
and the next page is what follows that item in the order chosen, its sort value read in the
same query (nothing to decode, nothing a client can forge: an id that is not one of the
caller's items gives an empty page). `before` (items older than an id) is the older cursor of
the default order, newest first, and stays.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.engine.errors import InvalidInput
from services.engine.tasks import Task, TaskStatus
from services.infra.db import UtcDateTime
from services.infra.tables import CSV_TYPE, XLSX_TYPE, Column, Table, to_csv, to_xlsx

MAX_ID = 2**31 - 1
PAGE_MAX = 200  # items of one page of the API
SEARCH_MAX = 100  # characters of a search
EXPORT_MAX = 50_000  # rows of one export: more asks for a narrower filter
DEFAULT_SORT = "-created"
TRUE, FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The days a filter can name that a moment can be made of in any time zone (an item's moments
# are all far inside): a date beyond is read as the nearest of them, which selects the same.
_FIRST_DAY, _LAST_DAY = date(1900, 1, 1), date(9000, 12, 31)
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Filter:
    """A filter a lifecycle has of its own (a proposal's thematic area): the values it may
    take, and `clause(model, parameter)`, the SQL of an item matching the parameter's value."""

    name: str  # in the address: thematic_area
    values: tuple[str, ...]
    clause: Callable[[Any, Any], Any]
    description: str = ""


@dataclass(frozen=True)
class Sort:
    """An order of the list: `column()` the SQL of the value sorted on (built with the
    statement), and whether it can be empty (an empty value sorts last, either way)."""

    name: str
    column: Callable[[], Any]
    nullable: bool = False
    by_id: bool = False  # the value is the id itself (creation order)
    description: str = ""


@dataclass(frozen=True)
class ListQuery:
    """A list's filter, search, order and page, as read from the address."""

    state: str | None = None
    member_state: str | None = None
    own: tuple[tuple[str, str], ...] = ()  # the lifecycle's own filters given: (name, value)
    overdue: bool | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    q: str | None = None
    sort: str = "created"
    descending: bool = True
    limit: int = 50
    before: int | None = None  # items older than this id
    after: int | None = None  # items after this one, in the order chosen

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    @property
    def by_default_order(self) -> bool:
        return self.sort_param == DEFAULT_SORT

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list (a search, a filter)."""
        return bool(self.state or self.member_state or self.own or self.overdue is not None
                    or self.submitted_from or self.submitted_to or self.q)

    @property
    def empty_range(self) -> bool:
        """Submitted between two days, the first after the second: nothing can match."""
        return bool(self.submitted_from and self.submitted_to and self.submitted_from > self.submitted_to)

    def shape(self, *, paged: bool = True) -> tuple:
        """What a statement of this query is built of (its values are parameters)."""
        return (self.state is not None, self.member_state is not None, tuple(n for n, _ in self.own), self.overdue,
                self.submitted_from is not None, self.submitted_to is not None, self.q is not None, self.sort,
                self.descending, paged and self.before is not None, paged and self.after is not None)

    def address(self) -> list[tuple[str, str]]:
        """The filter, search and order as the address carries them (not the page): what a
        page's links and its export keep. The default order is left out."""
        out = [(k, v) for k, v in (("q", self.q), ("state", self.state), ("member_state", self.member_state)) if v]
        out += list(self.own)
        if self.overdue is not None:
            out.append(("overdue", "true" if self.overdue else "false"))
        out += [(k, d.isoformat()) for k, d in (("submitted_from", self.submitted_from),
                                                 ("submitted_to", self.submitted_to)) if d]
        if not self.by_default_order:
            out.append(("sort", self.sort_param))
        return out

    def values(self, tz: ZoneInfo, now: datetime) -> dict:
        """The statement's parameters (beside the viewer's)."""
        v: dict[str, Any] = {"limit": self.limit}
        if self.state is not None:
            v["f_state"] = self.state
        if self.member_state is not None:
            v["f_member_state"] = self.member_state
        for name, value in self.own:
            v[f"f_{name}"] = value
        if self.overdue is not None:
            v["f_now"] = now
        if self.submitted_from is not None:
            v["f_from"] = _start_of(max(self.submitted_from, _FIRST_DAY), tz)
        if self.submitted_to is not None:
            v["f_to"] = _start_of(min(self.submitted_to, _LAST_DAY) + timedelta(days=1), tz)
        if self.q is not None:
            v["f_q"] = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if self.before is not None:
            v["f_before"] = self.before
        if self.after is not None:
            v["f_after"] = self.after
        return v


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


# --- reading the address ------------------------------------------------------------------------

def _words(name: str) -> str:
    return name.replace("_", " ")


def _id(raw: str, errors: list, name: str) -> int | None:
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    errors.append({"field": name, "message": "must be the id of an item (a whole number from 1)"})
    return None


def _day(raw: str, errors: list, name: str) -> date | None:
    try:
        if _DAY.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    errors.append({"field": name, "message": "must be a day as YYYY-MM-DD, such as 2026-12-05"})
    return None


def read(params: Mapping[str, str], *, states: Sequence[str], member_codes: Collection[str] | None,
         own: Sequence[Filter], sorts: Sequence[str], elsewhere: Mapping[str, str], items: str,
         limit: int = 50) -> ListQuery:
    """The list a query string asks for (`params`: name → value; empty values count as not
    given), or InvalidInput naming each parameter that cannot be read and why.

    `states`: the lifecycle's states; `member_codes`: the codes a member state may be given
    as (None: any); `own`: the lifecycle's own filters; `sorts`: the names of its orders;
    `elsewhere`: filters of other lifecycles, by name → the items that have them, refused
    here with that said; `items`: what the list is of, in words ("secondments")."""
    errors: list[dict] = []
    given = {k: v.strip() for k, v in params.items() if isinstance(v, str) and v.strip()}
    q: dict[str, Any] = {}

    if (state := given.get("state")) is not None:
        if state in states:
            q["state"] = state
        else:
            errors.append({"field": "state", "message": "must be one of " + ", ".join(states)})
    if (ms := given.get("member_state")) is not None:
        if member_codes is None or ms.upper() in member_codes:
            q["member_state"] = ms.upper()
        else:
            errors.append({"field": "member_state", "message": f"'{ms[:20]}' is not a member code (such as THA)"})
    chosen = []
    for f in own:
        if (value := given.get(f.name)) is None:
            continue
        if value in f.values:
            chosen.append((f.name, value))
        else:
            errors.append({"field": f.name, "message": "must be one of " + ", ".join(f.values)})
    q["own"] = tuple(chosen)
    for name, others in elsewhere.items():
        if name in given:
            errors.append({"field": name, "message": f"{items} have no {_words(name)}: only {others} can be "
                                                     f"filtered by {_words(name)}"})
    if (overdue := given.get("overdue")) is not None:
        if overdue.lower() in TRUE | FALSE:
            q["overdue"] = overdue.lower() in TRUE
        else:
            errors.append({"field": "overdue", "message": "must be true or false"})
    for name in ("submitted_from", "submitted_to"):
        if (raw := given.get(name)) is not None:
            q[name] = _day(raw, errors, name)
    if (text := given.get("q")) is not None:
        # Control characters are no part of a reference or a title (and PostgreSQL refuses NUL).
        text = " ".join(_CONTROL.sub(" ", text).split())
        if len(text) > SEARCH_MAX:
            errors.append({"field": "q", "message": f"at most {SEARCH_MAX} characters"})
        elif text:
            q["q"] = text
    if (sort := given.get("sort")) is not None:
        name = sort[1:] if sort.startswith("-") else sort
        if name in sorts:
            q["sort"], q["descending"] = name, sort.startswith("-")
        else:
            errors.append({"field": "sort", "message": "must be one of " + ", ".join(sorts)
                                                       + ", each ascending, or descending after a '-' (-" + sorts[0] + ")"})
    if (raw := given.get("limit")) is not None:
        if raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= PAGE_MAX:
            limit = int(raw)
        else:
            errors.append({"field": "limit", "message": f"must be a whole number from 1 to {PAGE_MAX}"})
    for name in ("before", "after"):
        if (raw := given.get(name)) is not None:
            q[name] = _id(raw, errors, name)
    if errors:
        raise InvalidInput(errors)
    return ListQuery(limit=limit, **q)


# --- the SQL ------------------------------------------------------------------------------------

def _open_tasks(m, kind: str, final: Iterable[str], name: str):
    """A task table's alias, and the WHERE of the open tasks of the item of `m` (correlated with
    it) while it is live: the tasks a list shows with the item."""
    t = Task.__table__.alias(name)
    return t, (t.c.item_kind == kind, t.c.item_id == m.id, t.c.status == TaskStatus.OPEN,
               m.state.not_in(list(final)))


def next_due(m, kind: str, final: Iterable[str]):
    """When the item's soonest open task is due (NULL: none open)."""
    t, where = _open_tasks(m, kind, final, "due_task")
    return sa.select(sa.func.min(t.c.due_at)).where(*where).scalar_subquery()


def conditions(m, query: ListQuery, *, kind: str, final: Iterable[str], own: Mapping[str, Filter],
               search: Sequence, paged: bool = True) -> list:
    """The WHERE of the query's filter and search (and, `paged`, of `before`)."""
    def param(name: str, type_):
        return sa.bindparam(name, type_=type_)

    out = []
    if query.state is not None:
        out.append(m.state == param("f_state", m.state.type))
    if query.member_state is not None:
        out.append(m.member_state == param("f_member_state", m.member_state.type))
    for name, _ in query.own:
        out.append(own[name].clause(m, param(f"f_{name}", sa.String())))
    if query.overdue is not None:
        t, where = _open_tasks(m, kind, final, "overdue_task")
        late = sa.select(t.c.id).where(*where, t.c.due_at < param("f_now", UtcDateTime())).exists()
        out.append(late if query.overdue else ~late)
    if query.submitted_from is not None:
        out.append(m.submitted_at >= param("f_from", UtcDateTime()))
    if query.submitted_to is not None:
        out.append(m.submitted_at < param("f_to", UtcDateTime()))
    if query.q is not None:
        pattern = param("f_q", sa.String())
        out.append(sa.or_(*(c.ilike(pattern, escape="\\") for c in search)))
    if paged and query.before is not None:
        out.append(m.id < param("f_before", sa.Integer()))
    return out


def ordering(m, sort: Sort, descending: bool) -> list:
    """ORDER BY: the sort value (an empty one last, either way), then the id, the same way."""
    way = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    if sort.by_id:
        return [way(m.id)]
    col = sort.column()
    return [*([col.is_(None)] if sort.nullable else []), way(col), way(m.id)]


def after_clause(m, sort: Sort, descending: bool, visible):
    """The items that follow the cursor's item (`f_after`) in the order, and the cursor itself
    (a CTE of one row: its id and sort value, if the caller may see it; else none, and the
    page is empty), to join the page to."""
    col = sort.column()
    cursor = (sa.select(m.id.label("id"), (m.id if sort.by_id else sort.column()).label("v"))
              .where(m.id == sa.bindparam("f_after", type_=sa.Integer()), visible).cte("list_cursor"))

    def follows(a, b):
        return a < b if descending else a > b

    if sort.by_id:
        return cursor, follows(m.id, cursor.c.id)
    after_value = follows(sa.tuple_(col, m.id), sa.tuple_(cursor.c.v, cursor.c.id))
    if not sort.nullable:
        return cursor, after_value
    return cursor, sa.or_(sa.and_(cursor.c.v.is_not(None), sa.or_(after_value, col.is_(None))),
                          sa.and_(cursor.c.v.is_(None), col.is_(None), follows(m.id, cursor.c.id)))


# --- export ---------------------------------------------------------------------------------------

@dataclass
class Export:
    """A list as a file."""

    filename: str  # proposals-2026-12-05.csv
    content_type: str
    body: bytes
    rows: int


@dataclass
class Listing:
    """One page of a list, and the address of the next one (None: this was the last)."""

    items: list
    next: dict[str, str] | None = None
    query: ListQuery = field(default_factory=ListQuery)


def too_many() -> InvalidInput:
    return InvalidInput.one("format", f"the list has more than {EXPORT_MAX:,} items, more than one file holds: "
                                      "narrow it (by state, member state or the days it was submitted)")


def table_of(name: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence], tz: ZoneInfo) -> Table:
    """The rows (values in the order of `columns`) as a table, each moment in the RSO's time."""
    moments = [i for i, c in enumerate(columns) if c.kind == "moment"]
    keys = [c.key for c in columns]
    out = []
    for row in rows:
        values = list(row)
        for i in moments:
            if values[i] is not None:
                values[i] = values[i].astimezone(tz)
        out.append(dict(zip(keys, values)))
    return Table(name=name, title=title, columns=list(columns), rows=out)


async def render(table: Table, format: str, filename: str) -> Export:
    """The table as CSV or XLSX (`format`, one of FORMATS). Made in a worker thread: 10,000 rows of a workbook are most
    of a second of CPU that the other requests should not wait for."""
    if format == "csv":
        body, ctype = await asyncio.to_thread(to_csv, table), CSV_TYPE
    else:
        body, ctype = await asyncio.to_thread(to_xlsx, [table], title=table.title), XLSX_TYPE
    return Export(f"{filename}.{format}", ctype, body, len(table.rows))
