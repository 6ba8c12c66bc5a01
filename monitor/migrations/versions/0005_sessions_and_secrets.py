"""server-side page sessions, the generated signing key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The key itself is generated at first start (monitor.secret), not here: a
    # database copied from a migrated template must not share it.
    op.create_table('appsecret',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('created_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('pagesession',
    sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('password_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('pagesession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pagesession_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pagesession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pagesession_user_id'))
    op.drop_table('pagesession')
    op.drop_table('appsecret')
