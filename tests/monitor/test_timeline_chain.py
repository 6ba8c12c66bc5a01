"""The hash-chained timeline (SPEC §11.5): every write chains, two writers never
fork a chain, and the database refuses edits."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text
from support import hours, register, seed_departments

from monitor import audit, timeline
from monitor.db import MIGRATIONS_DIR, is_sqlite, sync_url, transaction
from monitor.models import TimelineEntry
from monitor.timeline import detail_json, entry_hash
from tests.conftest import START, drop_pg_database, recreate_pg_database


def assert_chained(entries: list[dict]) -> None:
    """API entries of one incident, in order: each hashes its own content and links to the one before."""
    previous = ""
    for e in entries:
        assert e["prev_hash"] == previous
        moment = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        assert e["hash"] == entry_hash(e["incident_id"], moment, e["kind"], e["actor"], detail_json(e["detail"]),
                                       previous)
        previous = e["hash"]


async def chain_of(client, incident_id: int) -> list[dict]:
    response = await client.get(f"/api/v1/incidents/{incident_id}/timeline")
    assert response.status_code == 200, response.text
    return [e | {"incident_id": incident_id} for e in response.json()]


async def verified(runtime) -> audit.Verification:
    async with audit.reading(runtime.settings.database_url) as connection:
        return await audit.verify(connection)


async def run_at(runtime, clock, moment) -> None:
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def test_register_correct_milestone_and_close_each_extend_the_chain(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    iid = incident["id"]
    assert (await client.patch(f"/api/v1/incidents/{iid}", json={
        "occurred_at": (START - hours(2)).isoformat(), "reason": "消防报告更正"})).status_code == 200
    assert (await client.post(f"/api/v1/incidents/{iid}/milestones", json={
        "obligation": "authoritative_release", "at": START.isoformat(),
        "evidence_url": "https://gov.example.org/1"})).status_code == 201
    assert (await client.post(f"/api/v1/incidents/{iid}/close", json={"reason": "处置完毕"})).status_code == 200
    entries = await chain_of(client, iid)
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "registered" and {"corrected", "milestone", "closed"} <= set(kinds)
    assert entries[0]["prev_hash"] == "" and all(len(e["hash"]) == 64 for e in entries)
    assert_chained(entries)
    report = await verified(runtime)
    assert report.intact and report.incidents == 1 and report.entries == len(entries)


async def test_a_burst_of_breaches_chains_every_incident(client, seeded, runtime, clock):
    incidents = [await register(client, START, title=f"事件 {n}") for n in range(12)]
    await run_at(runtime, clock, START + hours(5) + timedelta(seconds=1))
    for incident in incidents:
        entries = await chain_of(client, incident["id"])
        assert "breached" in [e["kind"] for e in entries]
        assert_chained(entries)
    report = await verified(runtime)
    assert report.intact and report.incidents == 12


async def test_entries_recorded_one_by_one_and_in_bulk_in_one_transaction_chain_in_order(client, seeded, runtime):
    ids = [(await register(client, START, title=f"事件 {n}"))["id"] for n in range(3)]
    async with transaction(runtime.sessions) as session:
        await timeline.record(session, ids[1], "note", "tester", START, n=0)
        await timeline.record_many(session, [timeline.entry(ids[n % 3], "note", "tester", START, n=n)
                                             for n in range(1, 10)])
        await timeline.record(session, ids[1], "note", "tester", START, n=10)
    for iid in ids:
        entries = await chain_of(client, iid)
        assert_chained(entries)
        owner = {n: ids[1] if n in (0, 10) else ids[n % 3] for n in range(11)}
        assert [e["detail"]["n"] for e in entries if e["kind"] == "note"] == [n for n in range(11) if owner[n] == iid]
    assert (await verified(runtime)).intact


async def test_entries_of_a_rolled_back_transaction_are_not_written(client, seeded, runtime):
    iid = (await register(client, START))["id"]
    before = await chain_of(client, iid)
    with pytest.raises(RuntimeError):
        async with transaction(runtime.sessions) as session:
            await timeline.record(session, iid, "note", "tester", START)
            raise RuntimeError("abandoned")
    async with transaction(runtime.sessions) as session:
        await timeline.record(session, iid, "note", "tester", START, kept=True)
    after = await chain_of(client, iid)
    assert after[:-1] == before and after[-1]["detail"] == {"kept": True}
    assert_chained(after)


GATE = 7_531_902  # a test-only advisory lock that holds the first writer just before its COMMIT


async def _until(conn, query: str, *others: asyncio.Task) -> None:
    for _ in range(1000):
        if any(t.done() for t in others) or (await (await conn.execute(query)).fetchone())[0]:
            return
        await asyncio.sleep(0.01)  # polls PostgreSQL (pg_locks) until the other session is queued
    raise AssertionError(f"still waiting for: {query}")


async def _race(runtime, database_url: str, incident_id: int, monkeypatch) -> None:
    """Two sessions append to one incident; the first has written its entry but
    not committed when the second reads the chain head."""
    first, second = runtime.sessions(), runtime.sessions()
    written = timeline._insert

    def insert_then_wait(session, rows):  # noqa: ANN001, ANN202
        written(session, rows)
        if session is first.sync_session:
            session.execute(text(f"SELECT pg_advisory_xact_lock({GATE})"))

    monkeypatch.setattr(timeline, "_insert", insert_then_wait)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as gate:
        await gate.execute(f"SELECT pg_advisory_lock({GATE})")
        try:
            await timeline.record(first, incident_id, "note", "first", START)
            committing_first = asyncio.create_task(first.commit())
            await _until(gate, f"SELECT count(*) FROM pg_locks WHERE objid = {GATE} AND NOT granted", committing_first)
            await timeline.record(second, incident_id, "note", "second", START)
            committing_second = asyncio.create_task(second.commit())
            # The second either waits for a lock or, without one, has committed.
            await _until(gate, "SELECT count(*) >= 2 FROM pg_locks WHERE NOT granted", committing_second)
        finally:
            await gate.execute(f"SELECT pg_advisory_unlock({GATE})")
        await committing_first
        await committing_second
        await first.close()
        await second.close()


async def test_two_transactions_appending_to_one_incident_on_postgresql_keep_one_chain(
        client, runtime, database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE)")
    await seed_departments(client)
    iid = (await register(client, START))["id"]
    await _race(runtime, database_url, iid, monkeypatch)
    entries = await chain_of(client, iid)
    assert [e["actor"] for e in entries[-2:]] == ["first", "second"]
    assert_chained(entries)
    assert (await verified(runtime)).intact


async def test_without_the_incident_lock_the_same_race_forks_the_chain_and_verify_says_where(
        client, runtime, database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE)")
    await seed_departments(client)
    iid = (await register(client, START))["id"]
    monkeypatch.setattr(timeline, "lock_incidents", lambda session, ids: None)
    await _race(runtime, database_url, iid, monkeypatch)
    entries = await chain_of(client, iid)
    assert entries[-1]["prev_hash"] == entries[-2]["prev_hash"]  # forked
    async with runtime.sessions() as session:
        last = (await session.execute(select(sa.func.max(TimelineEntry.id)))).scalar_one()
    problems = (await verified(runtime)).problems
    assert [(p.incident_id, p.entry_id) for p in problems] == [(iid, last)]
    assert "prev_hash does not match" in problems[0].what


async def test_postgresql_refuses_to_update_or_delete_timeline_entries(client, runtime, database_url):
    if is_sqlite(database_url):
        pytest.skip("SQLite has no such guard (SPEC §11.5); audit verify catches edits there")
    await seed_departments(client)
    await register(client, START)
    engine = sa.create_engine(sync_url(database_url))
    try:
        for statement in ("UPDATE timelineentry SET actor = 'someone else'", "DELETE FROM timelineentry"):
            with pytest.raises(sa.exc.DatabaseError, match="the timeline is append-only"):
                with engine.begin() as conn:
                    conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM timelineentry WHERE actor = 'someone else'")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM timelineentry")).scalar() > 0
    finally:
        engine.dispose()


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url))
    return config


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_migration_chains_entries_written_before_it_and_downgrades(backend, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else recreate_pg_database(
        f"sunclock_chain_{os.getpid()}")
    command.upgrade(_alembic(url), "0003")
    engine = sa.create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO department (code, name, supervisory, created_at) "
                          "VALUES ('EMB', 'x', false, :t)"),
                     {"t": START.replace(tzinfo=None)})
        for _ in (1, 2):
            conn.execute(text("INSERT INTO incident (title, severity, occurred_at, registered_at, department_id, "
                              "state, registered_by) VALUES ('t', 'I', :t, :t, 1, 'open', 'x')"),
                         {"t": START.replace(tzinfo=None)})
        for n, iid in enumerate([1, 2, 1, 1, 2]):
            conn.execute(text("INSERT INTO timelineentry (incident_id, at, kind, actor, detail) "
                              "VALUES (:i, :t, 'note', 'x', :d)"),
                         {"i": iid, "t": START.replace(tzinfo=None) + timedelta(minutes=n), "d": f'{{"n": {n}}}'})
    engine.dispose()
    command.upgrade(_alembic(url), "head")
    async with audit.reading(url) as connection:
        report = await audit.verify(connection)
    assert report.intact and (report.incidents, report.entries) == (2, 5)
    command.downgrade(_alembic(url), "0003")
    engine = sa.create_engine(sync_url(url))
    with engine.begin() as conn:
        assert "hash" not in {c["name"] for c in sa.inspect(conn).get_columns("timelineentry")}
        conn.execute(text("DELETE FROM timelineentry WHERE id = 5"))  # no trigger left
    engine.dispose()
    if backend == "postgresql":
        drop_pg_database(f"sunclock_chain_{os.getpid()}")
