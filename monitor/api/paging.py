"""Paging of every list: ``limit`` and ``offset`` in, ``X-Total-Count`` out (SPEC §6).

A list is never cut off silently: the header says how many rows there are
in all, whatever window of them the answer holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import Select, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

TOTAL_HEADER = "X-Total-Count"
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000  # far past any real list; beyond it a database integer would overflow

Row = TypeVar("Row")

LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": {TOTAL_HEADER: {
        "description": "How many rows the list holds in all, whatever `limit` and `offset` picked",
        "schema": {"type": "integer", "minimum": 0}}}},
}


@dataclass(frozen=True)
class Window:
    limit: int
    offset: int
    response: Response

    def count(self, total: int) -> None:
        self.response.headers[TOTAL_HEADER] = str(total)

    def cut(self, rows: Sequence[Row]) -> list[Row]:
        """Window a list built in Python (and count it)."""
        self.count(len(rows))
        return list(rows[self.offset:self.offset + self.limit])

    async def rows(self, session: AsyncSession, query: Select) -> list[Any]:
        """Count the query's rows and return this window of them, as row tuples."""
        total = (await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
        self.count(total)
        return list((await session.execute(query.limit(self.limit).offset(self.offset))).all())

    async def scalars(self, session: AsyncSession, query: Select) -> list[Any]:
        """Like ``rows`` for a query of one entity: the entities themselves."""
        return [row[0] for row in await self.rows(session, query)]


def paging(default: int):  # noqa: ANN201 - a dependency factory
    """A dependency reading ``limit`` (1–1000, ``default`` if absent) and ``offset``."""

    def window(response: Response,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="how many rows at most")] = default,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many rows to skip")] = 0) -> Window:
        return Window(limit=limit, offset=offset, response=response)

    return Depends(window)

