"""a partial index on the deadlines counted past the calendar, read at every start

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_obligation_calendar_incomplete', 'obligation', ['incident_id'], unique=False,
                    sqlite_where=sa.text('calendar_incomplete = 1'), postgresql_where=sa.text('calendar_incomplete'))


def downgrade() -> None:
    op.drop_index('ix_obligation_calendar_incomplete', table_name='obligation')
