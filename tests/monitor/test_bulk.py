"""Each statement of monitor.bulk, run on SQLite and on PostgreSQL from the same
rows, leaves the same rows behind: the two forms of one statement agree."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession
from support import many_planned_steps

from monitor import bulk
from monitor.db import SessionFactory, create_engine, session_factory, transaction
from monitor.models import Contact, Department, EscalationStep, Incident, Notification
from monitor.recount import flagged_incidents
from tests.conftest import START, _truncate

SHANGHAI = timezone(timedelta(hours=8))
TOKEN = "a" * 32
STEPS = [  # times with microseconds and another offset; unicode, empty and missing values; JSON lists
    {"incident_id": 1, "obligation_id": None, "obligation_key": "", "kind": "registered", "occurrence": 1,
     "planned_at": START, "recipients": ["head"], "channels": ["sms", "email"], "state": "planned",
     "fired_at": None, "late": False},
    {"incident_id": 1, "obligation_id": None, "obligation_key": "authoritative_release", "kind": "overdue",
     "occurrence": 24, "planned_at": datetime(2026, 11, 28, 15, 0, 0, 123456, tzinfo=SHANGHAI),
     "recipients": ["head", "supervisors"], "channels": ["sms"], "state": "fired",
     "fired_at": START + timedelta(microseconds=1), "late": True},
]


@pytest.fixture
async def both(tmp_path, sqlite_template, pg_database) -> AsyncIterator[dict[str, SessionFactory]]:
    target = tmp_path / "bulk.db"
    shutil.copy(sqlite_template, target)
    _truncate(pg_database)
    engines = {"sqlite": create_engine(f"sqlite:///{target}"), "postgresql": create_engine(pg_database)}
    yield {name: session_factory(engine) for name, engine in engines.items()}
    for engine in engines.values():
        await engine.dispose()


async def _seed(session: AsyncSession) -> None:
    await session.execute(insert(Department).values(code="EMB", name="应急管理局", created_at=START))
    await session.execute(insert(Contact).values(department_id=1, name="王局长", role="head", mobile="+8613800000001"))
    await session.execute(insert(Incident).values(title="化工厂爆炸", severity="I", occurred_at=START,
                                                  registered_at=START, department_id=1, registered_by="duty"))


async def on_both(both: dict[str, SessionFactory], run: Callable[[AsyncSession], Awaitable[object]]) -> list:
    """What ``run`` returns on each database, after the same seed rows."""
    results = []
    for sessions in both.values():
        async with transaction(sessions) as session:
            await _seed(session)
            results.append(await run(session))
    return results


async def _rows(session: AsyncSession, table: type) -> list[dict]:
    return [dict(row._mapping) for row in (await session.execute(select(table.__table__).order_by(table.id))).all()]


async def test_insert_many_stores_the_same_rows(both):
    async def run(session):
        await bulk.insert_many(session, EscalationStep.__table__, STEPS)
        await bulk.insert_many(session, EscalationStep.__table__, [])
        return await _rows(session, EscalationStep)

    on_sqlite, on_postgresql = await on_both(both, run)
    assert on_sqlite == on_postgresql
    assert [(r["planned_at"], r["recipients"], r["late"]) for r in on_sqlite] == [
        (START, ["head"], False), (STEPS[1]["planned_at"].astimezone(UTC), ["head", "supervisors"], True)]


async def test_among_selects_the_same_rows(both):
    async def run(session):
        await bulk.insert_many(session, EscalationStep.__table__, STEPS)
        ids = (await session.execute(select(EscalationStep.id).where(
            bulk.among(session, EscalationStep.id, [2, 99])))).scalars().all()
        kinds = (await session.execute(select(EscalationStep.id).where(
            bulk.among(session, EscalationStep.kind, ["registered", "overdue"])).order_by(EscalationStep.id)))
        return list(ids), list(kinds.scalars())

    on_sqlite, on_postgresql = await on_both(both, run)
    assert on_sqlite == on_postgresql == ([2], [1, 2])


def _notification(step_id: int, state: str, token: str | None) -> dict:
    return {"step_id": step_id, "incident_id": 1, "obligation_key": "", "step": "registered", "contact_id": 1,
            "recipient_name": "王局长", "channel": "sms", "to": "+8613800000001", "state": state, "attempts": 1,
            "planned_at": START, "claim_token": token, "claimed_until": START + timedelta(minutes=1),
            "subject": "", "body": "白蕉镇化工厂爆炸", "late": False}


async def test_mark_sent_marks_the_same_rows(both):
    # Held under the token: 1 and 2. Held by another replica: 3. Not sending: 4.
    held = [_notification(1, "sending", TOKEN), _notification(2, "sending", TOKEN),
            _notification(3, "sending", "b" * 32), _notification(4, "pending", TOKEN)]
    sent = [{"nid": nid, "started": START + timedelta(seconds=nid, microseconds=5), "late": nid == 2,
             "provider": "twilio", "provider_id": f"SM{nid}" if nid != 2 else None} for nid in (1, 2, 3, 4)]

    async def run(session):
        await bulk.insert_many(session, EscalationStep.__table__, [
            STEPS[0] | {"occurrence": n} for n in range(1, 5)])
        await session.execute(insert(Notification), held)
        count = await bulk.mark_sent(session, sent, TOKEN, START + timedelta(seconds=9))
        return count, await _rows(session, Notification)

    (sqlite_count, on_sqlite), (postgresql_count, on_postgresql) = await on_both(both, run)
    assert sqlite_count == postgresql_count == 2
    assert on_sqlite == on_postgresql
    states = {r["id"]: (r["state"], r["provider_id"], r["late"], r["claimed_until"]) for r in on_sqlite}
    assert states == {1: ("sent", "SM1", False, None), 2: ("sent", None, True, None),
                      3: ("sending", None, False, START + timedelta(minutes=1)),
                      4: ("pending", None, False, START + timedelta(minutes=1))}


async def sqlite_plan(tmp_path, sqlite_template, statement: Callable[[AsyncSession], object]) -> str:
    """SQLite's EXPLAIN QUERY PLAN of the statement ``statement`` builds, on the empty schema."""
    target = tmp_path / "plan.db"
    shutil.copy(sqlite_template, target)
    engine = create_engine(f"sqlite:///{target}")
    try:
        async with session_factory(engine)() as session:
            compiled = statement(session).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            return " ".join(str(row[-1]) for row in (await session.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}"))).all())
    finally:
        await engine.dispose()


async def test_a_claim_by_id_finds_its_rows_by_primary_key_on_sqlite(tmp_path, sqlite_template):
    # Without statistics, SQLite would find "state = 'planned'" rows by the
    # state index and walk every planned step to pick out the few claimed.
    plan = await sqlite_plan(tmp_path, sqlite_template, lambda session: (
        update(EscalationStep).where(bulk.among(session, EscalationStep.id, [1, 2, 3]),
                                     bulk.checked(session, EscalationStep.state) == "planned")
        .values(state="fired")))
    assert "PRIMARY KEY" in plan and "ix_step_state_planned" not in plan, plan


async def test_the_start_up_recount_finds_flagged_deadlines_by_their_partial_index_on_sqlite(tmp_path, sqlite_template):
    # Every start asks for them; without the index (or with SQLite free to pick
    # the state index) that read every obligation: 0.1-0.25 s at 100,000 incidents.
    plan = await sqlite_plan(tmp_path, sqlite_template, flagged_incidents)
    assert "USING INDEX ix_obligation_calendar_incomplete" in plan, plan
    assert "SEARCH incident USING INTEGER PRIMARY KEY" in plan, plan


async def test_a_claim_by_id_finds_its_rows_by_primary_key_on_postgresql_without_statistics(pg_database):
    # A table never analysed (autovacuum off, or not yet run after a bulk load):
    # the planner believes "state = 'planned'" picks out a few rows, and for the
    # plain column ANDs a bitmap of every planned step with the claimed ids.
    _truncate(pg_database)
    engine = create_engine(pg_database)
    try:
        async with session_factory(engine)() as session:
            await many_planned_steps(session, 100_000, START)
            analysed = (await session.execute(text(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'escalationstep' AND attname = 'state'"))).scalar()

            async def plan(state) -> str:  # noqa: ANN001
                claim = update(EscalationStep).where(bulk.among(session, EscalationStep.id, [5, 6, 7]),
                                                     state == "planned").values(state="fired")
                compiled = claim.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
                return "\n".join((await session.execute(text(f"EXPLAIN {compiled}"))).scalars())

            checked = await plan(bulk.checked(session, EscalationStep.state))
            assert "escalationstep_pkey" in checked and "ix_step_state_planned" not in checked, checked
            if not analysed:  # what the check keeps away from (this machine's PostgreSQL runs without autovacuum)
                assert "ix_step_state_planned" in await plan(EscalationStep.state)
            await session.rollback()
    finally:
        await engine.dispose()
    _truncate(pg_database)
