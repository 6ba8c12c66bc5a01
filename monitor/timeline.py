"""The append-only record of everything that happened to an incident, hash-chained.

Each entry carries ``hash``, a SHA-256 over its content and ``prev_hash``, the
hash of the incident's entry before it ("" for the first), so that changing,
removing or reordering an entry in the database breaks the chain
(``sunclock audit verify``). ``detail`` is stored as the canonical JSON text
that was hashed (PostgreSQL's ``json`` type keeps text as given), so checking
a million entries needs no JSON parsing.

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

from sqlalchemy import Integer, String, Text, column, event, func, insert, select, table
from sqlalchemy import text as sql
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.bulk import among, on_postgresql
from monitor.db import UTCDateTime
from monitor.models import Incident, TimelineEntry

_PENDING = "sunclock.timeline.pending"
_NEW = "sunclock.timeline.new_incidents"
# The columns as written: ``detail`` as the text it was hashed in, not re-encoded.
_WRITE = table("timelineentry", column("incident_id", Integer), column("at", UTCDateTime()), column("kind", String),
               column("actor", String), column("detail", Text), column("prev_hash", String), column("hash", String))
_WRITE_PG = sql(
    "INSERT INTO timelineentry (incident_id, at, kind, actor, detail, prev_hash, hash) "
    "SELECT incident_id, at, kind, actor, CAST(detail AS json), prev_hash, hash "
    "FROM json_to_recordset(CAST(:rows AS json)) AS r(incident_id integer, at timestamp with time zone, "
    "kind text, actor text, detail text, prev_hash text, hash text)")


# Made once: json.dumps with options builds an encoder per call, a third of the
# cost of checking an entry.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def detail_json(detail: dict[str, Any]) -> str:
    """The canonical text of a detail: keys sorted, separators ``,`` and ``:``, ASCII."""
    return _CANONICAL(detail)


def entry_hash(incident_id: int, at: datetime, kind: str, actor: str, detail: str, prev_hash: str) -> str:
    """SHA-256 (hex) of an entry: of the UTF-8 text ``[INCIDENT_ID,"AT",KIND,ACTOR,PREV_HASH,DETAIL]``,
    the first five JSON-encoded as :func:`detail_json` does, AT in UTC like
    ``2026-11-28T02:00:00.000000+00:00``, DETAIL the stored canonical text.
    Written and verified by this one function."""
    head = _CANONICAL([incident_id, at.astimezone(UTC).isoformat(timespec="microseconds"), kind, actor, prev_hash])
    return hashlib.sha256(f"{head[:-1]},{detail}]".encode("utf-8", "surrogatepass")).hexdigest()


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


def mark_new(session: AsyncSession, incident_id: int) -> None:
    """An incident inserted by this transaction: it has no timeline yet, no
    other transaction sees it, and its planning has nothing stored to compare
    with. Saves a registration its look-ups (forgotten when the transaction ends)."""
    session.info.setdefault(_NEW, set()).add(incident_id)


def is_new(session: AsyncSession | Session, incident_id: int) -> bool:
    return incident_id in session.info.get(_NEW, ())


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
    for e in entries:
        if e["at"].utcoffset() is None:
            raise ValueError(f"naive time {e['at']!r} on the timeline: Sunclock stores aware UTC times only")
    ids = sorted({e["incident_id"] for e in entries if not is_new(session, e["incident_id"])})
    heads: dict[int, str] = {}
    if ids:  # incidents inserted by this transaction have no head, and no one else can write to them
        lock_incidents(session, ids)
        latest = select(func.max(TimelineEntry.id)).where(among(session, TimelineEntry.incident_id, ids)) \
            .group_by(TimelineEntry.incident_id)
        heads = dict(session.execute(
            select(TimelineEntry.incident_id, TimelineEntry.hash).where(TimelineEntry.id.in_(latest))).all())
    rows = []
    for e in entries:
        prev, detail = heads.get(e["incident_id"], ""), detail_json(e["detail"])
        digest = entry_hash(e["incident_id"], e["at"], e["kind"], e["actor"], detail, prev)
        heads[e["incident_id"]] = digest
        rows.append({"incident_id": e["incident_id"], "at": e["at"], "kind": e["kind"], "actor": e["actor"],
                     "detail": detail, "prev_hash": prev, "hash": digest})
    return rows


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """In the order given, so that ids ascend along each chain."""
    if on_postgresql(session):
        text_rows = [r | {"at": r["at"].isoformat()} for r in rows]
        session.execute(_WRITE_PG, {"rows": json.dumps(text_rows)})
    else:
        session.execute(insert(_WRITE), rows)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    # Everything else of the transaction first, so that its row locks are taken
    # before the incidents' (the same order as a transaction without entries).
    session.flush()
    _insert(session, _chain(session, entries))


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:  # noqa: ANN001
    # Entries of a transaction rolled back are not written. (Savepoints are not
    # used with the timeline: their entries would outlive a rollback to them.)
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_NEW, None)
