"""Tables PostgreSQL has never analysed are analysed after the first sweep (monitor/startup.py)."""

from __future__ import annotations

from sqlalchemy import text
from support import many_planned_steps

from monitor import startup
from tests.conftest import START


async def _last_analysed(runtime) -> dict[str, object]:  # noqa: ANN001
    async with runtime.engine.connect() as conn:
        return dict((await conn.execute(text(
            "SELECT relname, last_analyze FROM pg_stat_user_tables "
            "WHERE relname IN ('escalationstep', 'incident')"))).all())


async def test_a_big_table_never_analysed_is_analysed_once_and_small_ones_are_left_to_autovacuum(runtime):
    if runtime.engine.dialect.name != "postgresql":
        assert await startup.analyse_never_analysed(runtime) == []  # SQLite: nothing to do
        return
    async with runtime.sessions() as session, session.begin():
        await many_planned_steps(session, startup.ANALYSE_FROM_ROWS, START)
    async with runtime.engine.connect() as conn:  # the statistics of that insert, flushed now rather than in a second
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
    if (await _last_analysed(runtime)).get("escalationstep") is not None:
        return  # analysed before this test (an autovacuum that runs): nothing left to show
    assert "escalationstep" in await startup.analyse_never_analysed(runtime)
    analysed = await _last_analysed(runtime)
    assert analysed["escalationstep"] is not None and analysed["incident"] is None  # one row: autovacuum's
    assert "escalationstep" not in await startup.analyse_never_analysed(runtime)  # once
