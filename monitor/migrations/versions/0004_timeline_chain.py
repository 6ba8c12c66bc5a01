"""hash-chained timeline; the database refuses edits to it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import monitor.db
from monitor.timeline import detail_json, entry_hash

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHUNK = 1000  # incidents whose entries are hashed per round

_entries = sa.table(
    "timelineentry", sa.column("id", sa.Integer), sa.column("incident_id", sa.Integer),
    sa.column("at", monitor.db.UTCDateTime()), sa.column("kind", sa.String), sa.column("actor", sa.String),
    sa.column("detail", sa.JSON), sa.column("prev_hash", sa.String), sa.column("hash", sa.String))

REFUSED = "the timeline is append-only"
PG_UPGRADE = [
    f"""CREATE FUNCTION timelineentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSED}: % of timelineentry refused', TG_OP
        USING HINT = 'Timeline entries are hash-chained; record a new entry instead.';
END $$""",
    "CREATE TRIGGER timelineentry_append_only BEFORE UPDATE OR DELETE ON timelineentry "
    "FOR EACH ROW EXECUTE FUNCTION timelineentry_append_only()",
]
PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS timelineentry_append_only ON timelineentry",
    "DROP FUNCTION IF EXISTS timelineentry_append_only()",
]
def _hash_existing(bind: sa.Connection) -> None:
    """Chain the entries already stored, per incident in id order, with the hash
    function the service writes with; their details become the canonical text
    that is hashed."""
    c = _entries.c
    stored = sa.bindparam("detail_text", type_=sa.Text)
    detail = sa.cast(stored, postgresql.JSON) if bind.dialect.name == "postgresql" else stored
    update = sa.update(_entries).where(c.id == sa.bindparam("entry_id")).values(
        detail=detail, prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest"))
    incidents = bind.execute(sa.select(c.incident_id).distinct().order_by(c.incident_id)).scalars().all()
    for start in range(0, len(incidents), CHUNK):
        rows = bind.execute(sa.select(c.id, c.incident_id, c.at, c.kind, c.actor, c.detail)
                            .where(c.incident_id.in_(incidents[start:start + CHUNK]))
                            .order_by(c.incident_id, c.id)).all()
        heads: dict[int, str] = {}
        values = []
        for row in rows:
            prev, text = heads.get(row.incident_id, ""), detail_json(row.detail)
            heads[row.incident_id] = entry_hash(row.incident_id, row.at, row.kind, row.actor, text, prev)
            values.append({"entry_id": row.id, "detail_text": text, "prev": prev, "digest": heads[row.incident_id]})
        bind.execute(update, values)


def upgrade() -> None:
    with op.batch_alter_table('timelineentry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _hash_existing(op.get_bind())
    with op.batch_alter_table('timelineentry', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.drop_index('ix_timelineentry_incident_id')
        batch_op.create_index('ix_timelineentry_incident_chain', ['incident_id', 'id'], unique=False)
    # SPEC §11.5: PostgreSQL itself refuses edits. A SQLite file is anyone's to
    # edit who can open it, so there the chain (sunclock audit verify) is the guard.
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWNGRADE:
            op.execute(statement)
    with op.batch_alter_table('timelineentry', schema=None) as batch_op:
        batch_op.drop_index('ix_timelineentry_incident_chain')
        batch_op.create_index('ix_timelineentry_incident_id', ['incident_id'], unique=False)
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
