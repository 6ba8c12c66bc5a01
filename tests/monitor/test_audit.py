"""``sunclock audit verify`` and ``audit digest`` against a timeline someone
edited behind the service's back (SPEC §11.5), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import text
from support import register, seed_departments

from monitor import timeline
from monitor.cli import main
from monitor.db import sync_url, transaction
from monitor.models import TimelineEntry
from monitor.timeline import detail_json, entry_hash
from tests.conftest import START

ENTRIES = TimelineEntry.__table__


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()

    async def invoke(*args: str):
        # In a thread: the command runs its own event loop.
        return await asyncio.to_thread(runner.invoke, main, list(args), env={"SUNCLOCK_DATABASE_URL": database_url},
                                       catch_exceptions=False)

    return invoke


@contextmanager
def as_superuser(database_url: str):
    """A connection that edits the timeline as a database owner could: on SQLite
    directly, on PostgreSQL with triggers off."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
    finally:
        engine.dispose()


async def two_incidents(client, runtime) -> list[int]:
    await seed_departments(client)
    ids = [(await register(client, START, title=f"事件 {n}"))["id"] for n in range(2)]
    async with transaction(runtime.sessions) as session:
        await timeline.record_many(session, [timeline.entry(i, "note", "tester", START, n=n)
                                             for n in range(3) for i in ids])
    return ids


def entry_ids(conn, incident_id: int) -> list[int]:
    return list(conn.execute(text("SELECT id FROM timelineentry WHERE incident_id = :i ORDER BY id"),
                             {"i": incident_id}).scalars())


async def test_verify_passes_on_an_untouched_timeline(client, runtime, cli):
    await two_incidents(client, runtime)
    result = await cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 2 incidents, 10 timeline entries checked")


async def test_a_changed_detail_is_named_by_incident_and_entry(client, runtime, cli, database_url):
    ids = await two_incidents(client, runtime)
    with as_superuser(database_url) as conn:
        target = entry_ids(conn, ids[1])[2]
        conn.execute(text("UPDATE timelineentry SET detail = :d WHERE id = :id"), {"d": '{"n": 99}', "id": target})
    result = await cli("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"incident {ids[1]}, entry {target}: changed: its content does not match "
                                          "its hash"]
    assert "1 problem(s) in 1 incident(s)" in result.stderr


async def test_a_removed_middle_entry_is_detected_at_the_entry_after_it(client, runtime, cli, database_url):
    ids = await two_incidents(client, runtime)
    with as_superuser(database_url) as conn:
        chain = entry_ids(conn, ids[0])
        conn.execute(text("DELETE FROM timelineentry WHERE id = :id"), {"id": chain[2]})
    result = await cli("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"incident {ids[0]}, entry {chain[3]}: prev_hash does not match entry {chain[1]} before it: an entry between "
        "them was removed, or the entries were reordered"]


async def test_two_swapped_entries_are_detected(client, runtime, cli, database_url):
    ids = await two_incidents(client, runtime)
    with as_superuser(database_url) as conn:
        a, b = entry_ids(conn, ids[0])[2:4]
        content = [ENTRIES.c[name] for name in ("at", "kind", "actor", "detail", "prev_hash", "hash")]
        rows = {r.id: r for r in conn.execute(sa.select(ENTRIES.c.id, *content).where(ENTRIES.c.id.in_([a, b])))}
        for target, source in ((a, rows[b]), (b, rows[a])):
            conn.execute(sa.update(ENTRIES).where(ENTRIES.c.id == target).values(
                {column.name: getattr(source, column.name) for column in content}))
    result = await cli("audit", "verify")
    assert result.exit_code == 1
    named = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert f"incident {ids[0]}, entry {a}" in named and f"incident {ids[0]}, entry {b}" in named
    assert all(f"incident {ids[0]}," in line for line in named)


async def test_an_incident_whose_entries_were_all_removed_is_named(client, runtime, cli, database_url):
    ids = await two_incidents(client, runtime)
    with as_superuser(database_url) as conn:
        conn.execute(text("DELETE FROM timelineentry WHERE incident_id = :i"), {"i": ids[0]})
    result = await cli("audit", "verify")
    assert result.exit_code == 1
    assert f"incident {ids[0]}: has no timeline entries" in result.stdout


async def test_the_digest_changes_when_a_chain_head_changes(client, runtime, cli):
    ids = await two_incidents(client, runtime)
    before = await cli("audit", "digest")
    assert before.exit_code == 0
    again = (await cli("audit", "digest")).stdout
    async with transaction(runtime.sessions) as session:
        await timeline.record(session, ids[0], "note", "tester", START, n=3)
    after = (await cli("audit", "digest")).stdout
    watermark, digest = before.stdout.strip().split(":")
    assert again == before.stdout and watermark == "10" and len(digest) == 64
    assert after.strip().split(":")[0] == "11" and after.strip().split(":")[1] != digest


async def test_verify_with_a_digest_passes_after_new_entries_and_fails_after_an_old_one_changed(
        client, runtime, cli, database_url):
    ids = await two_incidents(client, runtime)
    digest = (await cli("audit", "digest")).stdout.strip()
    async with transaction(runtime.sessions) as session:
        await timeline.record_many(session, [timeline.entry(i, "note", "tester", START, n=9) for i in ids])
    passed = await cli("audit", "verify", "--digest", digest)
    assert passed.exit_code == 0, passed.output
    assert f"digest {digest} matches" in passed.stdout
    # A thorough forger changes an old entry and re-hashes its chain: every link
    # holds, but the chain no longer leads to the head the digest covered.
    with as_superuser(database_url) as conn:
        rows = conn.execute(sa.select(ENTRIES).where(ENTRIES.c.incident_id == ids[0]).order_by(ENTRIES.c.id)).all()
        prev = ""
        as_stored = ":d" if conn.dialect.name == "sqlite" else "CAST(:d AS json)"
        for n, row in enumerate(rows):
            detail = detail_json(row.detail | {"forged": True} if n == 1 else row.detail)
            rehashed = entry_hash(ids[0], row.at, row.kind, row.actor, detail, prev)
            conn.execute(text(f"UPDATE timelineentry SET detail = {as_stored}, prev_hash = :p, hash = :h "
                              "WHERE id = :id"),
                         {"d": detail, "p": prev, "h": rehashed, "id": row.id})
            prev = rehashed
    assert (await cli("audit", "verify")).exit_code == 0  # the chains alone cannot tell
    failed = await cli("audit", "verify", "--digest", digest)
    assert failed.exit_code == 1
    assert f"the chain heads as of entry {digest.split(':')[0]} do not hash to it" in failed.stdout


async def test_a_malformed_digest_is_a_usage_error(cli):
    result = await cli("audit", "verify", "--digest", "not-a-digest")
    assert result.exit_code == 2 and "WATERMARK:HEX" in result.output
