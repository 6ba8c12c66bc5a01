"""The SQLite connection of the asynchronous engine (monitor/sqlite_async.py):
statements in the event loop, waits for another connection's lock on a thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from monitor import sqlite_async
from monitor.db import create_engine


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "sunclock.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    return path


@pytest.fixture
def holder(database: Path) -> Iterator[sqlite3.Connection]:
    """Another writer (the command line beside ``serve``); ``BEGIN IMMEDIATE`` takes the write lock."""
    conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    yield conn
    if conn.in_transaction:
        conn.rollback()
    conn.close()


async def _turns(n: int = 20) -> None:
    """Give the event loop some turns (no time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def _until_waiting(conn: sqlite_async.Connection) -> None:
    """Turns of the event loop until ``conn`` waits on its thread: the loop runs meanwhile."""
    for _ in range(10_000):
        if conn.waiting_on_thread:
            return
        await asyncio.sleep(0)
    raise AssertionError("the connection never waited on a thread")


async def test_statements_run_in_the_event_loop_and_read_their_rows_with_them(database: Path) -> None:
    conn = await sqlite_async.Connection.open(str(database), busy_timeout=1)
    try:
        cursor = conn.cursor()
        await cursor.execute("BEGIN IMMEDIATE")
        await cursor.executemany("INSERT INTO item (name) VALUES (?)", [("a",), ("b",), ("c",)])
        assert cursor.rowcount == 3
        await cursor.execute("SELECT name FROM item ORDER BY name")
        assert [d[0] for d in cursor.description] == ["name"]
        assert await cursor.fetchone() == ("a",)
        assert await cursor.fetchmany(1) == [("b",)]
        assert await cursor.fetchall() == [("c",)]
        await conn.commit()
    finally:
        await conn.close()
    await conn.close()  # twice is no error, as with aiosqlite


async def test_a_begin_that_finds_the_database_locked_waits_on_a_thread_while_the_loop_goes_on(
        database: Path, holder: sqlite3.Connection) -> None:
    engine = create_engine(f"sqlite:///{database}")
    try:
        async with engine.connect() as conn:  # the engine's one connection, opened
            driver = (await conn.get_raw_connection()).driver_connection

        async def insert() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO item (name) VALUES ('from serve')"))

        holder.execute("BEGIN IMMEDIATE")
        inserting = asyncio.create_task(insert())
        await _until_waiting(driver)  # the event loop runs on while the insert waits for the lock
        await _turns()
        assert not inserting.done()
        holder.execute("INSERT INTO item (name) VALUES ('from the command line')")
        holder.commit()
        await asyncio.wait_for(inserting, timeout=10)
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM item ORDER BY id"))).scalars().all()
        assert names == ["from the command line", "from serve"]
    finally:
        await engine.dispose()


async def test_the_wait_for_a_lock_ends_at_the_busy_timeout(database: Path, holder: sqlite3.Connection) -> None:
    conn = await sqlite_async.Connection.open(str(database), busy_timeout=0.05)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await conn.cursor().execute("BEGIN IMMEDIATE")
        holder.rollback()
        await conn.cursor().execute("BEGIN IMMEDIATE")  # the busy timeout was only for that wait: free now
        await conn.rollback()
    finally:
        await conn.close()


async def test_errors_reach_sqlalchemy_as_its_own_and_the_connection_goes_on(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO item (name) VALUES ('once')"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO item (name) VALUES ('twice')"))
                await conn.execute(text("INSERT INTO item (name) VALUES ('once')"))
        with pytest.raises(OperationalError, match="no such table"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
        async with engine.connect() as conn:  # the failed transaction left nothing behind
            assert (await conn.execute(text("SELECT name FROM item"))).scalars().all() == ["once"]
    finally:
        await engine.dispose()


async def test_a_wait_given_up_holds_the_connection_until_it_returns(database: Path,
                                                                     holder: sqlite3.Connection) -> None:
    conn = await sqlite_async.Connection.open(str(database), busy_timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    waiting = asyncio.create_task(conn.cursor().execute("BEGIN IMMEDIATE"))
    await _until_waiting(conn)
    waiting.cancel()  # the request was given up; the thread still waits for the lock
    with pytest.raises(asyncio.CancelledError):
        await waiting
    rolling_back = asyncio.create_task(conn.rollback())
    await _turns()
    assert not rolling_back.done()  # not on the connection while the thread has it
    holder.rollback()
    await asyncio.wait_for(rolling_back, timeout=10)  # the thread's BEGIN, rolled back after it
    assert not conn.waiting_on_thread
    cursor = await conn.cursor().execute("BEGIN IMMEDIATE")
    assert await (await cursor.execute("SELECT 1")).fetchall() == [(1,)]
    await conn.close()


async def test_a_forced_close_during_a_wait_closes_once_the_wait_returns(database: Path,
                                                                         holder: sqlite3.Connection) -> None:
    conn = await sqlite_async.Connection.open(str(database), busy_timeout=10)
    raw = conn._connection
    assert raw is not None
    holder.execute("BEGIN IMMEDIATE")
    waiting = asyncio.create_task(conn.cursor().execute("BEGIN IMMEDIATE"))
    await _until_waiting(conn)
    conn.stop()  # SQLAlchemy terminating the connection, while the thread uses it
    holder.rollback()
    await asyncio.wait_for(waiting, timeout=10)
    await _turns()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        raw.execute("SELECT 1")
    with pytest.raises(ValueError, match="no active connection"):
        await conn.cursor().execute("SELECT 1")
