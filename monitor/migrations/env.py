"""Alembic environment: one sync connection, and on PostgreSQL an advisory lock
so that replicas starting together do not race each other's migrations."""

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel

import monitor.models  # noqa: F401 - registers the tables on SQLModel.metadata

MIGRATION_LOCK = 7_204_117  # any constant; shared by every Sunclock replica


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=SQLModel.metadata,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


run_migrations_online()
