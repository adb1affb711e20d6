"""Engines, and the few statements that differ between SQLite and PostgreSQL, written once.

The configured URL names the database (`sqlite:///rso.db`, `postgresql+psycopg://…`); the
service talks to it through async drivers (aiosqlite, asyncpg) and migrations through sync
ones (pysqlite, psycopg), so one `RSO_DATABASE_URL` serves both. Moments are stored as aware
UTC datetimes on both (`sqlalchemy_utc.UtcDateTime`: SQLite keeps no offset, so it stores UTC).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy_utc import UtcDateTime

__all__ = ["URL", "UtcDateTime", "WRITE", "async_url", "insert_on_conflict", "is_sqlite", "make_async_engine",
           "make_sync_engine", "make_url", "sync_url", "utcnow"]

_PG = {"postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg", "postgres"}
_SQLITE = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


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
    return create_async_engine(u, **kwargs)


def make_sync_engine(url: str | URL, **kwargs) -> sa.Engine:
    u = sync_url(url)
    engine = sa.create_engine(u, **kwargs)
    if u.drivername.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def insert_on_conflict(session, table: sa.Table, keys: Iterable[sa.Column], *, update: dict | None = None):
    """`INSERT … ON CONFLICT (keys) DO NOTHING` (or `DO UPDATE SET update`) in the dialect of
    the session's database: both speak it, each through its own construct. Add `.returning(…)`
    to learn which rows went in; execute it with a list of rows to send them as one executemany."""
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keys = list(keys)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_=update)


def utcnow() -> datetime:
    return datetime.now(UTC)
