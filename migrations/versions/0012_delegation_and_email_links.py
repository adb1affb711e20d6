"""delegation and email links

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

Delegations (someone acting for a co-manager or co-chair who is away, for a period); on each
history event, whose seat a delegate acted in and how the action came ("email_link"); and the
hashes of the email action links used, so that each acts once. On PostgreSQL a change to the
delegations is announced on `rso_accounts` (as one to users is, 0008): each worker keeps the
delegations running, and forgets them then.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delegations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('principal_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['principal_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_delegations_delegate', 'delegations', ['delegate_id', 'ends_on'], unique=False)
    op.create_index('ix_delegations_principal', 'delegations', ['principal_id', 'ends_on'], unique=False)
    op.create_table('email_link_uses',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    # Plain ADD COLUMNs (no batch: SQLite would copy the table and lose its immutability trigger).
    op.add_column('history_events', sa.Column('on_behalf_of_id', sa.Integer(), nullable=True))
    op.add_column('history_events', sa.Column('on_behalf_of_name', sqlmodel.sql.sqltypes.AutoString(length=200),
                                              nullable=True))
    op.add_column('history_events', sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER delegations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON delegations "
                   "FOR EACH STATEMENT EXECUTE FUNCTION rso_accounts_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS delegations_changed ON delegations")
    op.drop_column('history_events', 'via')
    op.drop_column('history_events', 'on_behalf_of_name')
    op.drop_column('history_events', 'on_behalf_of_id')
    op.drop_table('email_link_uses')
    op.drop_index('ix_delegations_principal', table_name='delegations')
    op.drop_index('ix_delegations_delegate', table_name='delegations')
    op.drop_table('delegations')
