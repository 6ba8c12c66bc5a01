"""The append-only record of everything that happened to an incident, hash-chained.

Each entry carries ``hash``, a SHA-256 over its content and ``prev_hash``, the
hash of the incident's entry before it ("" for the first), so that changing,
removing or reordering an entry in the database breaks the chain
(``sunclock audit verify``).

Entries recorded in a transaction are written when it commits, all at once:
the incidents' rows are locked (in id order, one statement), the chain heads
read, the hashes computed and the entries inserted in one statement. Locking
the incident row rather than an advisory key matters: the API already holds
that row ``FOR UPDATE`` while it edits an incident, and an insert's foreign key
check waits for it anyway, so a second kind of lock could only add deadlocks.
On SQLite every transaction holds the one write lock from ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.db import among, insert_rows, on_postgresql
from monitor.models import Incident, TimelineEntry

_PENDING = "sunclock.timeline.pending"
COLUMNS = ("incident_id", "at", "kind", "actor", "detail", "prev_hash", "hash")


def entry_hash(incident_id: int, at: datetime, kind: str, actor: str, detail: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of an entry: the JSON array ``[incident_id, at, kind, actor,
    detail, prev_hash]`` with ``at`` in UTC as ``2026-11-28T02:00:00.000000+00:00``,
    keys sorted, separators ``,`` and ``:``, non-ASCII escaped. Written and
    verified by this one function."""
    content = [incident_id, at.astimezone(UTC).isoformat(timespec="microseconds"), kind, actor, detail, prev_hash]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


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


def _pending(session: AsyncSession) -> list[dict[str, Any]]:
    return session.info.setdefault(_PENDING, [])


async def record(session: AsyncSession, incident_id: int, kind: str, actor: str, at: datetime, **detail: Any) -> None:
    """Put an entry on the timeline when the session's transaction commits."""
    _pending(session).append(entry(incident_id, kind, actor, at, **detail))


async def record_many(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Entries made by :func:`entry`, in order, written when the transaction commits."""
    _pending(session).extend(entries)


def lock_incidents(session: Session, ids: list[int]) -> None:
    """Until commit, in id order: a concurrent writer of the same incidents waits
    here, and then reads the heads this transaction wrote."""
    if on_postgresql(session):
        session.execute(select(Incident.id).where(among(session, Incident.id, ids))
                        .order_by(Incident.id).with_for_update(key_share=True))


def _chain(session: Session, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with their hashes, after the heads they extend."""
    ids = sorted({e["incident_id"] for e in entries})
    lock_incidents(session, ids)
    latest = select(func.max(TimelineEntry.id)).where(among(session, TimelineEntry.incident_id, ids)) \
        .group_by(TimelineEntry.incident_id)
    heads: dict[int, str] = dict(session.execute(
        select(TimelineEntry.incident_id, TimelineEntry.hash).where(TimelineEntry.id.in_(latest))).all())
    rows = []
    for e in entries:
        prev = heads.get(e["incident_id"], "")
        digest = entry_hash(e["incident_id"], e["at"], e["kind"], e["actor"], e["detail"], prev)
        heads[e["incident_id"]] = digest
        rows.append({"incident_id": e["incident_id"], "at": e["at"], "kind": e["kind"], "actor": e["actor"],
                     "detail": e["detail"], "prev_hash": prev, "hash": digest})
    return rows


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    # Everything else of the transaction first, so that its row locks are taken
    # before the incidents' (the same order as a transaction without entries).
    session.flush()
    insert_rows(session, TimelineEntry.__table__, _chain(session, entries))


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:  # noqa: ANN001
    # Entries of a transaction rolled back are not written. (Savepoints are not
    # used with the timeline: their entries would outlive a rollback to them.)
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
