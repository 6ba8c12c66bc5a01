"""The append-only record of everything that happened to an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.db import insert_many
from monitor.models import TimelineEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def entry(incident_id: int, kind: str, actor: str, at: datetime, **detail: Any) -> dict[str, Any]:
    return {"incident_id": incident_id, "kind": kind, "actor": actor, "at": at, "detail": _jsonable(detail)}


async def record(session: AsyncSession, incident_id: int, kind: str, actor: str, at: datetime, **detail: Any) -> None:
    session.add(TimelineEntry(**entry(incident_id, kind, actor, at, **detail)))


async def record_many(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    await insert_many(session, TimelineEntry.__table__, entries)
