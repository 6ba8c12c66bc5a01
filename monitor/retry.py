"""A transaction that lost a race is run again.

PostgreSQL ends one of two transactions that wait for each other's row locks
(a deadlock, SQLSTATE 40P01) and may refuse one that cannot be serialised
(40001). Locks are taken in one order everywhere (an incident's row first,
then its obligations, then its steps by id, then notifications), which makes
such losses rare; they are still possible (a foreign-key check takes a share
lock on a row the statement never names), and when one happens the whole
transaction is rolled back and can simply be run again: nothing of it was
kept. Each retry is logged (``transaction_retried``) and counted
(``sunclock_transaction_retries_total{where}``); after a few the error goes
to the caller, who answers 503 or tries on the next sweep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError

from monitor.metrics import Metrics

log = structlog.get_logger("sunclock.database")

T = TypeVar("T")

ATTEMPTS = 5
# A short random pause before the next try, so that the two losers of one
# deadlock do not meet again at once (real time: the winner is committing).
PAUSE = (0.005, 0.05)
LOST_RACE = ("40P01", "40001")  # deadlock detected, serialization failure


def lost_race(exc: BaseException) -> bool:
    """True for a deadlock or a serialization failure: the transaction was
    rolled back by the database and running it again may succeed."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in LOST_RACE


async def retrying(work: Callable[[], Awaitable[T]], *, where: str, metrics: Metrics | None,
                   attempts: int = ATTEMPTS, before_retry: Callable[[], Awaitable[None]] | None = None) -> T:
    """``work()`` (one whole transaction, commit included), run again up to
    ``attempts`` times in all while it loses a deadlock or a serialization
    failure. ``before_retry`` resets what the lost try left (a session's
    rollback)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as exc:
            if not lost_race(exc) or attempt == attempts:
                raise
            if metrics is not None:
                metrics.transaction_retries.labels(where).inc()
            log.warning("transaction_retried", where=where, attempt=attempt,
                        sqlstate=getattr(exc.orig, "sqlstate", None))
            if before_retry is not None:
                await before_retry()
            await asyncio.sleep(random.uniform(*PAUSE))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
