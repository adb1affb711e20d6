"""outbox attachments

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

Files sent with an email (a report's PDF): kept with the message in the outbox, so a retry
sends the same bytes and nothing is sent twice.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox_messages', sa.Column('attachments', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('outbox_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_outbox_attachments_event_key'), 'outbox_attachments', ['event_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_attachments_event_key'), table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
    op.drop_column('outbox_messages', 'attachments')
