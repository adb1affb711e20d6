"""secondment round

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

A secondment counts its submissions, as a proposal does, so that an acknowledgement names
the round it acknowledges. Existing secondments get theirs from their history.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('secondments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False, server_default='0'))
    op.execute("UPDATE secondments SET round = (SELECT COUNT(*) FROM history_events h WHERE h.item_kind = "
               "'secondment' AND h.item_id = secondments.id AND h.action IN ('submit', 'resubmit'))")
    with op.batch_alter_table('secondments', schema=None) as batch_op:
        batch_op.alter_column('round', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('secondments', schema=None) as batch_op:
        batch_op.drop_column('round')
