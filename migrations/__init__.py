"""The Alembic migrations: the only source of the schema. `upgrade(url)` applies them."""
from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).parent


def alembic_config(database_url: str):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (default: the latest)."""
    from alembic import command
    command.upgrade(alembic_config(database_url), revision)
