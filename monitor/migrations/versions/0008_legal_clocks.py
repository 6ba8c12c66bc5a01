"""legal clocks of open government: the kind of matter, working-day deadlines
past the calendar, extensions (SPEC §13)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'kind',
                sqlmodel.sql.sqltypes.AutoString(length=24),
                nullable=False,
                server_default='emergency',
            )
        )
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('calendar_incomplete', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column('extended_working_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('extension_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('extended_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('extended_at', monitor.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        for name in ('extended_at', 'extended_by', 'extension_reason', 'extended_working_days', 'calendar_incomplete'):
            batch_op.drop_column(name)
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('kind')
