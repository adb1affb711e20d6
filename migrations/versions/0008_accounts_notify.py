"""accounts changes are announced

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

On PostgreSQL, any UPDATE or DELETE of `sessions` or `users` (by the service, a migration or an
administrator at psql) notifies the channel `rso_accounts` when it commits. Each worker of the
service listens, and forgets the sessions it had found live: a cached sign-in never outlives
a sign-out, a password change or a deactivation made anywhere. SQLite has no such channel, and
no server to save round trips to: there each request reads its session.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "rso_accounts"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION rso_accounts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END $$""")
    for table in ("sessions", "users"):
        op.execute(f"CREATE TRIGGER {table}_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION rso_accounts_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("sessions", "users"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS rso_accounts_changed()")
