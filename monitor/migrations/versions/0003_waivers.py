"""waivers replace cancelled obligations; a case records a withdrawn breach; a step its unreached groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

WAIVER_COLUMNS = ("waiver_state", "waiver_reason", "waiver_requested_by", "waiver_requested_at",
                  "waiver_decided_by", "waiver_decided_at", "waiver_decision_reason")


def upgrade() -> None:
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiver_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('waiver_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('waiver_requested_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('waiver_requested_at', monitor.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiver_decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('waiver_decided_at', monitor.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiver_decision_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('accountabilitycase', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breach_withdrawn', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('escalationstep', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreached_groups', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    # SPEC §11.7: a duty an earlier version cancelled (closing, or a severity
    # change) is waived, with the reason that was given for it. Closing is the
    # usual cause; otherwise the reason is the incident's close reason if any.
    op.execute(sa.text(
        "UPDATE obligation SET state = 'waived', waiver_state = 'granted', "
        "waiver_requested_by = 'migration', waiver_decided_by = 'migration', "
        "waiver_reason = COALESCE((SELECT close_reason FROM incident WHERE incident.id = obligation.incident_id), "
        "'cancelled by an earlier version of Sunclock'), "
        "waiver_requested_at = COALESCE((SELECT closed_at FROM incident WHERE incident.id = obligation.incident_id), "
        "obligation.due_at), "
        "waiver_decided_at = COALESCE((SELECT closed_at FROM incident WHERE incident.id = obligation.incident_id), "
        "obligation.due_at) "
        "WHERE state = 'cancelled'"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE obligation SET state = 'cancelled' WHERE state = 'waived'"))
    with op.batch_alter_table('escalationstep', schema=None) as batch_op:
        batch_op.drop_column('unreached_groups')
    with op.batch_alter_table('accountabilitycase', schema=None) as batch_op:
        batch_op.drop_column('breach_withdrawn')
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        for column in reversed(WAIVER_COLUMNS):
            batch_op.drop_column(column)
