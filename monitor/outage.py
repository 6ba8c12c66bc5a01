"""The database going away is an expected event.

A connection error (refused, reset, "server closed the connection") in the
scheduler or the sender is not a bug: the run is abandoned, the outage is
logged once when it starts (``database_unavailable``) and once when a run
succeeds again (``database_recovered``, with its duration), every failure is
counted (``sunclock_database_errors_total``), and the next attempt waits a
little longer each time (1 s doubling to 30 s), so the process recovers by
itself without a restart and without a log line per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from monitor.clock import Clock
from monitor.metrics import Metrics

log = structlog.get_logger("sunclock.database")

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
RETRY_AFTER_SECONDS = 5  # what a request during an outage is told to wait


def is_connection_error(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached, not that a statement is wrong.

    A deadlock or a serialization failure (SQLSTATE class 40) is an
    OperationalError too, but the database is there: it is not an outage.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if not isinstance(exc, OperationalError | InterfaceError):
            return False
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return not sqlstate.startswith("40")
    return isinstance(exc, ConnectionError | TimeoutError) or type(exc) is OSError


@dataclass(kw_only=True)
class Outage:
    """What one process knows of the database's absence: since when, how many
    failures, and when it may try again."""

    clock: Clock
    metrics: Metrics
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    since: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None
    delays: list[float] = field(default_factory=list)  # the waits chosen in this outage, for tests and logs

    @property
    def down(self) -> bool:
        return self.since is not None

    def may_try(self) -> bool:
        """False while the backoff after the last failure has not run out."""
        return self.retry_at is None or self.clock.now() >= self.retry_at

    def noticed(self, exc: BaseException, where: str) -> None:
        """A connection error met by a request: counted, logged if it starts an
        outage, without delaying the scheduler's next attempt."""
        self.metrics.database_errors.inc()
        if self.since is None:
            self.since = self.clock.now()
            self.delays = []
            log.error("database_unavailable", where=where, error=_described(exc))

    def failed(self, exc: BaseException, where: str) -> float:
        """Record one failed attempt; returns the seconds to wait before the next."""
        now = self.clock.now()
        self.noticed(exc, where)
        delay = min(self.max_delay, self.first_delay * 2 ** self.failures)
        self.failures += 1
        self.delays.append(delay)
        self.retry_at = now + timedelta(seconds=delay)
        return delay

    def succeeded(self) -> None:
        """A run reached the database: end the outage, if there was one."""
        if self.since is None:
            return
        now = self.clock.now()
        log.warning("database_recovered", outage_seconds=round((now - self.since).total_seconds(), 3),
                    failures=self.failures)
        self.since, self.failures, self.retry_at = None, 0, None


def _described(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"
