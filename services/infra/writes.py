"""A unit of work's changes in one statement.

An action changes several tables at once: the item (its state and version), tasks closed and
opened, a vote, the history event, the outbox rows. SQLAlchemy's flush sends one statement a
table and a kind of change, each a round trip to PostgreSQL. Here the same changes become
one statement: each table's rows a data-modifying CTE, `WITH w0 AS (UPDATE … RETURNING id),
w1 AS (INSERT … RETURNING id) …`, and the final SELECT returns what each wrote. Every part of
one statement sees the same snapshot and the foreign keys are checked at its end, so the
changes must not depend on each other's results (a new row's id): they don't, since a unit of
work flushes an item it creates before anything refers to it.

SQLite has neither data-modifying CTEs nor a server to save round trips to: there the same
statements run one after the other (`run`, the one place the two differ).

What the ORM session holds (`orm_changes`) is written this way when it is plain: new rows and
changed columns of mapped tables, by primary key, with the version check of a versioned
table. Anything else (a delete) goes through the ORM's own flush."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import object_mapper
from sqlalchemy.orm.exc import StaleDataError

__all__ = ["Insert", "Update", "orm_changes", "run"]


@dataclass
class Insert:
    """Rows (dicts with the same keys) into `table`; with `conflict`, those whose key is taken
    are skipped (`ON CONFLICT (…) DO NOTHING`). `then` gets the `returning` value of each row
    that went in, in the rows' order when `returning` is the generated primary key."""

    table: sa.Table
    rows: list[dict]
    returning: sa.Column
    conflict: list[sa.Column] | None = None
    then: Callable[[list], None] | None = None


@dataclass
class Update:
    """Set each row's other columns where `key` matches (rows: dicts with the same keys). With
    `version`, each row also carries `version` (the new one) and `_old_version`, and must
    match it: a row found changed by someone else raises StaleDataError."""

    table: sa.Table
    key: str
    rows: list[dict]
    version: bool = False
    then: Callable[[list], None] | None = field(default=None)


Write = Insert | Update


# --- PostgreSQL: one statement -----------------------------------------------------------------
#
# The statement depends only on the shape of the writes (which tables, which columns, which kind
# of change): its values go as parameters, one array a column. Built once a shape and kept, it
# is neither constructed nor keyed for SQLAlchemy's compiled cache again: building it was a
# tenth of a transition's CPU time.

def _shape(w: Write) -> tuple:
    if isinstance(w, Insert):
        return ("insert", w.table, tuple(w.rows[0]), tuple(c.name for c in w.conflict or ()), w.returning.name)
    return ("update", w.table, w.key, tuple(c for c in w.rows[0] if c != "_old_version"), w.version)


def _array(name: str, type_: sa.types.TypeEngine):
    if isinstance(type_, sa.JSON):  # JSON goes as text, made JSON again in the statement
        return sa.bindparam(name, type_=postgresql.ARRAY(sa.Text))
    return sa.bindparam(name, type_=postgresql.ARRAY(type_))


def _unnest(n: int, table: sa.Table, cols: tuple[str, ...], extra: dict[str, sa.types.TypeEngine]):
    """The rows as a derived table `unnest(one array a column) WITH ORDINALITY`: one parameter a
    column however many rows (a multi-row VALUES has one a cell, and its text changes with the
    number of rows, so each count would be a statement of its own to prepare)."""
    types = {c: table.c[c].type for c in cols} | extra
    names = list(types)
    u = (sa.func.unnest(*(_array(f"w{n}_{c}", types[c]) for c in names))
         .table_valued(*names, name=f"u{n}", with_ordinality="ord").render_derived())
    value = {c: sa.cast(u.c[c], types[c]) if isinstance(types[c], sa.JSON) else u.c[c] for c in names}
    return u, value, {f"w{n}_{c}": (c, isinstance(types[c], sa.JSON)) for c in names}


def _pg_statement(n: int, shape: tuple):
    if shape[0] == "insert":
        _, t, cols, conflict, returning = shape
        u, v, params = _unnest(n, t, cols, {})
        stmt = postgresql.insert(t).from_select(cols, sa.select(*(v[c] for c in cols)).select_from(u).order_by(u.c.ord))
        if conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=[t.c[c] for c in conflict])
        return stmt.returning(t.c[returning]), params
    _, t, key, cols, version = shape
    u, v, params = _unnest(n, t, cols, {"_old_version": sa.Integer()} if version else {})
    stmt = sa.update(t).where(t.c[key] == v[key])
    if version:
        stmt = stmt.where(t.c.version == v["_old_version"])
    return stmt.values({c: v[c] for c in cols if c != key}).returning(t.c[key]), params


@lru_cache(maxsize=512)
def _pg_union(shapes: tuple[tuple, ...]):
    """The statement for writes of these shapes, and for each parameter the column (and whether
    it is JSON) its array is made of."""
    built = [_pg_statement(n, shape) for n, shape in enumerate(shapes)]
    ctes = [stmt.cte(f"w{n}") for n, (stmt, _) in enumerate(built)]
    parts = [sa.select(sa.literal(n, sa.Integer).label("n"), sa.cast(list(c.c)[0], sa.Text).label("v")).select_from(c)
             for n, c in enumerate(ctes)]
    stmt = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return stmt, [params for _, params in built]


async def _run_postgresql(session, writes: list[Write]) -> list[list]:
    stmt, specs = _pg_union(tuple(_shape(w) for w in writes))
    values = {}
    for w, spec in zip(writes, specs):
        for name, (col, is_json) in spec.items():
            values[name] = ([None if r[col] is None else json.dumps(r[col]) for r in w.rows] if is_json
                            else [r[col] for r in w.rows])
    out: list[list] = [[] for _ in writes]
    for n, value in (await session.exec(stmt, params=values)).all():
        out[n].append(value)
    for n, w in enumerate(writes):  # back from text to the returned column's type
        col = w.returning if isinstance(w, Insert) else w.table.c[w.key]
        if isinstance(col.type, sa.Integer):
            out[n] = [int(x) for x in out[n]]
    return out


# --- SQLite: one statement after the other ---------------------------------------------------

async def _run_sqlite(session, writes: list[Write]) -> list[list]:
    out = []
    for w in writes:
        t = w.table
        if isinstance(w, Insert):
            stmt = sqlite.insert(t)
            if w.conflict:
                stmt = stmt.on_conflict_do_nothing(index_elements=w.conflict)
            stmt = stmt.returning(w.returning, sort_by_parameter_order=not w.conflict)
            out.append(list((await session.exec(stmt, params=w.rows)).scalars().all()))
            continue
        returned = []
        cols = [c for c in w.rows[0] if c not in ("_old_version", w.key)]
        stmt = sa.update(t).where(t.c[w.key] == sa.bindparam(f"b_{w.key}"))
        if w.version:
            stmt = stmt.where(t.c.version == sa.bindparam("b__old_version"))
        stmt = stmt.values({c: sa.bindparam(f"b_{c}") for c in cols}).returning(t.c[w.key])
        for r in w.rows:  # one at a time: RETURNING tells which matched
            returned += (await session.exec(stmt, params={f"b_{k}": v for k, v in r.items()})).scalars().all()
        out.append(returned)
    return out


async def run(session, writes: list[Write]) -> None:
    """Send `writes` (one statement on PostgreSQL) and hand each its returned values."""
    writes = [w for w in writes if w.rows]
    if not writes:
        return
    if session.get_bind().dialect.name == "postgresql":
        results = await _run_postgresql(session, writes)
    else:
        results = await _run_sqlite(session, writes)
    for w, returned in zip(writes, results):
        if isinstance(w, Update) and len(returned) != len(w.rows):
            raise StaleDataError(f"{w.table.name}: {len(w.rows) - len(returned)} row(s) changed or gone meanwhile")
        if w.then is not None:
            w.then(returned)


# --- the ORM session's changes, as writes ------------------------------------------------------

def orm_changes(session, order: dict[str, int]) -> tuple[list[Write], list[Any]] | None:
    """The session's pending changes as writes, and the objects they write (to be detached once
    written); None when they are not plain enough (the ORM's flush must do it). `order`: each
    table's place in dependency order (parents first)."""
    if session.deleted:
        return None
    writes: list[Write] = []
    inserts: dict[sa.Table, list] = {}
    new = sorted(session.new, key=lambda o: sa.inspect(o).insert_order)
    for obj in new:
        inserts.setdefault(object_mapper(obj).local_table, []).append(obj)
    for table in sorted(inserts, key=lambda t: order.get(t.name, 0)):
        w = _insert_of(table, inserts[table])
        if w is None:
            return None
        writes.append(w)
    updates: dict[tuple, Update] = {}
    changed = []
    for obj in session.dirty:
        found = _update_of(obj)
        if found is None:
            return None
        if not found:
            continue
        table, key, row, versioned = found
        group = (table, frozenset(row), versioned)
        if group not in updates:
            updates[group] = Update(table, key, [], version=versioned)
        updates[group].rows.append(row)
        changed.append(obj)
    writes += sorted(updates.values(), key=lambda w: order.get(w.table.name, 0))
    return writes, new + changed


def _insert_of(table: sa.Table, objs: list) -> Insert | None:
    mapper = object_mapper(objs[0])
    if len(mapper.tables) != 1 or len(mapper.primary_key) != 1:
        return None
    pk = mapper.primary_key[0]
    pk_key = mapper.get_property_by_column(pk).key
    generated = [getattr(o, pk_key) is None for o in objs]
    if any(generated) and not all(generated):
        return None
    rows = []
    for o in objs:
        row = {}
        for prop in mapper.column_attrs:
            col = prop.columns[0]
            if col is pk and generated[0]:
                continue
            value = getattr(o, prop.key)
            if value is None and (col.default is not None or col.server_default is not None):
                return None  # the ORM knows how to apply a column default; leave it to it
            row[col.name] = value
        rows.append(row)
    w = Insert(table, rows, returning=pk)
    if generated[0]:
        def assign(ids, objs=objs, key=pk_key):
            for o, i in zip(objs, sorted(ids)):  # one statement's sequence values rise with the rows' order
                setattr(o, key, i)
        w.then = assign
    return w


def _update_of(obj) -> tuple | None | bool:
    """(table, key column, row, versioned) for a changed object; False: nothing changed; None:
    not plain (its primary key changed, or it spans tables)."""
    state, mapper = sa.inspect(obj), object_mapper(obj)
    if len(mapper.tables) != 1 or len(mapper.primary_key) != 1:
        return None
    pk = mapper.primary_key[0]
    row = {}
    for prop in mapper.column_attrs:
        if state.attrs[prop.key].history.has_changes():
            if prop.columns[0] is pk:
                return None
            row[prop.columns[0].name] = getattr(obj, prop.key)
    if not row:
        return False
    row[pk.name] = getattr(obj, mapper.get_property_by_column(pk).key)
    vcol = mapper.version_id_col
    if vcol is None:
        return mapper.local_table, pk.name, row, False
    vkey = mapper.get_property_by_column(vcol).key
    old = getattr(obj, vkey)
    row["_old_version"], row[vcol.name] = old, old + 1
    setattr(obj, vkey, old + 1)
    return mapper.local_table, pk.name, row, True
