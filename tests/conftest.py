"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, a
frozen clock, a runtime without a running scheduler, and an API client."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from alerts.outbox import OutboxChannel
from monitor.api.app import create_app
from monitor.clock import FrozenClock
from monitor.db import migrate, sync_url
from monitor.runtime import Runtime
from monitor.settings import Settings

PG_ADMIN = os.environ.get("SUNCLOCK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per test session, so that two sessions on one server never
# drop each other's data.
PG_TEST_DB = f"sunclock_test_{os.getpid()}"
START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
ADMIN_TOKEN = "test-admin-token-0123456789"


def missing_tool(reason: str) -> NoReturn:
    """Skip for a missing peer; in CI a missing peer is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def pg_url(database: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


def recreate_pg_database(name: str) -> str:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        missing_tool(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    return pg_url(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    url = recreate_pg_database(PG_TEST_DB)
    migrate(url)
    yield url
    drop_pg_database(PG_TEST_DB)


def _truncate(url: str) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")).scalars()
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "sunclock.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def make_settings(database_url: str, **overrides: object) -> Settings:
    # A frozen clock does not move while a message fired ahead waits for its
    # moment: the engine is tested firing at its steps' times, and firing ahead
    # by its own tests (tests/monitor/test_fire_ahead.py), whose sleep moves the clock.
    values = {"database_url": database_url, "admin_token": ADMIN_TOKEN, "public_url": "http://sunclock.test",
              "secret_key": "test-secret-key-of-at-least-32-bytes", "fire_ahead_seconds": 0} | overrides
    return Settings(**values)


@pytest.fixture
async def runtime(database_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(database_url), clock=clock, migrate_schema=False,
                       channels={name: OutboxChannel(name) for name in ("sms", "email", "voice")})
    yield rt
    await rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sunclock.test",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        yield c
