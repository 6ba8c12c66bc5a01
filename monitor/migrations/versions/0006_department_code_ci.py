"""department codes unique regardless of case

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A unique index on ``upper(code)``, on SQLite and PostgreSQL alike (codes are
ASCII, so both databases fold them the same way). Codes that already differ
only in case stop the upgrade with their names: merging two departments is a
decision for a person, not for a migration, and nothing is changed or lost.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEX = "uq_department_code_upper"


def _clashes(connection: sa.engine.Connection) -> list[list[str]]:
    rows = connection.execute(sa.text(
        "SELECT code FROM department WHERE upper(code) IN "
        "(SELECT upper(code) FROM department GROUP BY upper(code) HAVING count(*) > 1) "
        "ORDER BY upper(code), code")).scalars()
    groups: dict[str, list[str]] = {}
    for code in rows:
        groups.setdefault(code.upper(), []).append(code)
    return list(groups.values())


def upgrade() -> None:
    clashes = _clashes(op.get_bind())
    if clashes:
        named = "; ".join(" and ".join(group) for group in clashes)
        raise RuntimeError(
            f"migration 0006 stopped: department codes must be unique regardless of case, but {named} "
            "differ only in case. Give one of each a different code in the database "
            "(UPDATE department SET code = 'NEW' WHERE code = 'old'), then run the migration again. "
            "Nothing was changed.")
    op.create_index(INDEX, "department", [sa.text("upper(code)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="department")
