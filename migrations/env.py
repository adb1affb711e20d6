"""Alembic environment: the schema is SQLModel's metadata; the URL comes from RSO_DATABASE_URL
(or the caller's Config), driven through the sync drivers."""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import notifications.outbox  # noqa: F401  (registers the tables)
import services.accounts.models  # noqa: F401
import services.calendar_feed  # noqa: F401
import services.email_actions  # noqa: F401
import services.engine.delegations  # noqa: F401
import services.engine.models  # noqa: F401
import services.engine.tasks  # noqa: F401
import services.proposals.models  # noqa: F401
import services.secondments.models  # noqa: F401
from services.infra.db import make_sync_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from services.config.settings import Settings
        url = Settings().database_url
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_sync_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
