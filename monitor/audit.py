"""Checking the hash-chained timeline (SPEC §11.5) and the digest of its heads.

A digest is written ``WATERMARK:HEX``: WATERMARK is the highest timeline entry
id when it was made, HEX the SHA-256 over one line ``INCIDENT_ID:HEAD_HASH\\n``
per incident in id order, the head being the incident's entry with the highest
id not above WATERMARK. Entries are append-only and later ones get higher ids,
so the heads as of WATERMARK can be found again however many entries were added
since; if anything at or before it was changed, removed or re-hashed, they no
longer hash to HEX.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.db import async_url, create_engine, is_sqlite
from monitor.models import Incident, TimelineEntry
from monitor.timeline import entry_hash

CHUNK = 10_000  # rows fetched at a time: verification never holds the table in memory
_DIGEST = re.compile(r"(?:(\d+):)?([0-9a-f]{64})")
_T = TimelineEntry.__table__.c


@dataclass(frozen=True)
class Digest:
    watermark: int | None  # None: the heads as they stand now
    hex: str

    def __str__(self) -> str:
        return self.hex if self.watermark is None else f"{self.watermark}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        """``WATERMARK:HEX``; a bare ``HEX`` stands for the heads as they are now,
        so it matches only while no entry was added since."""
        found = _DIGEST.fullmatch(value.strip().lower())
        if found is None:
            raise ValueError(f"{value!r} is not a digest: it reads WATERMARK:HEX (64 hex digits), "
                             "as `sunclock audit digest` prints it")
        return cls(int(found[1]) if found[1] else None, found[2])


class _Heads:
    """The running SHA-256 over ``INCIDENT_ID:HEAD_HASH`` lines, in incident order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, incident_id: int, head: str) -> None:
        self._sha.update(f"{incident_id}:{head}\n".encode("ascii"))

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


@dataclass(frozen=True)
class Problem:
    incident_id: int
    entry_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"incident {self.incident_id}" + (f", entry {self.entry_id}" if self.entry_id is not None else "")
        return f"{where}: {self.what}"


@dataclass
class Verification:
    incidents: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first SHOWN of them
    problem_count: int = 0
    broken: set[int] = field(default_factory=set)  # incidents with a problem
    digest_matches: bool | None = None  # None when no digest was given

    SHOWN = 1000  # a rewritten table is a million problems; their number says enough past these

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        self.broken.add(problem.incident_id)
        if len(self.problems) < self.SHOWN:
            self.problems.append(problem)

    @property
    def intact(self) -> bool:
        return not self.problem_count and self.digest_matches is not False


@asynccontextmanager
async def reading(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection for reading the whole timeline. On SQLite an ordinary
    (deferred) reader: the service's engine begins every transaction with the
    write lock, which would stop the service for as long as the audit reads."""
    engine: AsyncEngine = create_async_engine(async_url(url)) if is_sqlite(url) else create_engine(url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


def _check_chain(incident_id: int, rows: Iterable, report: Verification, watermark: int | None,
                 heads: _Heads | None) -> None:
    previous, previous_id, head = "", None, None
    for entry_id, at, kind, actor, detail, prev_hash, stored in rows:
        report.entries += 1
        if prev_hash != previous:
            what = (f"prev_hash does not match entry {previous_id} before it: an entry between them was removed, "
                    f"or the entries were reordered" if previous_id is not None else
                    "prev_hash is not empty although no entry comes before it: earlier entries were removed, "
                    "or the entries were reordered")
            report.add(Problem(incident_id, entry_id, what))
        if entry_hash(incident_id, at, kind, actor, detail, prev_hash) != stored:
            report.add(Problem(incident_id, entry_id, "changed: its content does not match its hash"))
        previous, previous_id = stored, entry_id
        if watermark is None or entry_id <= watermark:
            head = stored
    if heads is not None and head is not None:
        heads.add(incident_id, head)


async def verify(connection: AsyncConnection, digest: Digest | None = None) -> Verification:
    """Walk every incident's chain in (incident, id) order, streamed in chunks."""
    report = Verification()
    heads = _Heads() if digest is not None else None
    watermark = digest.watermark if digest is not None else None  # None: every entry counts
    # The detail as its stored text, which is what was hashed.
    query = (select(_T.incident_id, _T.id, _T.at, _T.kind, _T.actor, cast(_T.detail, Text), _T.prev_hash, _T.hash)
             .order_by(_T.incident_id, _T.id).execution_options(yield_per=CHUNK))
    result = await connection.stream(query)
    current: int | None = None
    chain: list = []
    async for rows in result.partitions():
        for incident_id, *entry in rows:
            if incident_id != current:
                if current is not None:
                    _check_chain(current, chain, report, watermark, heads)
                current, chain = incident_id, []
                report.incidents += 1
            chain.append(entry)
    if current is not None:
        _check_chain(current, chain, report, watermark, heads)
    await connection.commit()
    without = (await connection.execute(select(Incident.id).where(~exists().where(_T.incident_id == Incident.id))
                                        .order_by(Incident.id))).scalars().all()
    for incident_id in without:
        report.add(Problem(incident_id, None, "has no timeline entries: its chain was removed"))
    if digest is not None and heads is not None:
        report.digest_matches = heads.hexdigest() == digest.hex
    return report


async def make_digest(connection: AsyncConnection) -> Digest:
    """The digest of the chain heads as they stand."""
    if connection.dialect.name == "postgresql":
        # Waits for the transactions writing entries to finish: none of them can
        # then commit an id at or below the watermark read here.
        await connection.execute(text("LOCK TABLE timelineentry IN SHARE MODE"))
    watermark = (await connection.execute(select(func.coalesce(func.max(_T.id), 0)))).scalar_one()
    await connection.commit()
    latest = select(func.max(_T.id)).where(_T.id <= watermark).group_by(_T.incident_id)
    heads = _Heads()
    result = await connection.stream(select(_T.incident_id, _T.hash).where(_T.id.in_(latest))
                                     .order_by(_T.incident_id).execution_options(yield_per=CHUNK))
    async for rows in result.partitions():
        for incident_id, head in rows:
            heads.add(incident_id, head)
    await connection.commit()
    return Digest(watermark, heads.hexdigest())
