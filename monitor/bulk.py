"""The statements written once per database: each takes a whole batch.

SQLite runs the portable form (an executemany, an ``IN`` list) in-process.
PostgreSQL gets the batch's rows in one parameter (an array, a JSON
recordset): one short statement, planned with its values, where the portable
form would be hundreds of placeholders for the driver to rewrite and a plan per
row. Both give the same rows; ``tests/monitor/test_bulk.py`` checks each pair.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Table, TextClause, any_, bindparam, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.models import Notification
from rules.vocabulary import NotificationState


def on_postgresql(session: AsyncSession | Session) -> bool:
    return session.bind.dialect.name == "postgresql"


def among(session: AsyncSession | Session, column: ColumnElement, values: Iterable) -> ColumnElement[bool]:
    """``column IN values``. On PostgreSQL as ``= ANY(array)``: one parameter, so
    a batch of 500 ids is a short statement rather than 500 placeholders for the
    driver to rewrite on every call."""
    if on_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def checked(session: AsyncSession | Session, column: ColumnElement) -> ColumnElement:
    """``column`` (a text column) in a condition that rows found by another
    (``among`` their ids) must also meet, kept out of its index. Without
    statistics the planner believes ``state = 'planned'`` picks out a few rows
    and walks the state index too: SQLite every planned step (86 ms instead of
    3 ms to claim 500 of a million), PostgreSQL a bitmap of all 820,000 of them
    (42 ms instead of 2 ms to claim 40, on a table not analysed since it was
    loaded: autovacuum is off on the machine the tests run on, and late on any
    after a bulk load). ``+column`` on SQLite and ``column || ''`` on PostgreSQL
    are the same values that no index matches."""
    if on_postgresql(session):
        return column.op("||")(literal(""))
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_rows(rows: list[dict]) -> str:
    """Rows for ``json_to_recordset``: times as ISO 8601 with their offset."""
    return json.dumps(rows, default=_json_default, ensure_ascii=False)


@functools.cache
def _recordset_insert(table: Table, columns: tuple[str, ...]) -> TextClause:
    dialect = postgresql.dialect()
    names = ", ".join(f'"{name}"' for name in columns)
    types = ", ".join(f'"{name}" {table.c[name].type.compile(dialect=dialect)}' for name in columns)
    return text(f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
                f"FROM json_to_recordset(CAST(:rows AS json)) AS r({types})")


async def insert_many(session: AsyncSession, table: Table, rows: list[dict]) -> None:
    """Insert a batch of rows. On PostgreSQL it is one statement, planned once and
    cheap to build, where a large executemany becomes multi-row VALUES compiled
    anew for every batch size."""
    if not rows:
        return
    if on_postgresql(session):
        await session.execute(_recordset_insert(table, tuple(rows[0])), {"rows": _json_rows(rows)})
    else:
        await session.execute(insert(table), rows)


# The per-row values of marking notifications sent; the token and the time are the batch's.
SENT_COLUMNS = ("nid", "started", "late", "provider", "provider_id")
_N = Notification.__table__.c
_SENT = (update(Notification.__table__)
         .where(_N.id == bindparam("nid"), _N.claim_token == bindparam("tok"), _N.state == NotificationState.SENDING)
         .values(state=NotificationState.SENT, sent_at=bindparam("done"), send_started_at=bindparam("started"),
                 late=bindparam("late"), claimed_until=None, provider=bindparam("provider"),
                 provider_id=bindparam("provider_id"), last_error=None))
# Arrays, not a JSON recordset: the planner counts an array's elements, while
# for a recordset it guesses 100 rows and, so misled, re-read the whole batch
# for every row (0.7 s instead of 0.08 s for 2,000 messages). Per-row
# statements are planned one by one, and on a table last analysed when it was
# nearly empty each of them can become a scan of the whole table.
_SENT_ALL = text(f"""
    UPDATE notification SET state = '{NotificationState.SENT}', sent_at = :done, send_started_at = v.started,
           late = v.late, claimed_until = NULL, provider = v.provider, provider_id = v.provider_id, last_error = NULL
    FROM unnest(CAST(:nid AS integer[]), CAST(:started AS timestamptz[]), CAST(:late AS boolean[]),
                CAST(:provider AS varchar[]), CAST(:provider_id AS varchar[]))
         AS v(nid, started, late, provider, provider_id)
    WHERE notification.id = v.nid AND notification.claim_token = :tok
      AND notification.state = '{NotificationState.SENDING}'
""")


async def mark_sent(session: AsyncSession, rows: list[dict], token: str, done: datetime) -> int:
    """Mark sent, at ``done``, the notifications of ``rows`` (each with the
    values of SENT_COLUMNS) still held under ``token``; returns how many were
    (-1 when the driver cannot tell)."""
    if on_postgresql(session):
        columns = {name: [row[name] for row in rows] for name in SENT_COLUMNS}
        result = await session.execute(_SENT_ALL, columns | {"tok": token, "done": done})
    else:
        result = await session.execute(_SENT, [row | {"tok": token, "done": done} for row in rows])
    return result.rowcount


async def lock_notifications(session: AsyncSession, ids: Iterable[int]) -> None:
    """Lock these notifications' rows in id order before updating them: an UPDATE
    over many rows locks them in whatever order its plan visits them, and two
    such statements over overlapping rows (recording sends, renewing their
    lease) could then deadlock. SQLite has one writer and needs none."""
    if on_postgresql(session):
        await session.execute(select(Notification.id).where(among(session, Notification.id, sorted(ids)))
                              .order_by(Notification.id).with_for_update())
