"""districts, users scoped to a district, stand-ins (SPEC §14)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Today's departments go into the built-in district ``default``, so that a
one-district install goes on as before without ever naming a district. The
new columns are added in place (no table copy on SQLite, which would lose
the expression index on ``upper(code)``); every department the service writes
names its district.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DEFAULT_CODE = 'default'
DEFAULT_NAME = '本辖区'


def _district_column() -> sa.Column:
    # SQLite cannot add a constraint in place; a table copy would lose the
    # expression index. Its foreign keys are not enforced anyway.
    if op.get_bind().dialect.name == 'sqlite':
        return sa.Column('district_id', sa.Integer(), nullable=True)
    return sa.Column('district_id', sa.Integer(), sa.ForeignKey('district.id'), nullable=True)


def _drop_district_column(table: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # In place (SQLite 3.35+), unlike a batch table copy, which would lose
        # the department's expression index.
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN district_id')
    else:
        op.drop_column(table, 'district_id')


def upgrade() -> None:
    district = op.create_table(
        'district',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('created_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('uq_district_code_upper', 'district', [sa.text('upper(code)')], unique=True)
    op.bulk_insert(district, [{'code': DEFAULT_CODE, 'name': DEFAULT_NAME, 'created_at': datetime.now(UTC)}])
    op.add_column('department', _district_column())
    op.create_index('ix_department_district_id', 'department', ['district_id'])
    op.execute(f"UPDATE department SET district_id = (SELECT id FROM district WHERE code = '{DEFAULT_CODE}')")
    op.add_column('user', _district_column())
    op.create_table(
        'standin',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), sa.ForeignKey('department.id'), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('contact.id'), nullable=False),
        sa.Column('standin_contact_id', sa.Integer(), sa.ForeignKey('contact.id'), nullable=False),
        sa.Column('starts_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_standin_department_id', 'standin', ['department_id'])
    op.create_index('ix_standin_contact_period', 'standin', ['contact_id', 'starts_at'])


def downgrade() -> None:
    op.drop_index('ix_standin_contact_period', table_name='standin')
    op.drop_index('ix_standin_department_id', table_name='standin')
    op.drop_table('standin')
    op.drop_index('ix_department_district_id', table_name='department')
    for table in ('user', 'department'):
        _drop_district_column(table)
    op.drop_index('uq_district_code_upper', table_name='district')
    op.drop_table('district')
