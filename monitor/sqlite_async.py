"""SQLite for the asynchronous engine, without a thread hop per call.

aiosqlite hands every call of the driver to its own thread and back: a
cursor, its statement, its rows and its closing are four trips through the
event loop for one statement. Registering an incident took 24 of them, and
each trip waits for the GIL: up to the interpreter's switch interval (5 ms)
whenever the event loop has work, so under concurrent requests the one
SQLite connection spent most of its time waiting for its results to be
handed back (bench/bench_register.py).

Inside a transaction begun with ``BEGIN IMMEDIATE`` (monitor/db.py), a
statement on a WAL database never waits for another process: this connection
holds the write lock and readers never block. Such statements take
microseconds, so they run right in the event loop. Only what may wait runs
on a thread: opening and closing the file, and a ``BEGIN`` (or any statement
outside a transaction) that found the database locked by another process
(the command line beside ``serve``), tried again there under the busy timeout.

It has the shape of an aiosqlite connection, which SQLAlchemy's
``sqlite+aiosqlite`` dialect drives (``create_async_engine``'s ``async_creator``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any] | None


def _statement(conn: sqlite3.Connection, operation: str, parameters: Params,
               many: bool) -> tuple[Any, int, int | None, list[Any]]:
    """Run one statement and read all its rows: description, row count, last row id, rows."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters or ())
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _locked(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY, or one of its extended codes: another connection holds the lock."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


class Cursor:
    """A statement's results, read with it: fetching and closing cost nothing more."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, operation: str, parameters: Params = None) -> Cursor:
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.statement(
            operation, parameters, many=False)
        return self

    async def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> Cursor:
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.statement(
            operation, list(seq_of_parameters), many=True)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def close(self) -> None:
        self._rows = []


class Connection:
    """One ``sqlite3`` connection: statements in the event loop, waits on a thread."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._connection: sqlite3.Connection | None = conn
        self._busy_ms = int(busy_timeout * 1000)
        self._waiting: asyncio.Future | None = None  # a call under way on a thread

    @classmethod
    async def open(cls, database: str, *, busy_timeout: float) -> Connection:
        """``busy_timeout``: how long a statement that found the database locked
        waits for it (on a thread); in the event loop it never waits."""
        conn = await asyncio.to_thread(sqlite3.connect, database, timeout=0, isolation_level=None,
                                       check_same_thread=False)
        return cls(conn, busy_timeout)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def statement(self, operation: str, parameters: Params, *, many: bool) -> tuple[Any, int, int | None,
                                                                                          list[Any]]:
        conn = await self._idle()
        try:
            return _statement(conn, operation, parameters, many)
        except sqlite3.OperationalError as exc:
            if conn.in_transaction or not _locked(exc):
                raise
        # Locked by another process, outside a transaction: the statement did
        # nothing; it waits for the lock on a thread, the event loop goes on.
        return await self._on_thread(self._waited, operation, parameters, many)

    def _waited(self, conn: sqlite3.Connection, operation: str, parameters: Params,
                many: bool) -> tuple[Any, int, int | None, list[Any]]:
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        try:
            return _statement(conn, operation, parameters, many)
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        waiting = asyncio.ensure_future(asyncio.to_thread(function, self._conn, *args))
        self._waiting = waiting
        waiting.add_done_callback(self._returned)
        # Shielded: a request given up meanwhile leaves the thread to finish,
        # and the connection's next call waits for it (:meth:`_idle`).
        return await asyncio.shield(waiting)

    @property
    def waiting_on_thread(self) -> bool:
        """A call is under way on a thread (a wait for another connection's lock)."""
        return self._waiting is not None

    def _returned(self, waiting: asyncio.Future) -> None:
        if self._waiting is waiting:
            self._waiting = None

    async def _idle(self) -> sqlite3.Connection:
        """The connection, once no call is under way on a thread."""
        if self._waiting is not None:
            await asyncio.wait([self._waiting])
        return self._conn

    def cursor(self) -> Cursor:
        return Cursor(self)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        (await self._idle()).commit()

    async def rollback(self) -> None:
        (await self._idle()).rollback()

    async def close(self) -> None:
        if self._connection is not None:
            conn = await self._idle()
            self._connection = None
            await asyncio.to_thread(conn.close)  # the last one out checkpoints the WAL

    def stop(self) -> None:
        """SQLAlchemy's forced close: now, or once a call on a thread has returned."""
        if self._connection is None:
            return
        conn, self._connection = self._connection, None
        if self._waiting is not None:
            self._waiting.add_done_callback(lambda _: conn.close())
        else:
            conn.close()
