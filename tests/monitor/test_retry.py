"""A transaction that lost a deadlock is run again (monitor/retry.py), on a real
PostgreSQL deadlock and by its SQLSTATE."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from structlog.testing import capture_logs

from monitor.db import create_engine, session_factory, transaction
from monitor.metrics import Metrics
from monitor.retry import lost_race, retrying


class _Orig(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failure(sqlstate: str) -> DBAPIError:
    return OperationalError("UPDATE …", {}, _Orig(sqlstate))


@pytest.mark.parametrize(("sqlstate", "lost"), [("40P01", True), ("40001", True), ("08006", False),
                                                 ("23505", False)])
def test_only_deadlocks_and_serialization_failures_are_lost_races(sqlstate, lost):
    assert lost_race(failure(sqlstate)) is lost


async def test_a_lost_race_is_run_again_logged_and_counted():
    metrics, tries = Metrics(CollectorRegistry()), []

    async def work() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise failure("40P01")
        return "done"

    with capture_logs() as logs:
        assert await retrying(work, where="api", metrics=metrics) == "done"
    assert len(tries) == 3
    assert [e["event"] for e in logs] == ["transaction_retried"] * 2
    assert metrics.registry.get_sample_value("sunclock_transaction_retries_total", {"where": "api"}) == 2


async def test_other_errors_and_the_last_loss_go_to_the_caller():
    async def lost() -> None:
        raise failure("40001")

    with pytest.raises(DBAPIError):
        await retrying(lost, where="record", metrics=None, attempts=2)

    async def broken() -> None:
        raise failure("23505")

    with pytest.raises(DBAPIError):
        await retrying(broken, where="record", metrics=None)


async def test_a_real_deadlock_on_postgresql_is_won_by_running_the_loser_again(pg_database):
    engine = create_engine(pg_database)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS race_probe (id int PRIMARY KEY, n int)"))
            await session.execute(text("DELETE FROM race_probe"))
            await session.execute(text("INSERT INTO race_probe VALUES (1, 0), (2, 0)"))
        holding = {1: asyncio.Event(), 2: asyncio.Event()}

        def crossing(first: int, second: int):  # noqa: ANN202
            tries = []

            async def work() -> None:
                tries.append(1)
                async with transaction(sessions) as session:
                    await session.execute(text("UPDATE race_probe SET n = n + 1 WHERE id = :id"), {"id": first})
                    holding[first].set()
                    if len(tries) == 1:  # the first try waits until the other holds its row: a deadlock
                        await holding[second].wait()
                    await session.execute(text("UPDATE race_probe SET n = n + 1 WHERE id = :id"), {"id": second})
            return work

        metrics = Metrics(CollectorRegistry())
        await asyncio.gather(retrying(crossing(1, 2), where="a", metrics=metrics),
                             retrying(crossing(2, 1), where="b", metrics=metrics))
        async with sessions() as session:
            counts = dict((await session.execute(text("SELECT id, n FROM race_probe"))).all())
        assert counts == {1: 2, 2: 2}  # both transactions in full, the loser's second try included
        lost = sum(metrics.registry.get_sample_value("sunclock_transaction_retries_total", {"where": w}) or 0
                   for w in "ab")
        assert lost == 1
    finally:
        async with transaction(sessions) as session:
            await session.execute(text("DROP TABLE IF EXISTS race_probe"))
        await engine.dispose()
