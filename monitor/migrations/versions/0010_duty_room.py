"""the duty room: read-only board links for wall screens, and the sign-in audit log

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'boardlink',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_seen_at', monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_table(
        'signinevent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('success', sa.Boolean(), nullable=False),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('signinevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signinevent_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signinevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signinevent_at'))
    op.drop_table('signinevent')
    op.drop_table('boardlink')
