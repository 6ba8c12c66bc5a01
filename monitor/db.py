"""Database engines, the timezone-aware column type, and migrations.

SQLite by default, PostgreSQL in production. Both are driven asynchronously
(SQLite through monitor/sqlite_async.py, PostgreSQL through psycopg 3) by
the service and synchronously by Alembic.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import sqlite_async

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend.

    SQLite has no time zones and hands back naive values; they are stored as
    UTC, so UTC is attached again here, once, rather than at call sites.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: Sunclock stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _normalise(url: str) -> str:
    return "postgresql://" + url[len("postgres://"):] if url.startswith("postgres://") else url


def async_url(url: str) -> str:
    parsed = make_url(_normalise(url))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(_normalise(url))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(_normalise(url)).get_backend_name() == "sqlite"


# How long a writer waits for another process's lock (the command line beside ``serve``).
SQLITE_BUSY_TIMEOUT = 15.0


def configure_sqlite(sync_engine, *, busy_timeout: bool = True) -> None:  # noqa: ANN001 - a sqlalchemy Engine
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE.

    A deferred SQLite transaction that reads and then writes fails at once when
    another process (the command line beside ``serve``) holds the write lock;
    taking the lock at BEGIN lets the busy timeout do its work instead.
    ``busy_timeout``: false for the asynchronous engine, whose connection
    waits on a thread, never in the event loop (monitor/sqlite_async.py).
    """

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        if dbapi_connection.isolation_level is not None:  # (monitor/sqlite_async.py opens it so)
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if busy_timeout:
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        # One connection, queued in asyncio: SQLite has one writer anyway, and
        # waiting in the event loop is cheaper than SQLite's busy sleeps.
        # Its statements run in the event loop; only waits for another
        # process's lock go to a thread (monitor/sqlite_async.py).
        database = make_url(_normalise(url)).database or ":memory:"
        engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0, pool_timeout=120,
                                     async_creator=lambda: sqlite_async.Connection.open(
                                         database, busy_timeout=SQLITE_BUSY_TIMEOUT))
        configure_sqlite(engine.sync_engine, busy_timeout=False)
        return engine
    # No server-side prepared statements: each statement is planned with its
    # values, so the plan for a batch of 2,000 rows knows it is 2,000 rows (a
    # prepared statement soon gets a generic plan that cannot).
    return create_async_engine(async_url(url), pool_size=10, max_overflow=10, pool_pre_ping=True,
                               connect_args={"prepare_threshold": None})


SessionFactory = async_sessionmaker[AsyncSession]


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on any error."""
    async with factory() as session:
        async with session.begin():
            yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


_REVISION = re.compile(r"""^(revision|down_revision)\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]""", re.MULTILINE)


def _head_revision() -> str | None:
    """The one head of the migrations, read from their files' text; None when
    that cannot tell (a merge, two heads): Alembic then decides."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(url: str) -> bool:
    """One query: the stored revision is the head. Loading Alembic to find
    that out costs a start some hundreds of milliseconds, and a SQLAlchemy
    engine, which learns the server's settings first, 170 ms on PostgreSQL."""
    head = _head_revision()
    if head is None:
        return False
    return _stored_revisions(url) == [head]


def _stored_revisions(url: str) -> list[str] | None:
    """``alembic_version``, read with the driver alone; None when it cannot be
    read (no table yet, no database): Alembic then says what is wrong."""
    parsed = make_url(_normalise(url))
    query = "SELECT version_num FROM alembic_version"
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None
        # Read-only: a database not there yet is not created here, but by Alembic.
        try:
            with contextlib.closing(sqlite3.connect(f"{Path(parsed.database).resolve().as_uri()}?mode=ro",
                                                    uri=True)) as conn:
                return [row[0] for row in conn.execute(query)]
        except sqlite3.Error:
            return None
    import psycopg  # (SQLite's start does without it)

    try:
        with psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False),
                             connect_timeout=10) as conn:
            return [row[0] for row in conn.execute(query)]
    except psycopg.Error:
        return None


def migrate_if_needed(url: str) -> None:
    if not schema_is_current(url):
        migrate(url)


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic), as ``serve`` does on start."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(config, revision)
