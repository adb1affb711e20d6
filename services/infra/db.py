"""Engines, and the few statements that differ between SQLite and PostgreSQL, written once.

The configured URL names the database (`sqlite:///rso.db`, `postgresql+psycopg://…`); the
service talks to it through async drivers (aiosqlite, asyncpg) and migrations through sync
ones (pysqlite, psycopg), so one `RSO_DATABASE_URL` serves both. Moments are stored as aware
UTC datetimes on both (`sqlalchemy_utc.UtcDateTime`: SQLite keeps no offset, so it stores UTC).
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
import sqlalchemy_utc

__all__ = ["URL", "UtcDateTime", "WRITE", "async_url", "insert_on_conflict", "insert_rows", "is_sqlite", "make_async_engine",
           "make_sync_engine", "make_url", "sync_url", "update_rows", "utcnow"]

_PG = {"postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg", "postgres"}
_SQLITE = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


class UtcDateTime(sqlalchemy_utc.UtcDateTime):
    """sqlalchemy_utc's column type (aware UTC in, aware UTC out, a naive datetime refused), read
    faster: asyncpg already decodes `timestamptz` as an aware UTC datetime, so nothing is done
    to it, and elsewhere the conversion uses the standard library's C `datetime.UTC` rather
    than the library's Python tzinfo. (On a sweep's 500-row batch, its per-value `astimezone`
    was a quarter of the select's time from Python.)"""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or (isinstance(value, datetime) and value.tzinfo is UTC):
            return value
        return super().process_bind_param(value, dialect)  # refuses what is not an aware datetime

    def result_processor(self, dialect, coltype):
        if dialect.driver == "asyncpg":
            return self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _url(url: str | URL) -> URL:
    u = make_url(url)
    if u.drivername not in _PG | _SQLITE:
        raise ValueError(f"unsupported database URL '{u.render_as_string(hide_password=True)}': "
                         "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
    return u


def is_sqlite(url: str | URL) -> bool:
    return _url(url).drivername in _SQLITE


def async_url(url: str | URL) -> URL:
    u = _url(url)
    return u.set(drivername="sqlite+aiosqlite" if u.drivername in _SQLITE else "postgresql+asyncpg")


def sync_url(url: str | URL) -> URL:
    u = _url(url)
    return u.set(drivername="sqlite+pysqlite" if u.drivername in _SQLITE else "postgresql+psycopg")


# Execution option that marks a write transaction: on SQLite it begins with BEGIN IMMEDIATE,
# so two writers queue on the database lock instead of failing on a stale snapshot.
WRITE = {"rso_write": True}


def _sqlite_pragmas(dbapi_connection, _record):
    # Let SQLAlchemy's "begin" event below issue BEGIN, with the mode we choose.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("rso_write") else "BEGIN")


def make_async_engine(url: str | URL, **kwargs) -> AsyncEngine:
    u = async_url(url)
    if u.drivername.startswith("sqlite"):
        engine = create_async_engine(u, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(u, **kwargs)
    event.listen(engine.sync_engine, "connect", _asyncpg_moments)
    return engine


# --- timestamptz over asyncpg: the moments a batch repeats, decoded once ---------------------
#
# asyncpg's own codec builds each `timestamptz` value anew: a timedelta added to an epoch,
# then the zone set, a microsecond apiece. A sweep's batch of 500 tasks carries 1,000 moments,
# most of them the same few (the tasks due the same day): decoding them was two thirds of the
# batch select's time from Python (2.35 ms of it). The codec below takes the value as
# PostgreSQL sends it, microseconds since 2000-01-01 UTC, and keeps the moments it has made.

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
_PG_INFINITY, _PG_MINUS_INFINITY = 2**63 - 1, -(2**63)
_moments: dict[int, datetime] = {}


def _decode_moment(value: tuple[int]) -> datetime:
    us = value[0]
    moment = _moments.get(us)
    if moment is None:
        if us == _PG_INFINITY or us == _PG_MINUS_INFINITY:
            return (datetime.max if us > 0 else datetime.min).replace(tzinfo=UTC)
        if len(_moments) >= 8192:  # bounded: a long-running worker sees many moments
            _moments.clear()
        moment = _moments[us] = _PG_EPOCH + timedelta(microseconds=us)
    return moment


def _encode_moment(value) -> tuple[int]:
    if isinstance(value, datetime):
        # As asyncpg's own codec does: a naive moment is taken in the machine's zone.
        return ((value.astimezone(UTC) - _PG_EPOCH) // _ONE_MICROSECOND,)
    if isinstance(value, date):
        return _encode_moment(datetime(value.year, value.month, value.day).astimezone())
    raise TypeError(f"expected a datetime for a timestamptz, got {type(value).__name__}")


def _asyncpg_moments(dbapi_connection, _record) -> None:
    dbapi_connection.run_async(lambda conn: conn.set_type_codec(
        "timestamptz", schema="pg_catalog", encoder=_encode_moment, decoder=_decode_moment, format="tuple"))


# --- rows as one JSON value: a list inside the row of its parent -----------------------------

class json_rows(sa.sql.functions.FunctionElement):
    """An aggregate: the rows it runs over as one JSON array of arrays (`json_rows(a, b)` ->
    `[[a1, b1], [a2, b2]]`; no row: PostgreSQL's NULL, SQLite's `[]`). As a correlated scalar
    subquery it brings a list along with the row it belongs to (an item's reviews, with the
    item) in the same query, without a row for each. The two databases name the same thing
    differently: PostgreSQL `json_agg(json_build_array(...))`, SQLite (JSON1)
    `json_group_array(json_array(...))`. The order within is not promised: sort on a column.
    Moments come back as ISO text (`parse_moment`)."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_rows"


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element, compiler, **kw):
    return f"json_agg(json_build_array({compiler.process(element.clause_expr.element, **kw)}))"


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element, compiler, **kw):
    return f"json_group_array(json_array({compiler.process(element.clause_expr.element, **kw)}))"


def parse_moment(text: str) -> datetime:
    """A moment as `json_rows` gives it (PostgreSQL: '2027-03-01T01:00:00+00:00'; SQLite, as it
    stores it: '2027-03-01 01:00:00.000000'), aware and in UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_sync_engine(url: str | URL, **kwargs) -> sa.Engine:
    u = sync_url(url)
    engine = sa.create_engine(u, **kwargs)
    if u.drivername.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def insert_on_conflict(session, table: sa.Table, keys: Iterable[sa.Column], *, update: dict | None = None):
    """`INSERT … ON CONFLICT (keys) DO NOTHING` (or `DO UPDATE SET update`) in the dialect of
    the session's database (or of the dialect named: "postgresql", "sqlite"): both speak it,
    each through its own construct. Add `.returning(…)` to learn which rows went in; execute it
    with a list of rows to send them as one executemany."""
    dialect = session if isinstance(session, str) else session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keys = list(keys)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_=update)


# --- many rows in one statement ---------------------------------------------------------------
# PostgreSQL takes a whole batch as one array a column, unnested in the statement: one
# parameter a column however many rows, where a multi-row VALUES has one a cell (for 500
# outbox rows, 7,000 parameters for SQLAlchemy to process and for the server to parse), and an
# executemany one statement a row. SQLite has no arrays, and talks to no server: there the
# same rows go as an executemany (SQLAlchemy pages it into multi-row VALUES), which costs it
# no round trip.

def _unnested(table: sa.Table, rows: list[dict], cols: list[str]):
    """`unnest(array of each column) AS u(cols)`: `rows` as a derived table, on PostgreSQL."""
    arrays = []
    for c in cols:
        values = [r[c] for r in rows]
        if isinstance(table.c[c].type, sa.JSON):  # sent as text, made JSON by the statement
            values = [None if v is None else json.dumps(v) for v in values]
            arrays.append(sa.bindparam(f"u_{c}", values, type_=postgresql.ARRAY(sa.Text)))
        else:
            arrays.append(sa.bindparam(f"u_{c}", values, type_=postgresql.ARRAY(table.c[c].type)))
    u = sa.func.unnest(*arrays).table_valued(*cols, name="u").render_derived()
    return u, [sa.cast(u.c[c], table.c[c].type) if isinstance(table.c[c].type, sa.JSON) else u.c[c] for c in cols]


async def insert_rows(session, table: sa.Table, rows: list[dict], *, keys: Iterable[sa.Column],
                      returning: sa.Column) -> list:
    """Insert `rows` (dicts with the same columns), skipping any whose `keys` are taken, in one
    statement; the `returning` value of each row that went in."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        stmt = insert_on_conflict(session, table, keys).returning(returning)
        return list((await session.exec(stmt, params=rows)).scalars().all())
    cols = list(rows[0])
    u, values = _unnested(table, rows, cols)
    stmt = (postgresql.insert(table).from_select(cols, sa.select(*values).select_from(u))
            .on_conflict_do_nothing(index_elements=list(keys)).returning(returning))
    return list((await session.exec(stmt)).scalars().all())


async def update_rows(session, table: sa.Table, key: str, rows: list[dict]) -> None:
    """Set each row's other columns where `key` matches, in one statement (rows: dicts with the
    same columns, `key` among them)."""
    if not rows:
        return
    cols = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        stmt = (sa.update(table).where(table.c[key] == sa.bindparam(f"b_{key}"))
                .values({c: sa.bindparam(f"b_{c}") for c in cols if c != key}))
        await session.exec(stmt, params=[{f"b_{c}": r[c] for c in cols} for r in rows])
        return
    u, values = _unnested(table, rows, cols)
    v = dict(zip(cols, values))
    stmt = sa.update(table).where(table.c[key] == v[key]).values({c: v[c] for c in cols if c != key})
    await session.exec(stmt)


def factory(make: Callable[[], Any]) -> Callable[[], Any]:
    """`make` as a model field's `default_factory` whose signature is known up front.

    Each time it fills in a default, pydantic asks whether the factory takes the validated data,
    by reading its signature; for a builtin such as `list`, `inspect` parses the text of it with
    `tokenize` and `ast`. On every row a create builds, that was a sixth of the request's CPU.
    The signature given here is read at once."""
    def made() -> Any:
        return make()
    made.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    made.__name__ = made.__qualname__ = f"factory({getattr(make, '__name__', make)})"
    return made


def _utcnow() -> datetime:
    return datetime.now(UTC)


utcnow = factory(_utcnow)
