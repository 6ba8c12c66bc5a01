"""What ``serve`` does before the HTTP server is up: recount, then one sweep.

Deadlines that passed while the service was down are breached and their
overdue messages sent before the pages, templates and OpenAPI machinery are
even imported (SPEC §16: restart to the first overdue message within 2 s).
Only the scheduler's own modules are needed for that. uvicorn runs the
application's start-up before it opens its socket, so the sweep is done in
the start-up of :class:`SweepFirst`, which then builds the application and
hands everything on to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.db import transaction
from monitor.outage import is_connection_error
from monitor.recount import recount_incomplete
from monitor.runtime import Runtime

log = structlog.get_logger("sunclock.startup")


async def recount(runtime: Runtime) -> None:
    """A calendar year added since the last start: count flagged deadlines again.
    Without a database the service still starts (SPEC §5); the next start recounts."""
    try:
        async with transaction(runtime.sessions) as session:
            await recount_incomplete(session, runtime.rules, runtime.clock.now())
    except (DBAPIError, OSError) as exc:
        if not is_connection_error(exc):
            raise
        log.warning("recount_skipped", reason="database unavailable", error=type(exc).__name__)


# Tables at least this big that PostgreSQL has never analysed (autovacuum off,
# or not yet run after a bulk load) are analysed once the first sweep is done:
# without statistics the planner scans all 900,000 steps of 100,000 incidents
# where a few hundred are wanted (bench_restart: median 2.76 s, 2.44 s after).
NEVER_ANALYSED = text("SELECT relname FROM pg_stat_user_tables "
                      "WHERE last_analyze IS NULL AND last_autoanalyze IS NULL AND n_live_tup >= :rows")
ANALYSE_FROM_ROWS = 10_000


async def analyse_never_analysed(runtime: Runtime) -> list[str]:
    """ANALYZE the tables PostgreSQL has no statistics for; the names of those analysed."""
    if runtime.engine.dialect.name != "postgresql":
        return []
    try:
        async with runtime.engine.connect() as conn:
            names = sorted((await conn.execute(NEVER_ANALYSED, {"rows": ANALYSE_FROM_ROWS})).scalars())
            for name in names:
                await conn.execute(text(f'ANALYZE "{name}"'))
            await conn.commit()
    except (DBAPIError, OSError) as exc:  # the next start tries again; the service runs either way
        if not is_connection_error(exc):
            log.warning("analyse_failed", error=str(exc))
        return []
    if names:
        log.info("tables_analysed", tables=names, reason="no statistics yet")
    return names


async def first_sweep(runtime: Runtime) -> None:
    """The recount and one scheduler run, as the server's start would do them."""
    await recount(runtime)
    await runtime.scheduler.sweep_once()


class SweepFirst:
    """The ASGI application ``serve`` runs: its start-up sweeps (unless the
    demo seeds first, in the application's own start-up), then imports and
    builds the application, whose start-up follows at once."""

    def __init__(self, runtime: Runtime, *, demo: bool, settle: Callable[[], None]) -> None:
        self.runtime, self.demo, self.settle = runtime, demo, settle
        self.app: ASGIApp | None = None
        self._analysing: asyncio.Task | None = None

    async def _build(self) -> ASGIApp:
        if not self.demo:
            await first_sweep(self.runtime)
        # Beside the server, not before it: the sweep needed no statistics.
        self._analysing = asyncio.get_running_loop().create_task(analyse_never_analysed(self.runtime))
        from monitor.api.app import create_app

        app = create_app(self.runtime, seed_demo=self.demo, swept=not self.demo)
        self.settle()
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            if scope["type"] != "lifespan":  # not started with lifespan="on": build at the first request
                self.app = await self._build()
            else:
                startup = await receive()
                try:
                    self.app = await self._build()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    raise
                receive = _replay(startup, receive)
        await self.app(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await receive()

    return again
