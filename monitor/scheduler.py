"""The scheduler: APScheduler 3 wakes the service, the database says what is due.

APScheduler keeps two jobs in its in-memory store, never one per step: a
``wake`` date job set to the next due time the database knows of, and a
``sweep`` interval job as the safety net (work planned by another replica,
a clock jump, a failed run). Either one only pokes :meth:`Scheduler.run_once`,
which asks the database "what is due at or before now?".
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from monitor.clock import Clock
from monitor.db import SessionFactory
from monitor.delivery import Deliverer
from monitor.dispatch import Dispatcher
from monitor.metrics import Metrics
from monitor.models import EscalationStep, Notification, Obligation
from monitor.outage import Outage, is_connection_error
from rules.vocabulary import NotificationState, ObligationState, StepState

log = structlog.get_logger("sunclock.scheduler")

# A request's poke waits this long before its run (Scheduler.poke): one run
# fires the notices of the registrations made meanwhile.
REQUEST_SETTLE_SECONDS = 0.2
FIRE_ROUNDS = 10  # batches of steps fired per run before breaches and retries get their turn again


async def next_due(sessions: SessionFactory, ahead: timedelta = timedelta(0),
                   looked: datetime | None = None) -> datetime | None:
    """The earliest moment anything in the database falls due: a step ``ahead``
    of its planned time, as it is fired that far ahead (monitor/dispatch.py),
    unless a run at ``looked`` already saw it that far ahead and left it to be
    fired at its time (catch-up among several steps of one obligation)."""
    queries = [
        select(func.min(EscalationStep.planned_at)).where(EscalationStep.state == StepState.PLANNED),
        # Pending obligations belong to open incidents (closing cancels them), so no
        # join: one index lookup, whatever the planner knows of the tables.
        select(func.min(Obligation.due_at)).where(Obligation.state == ObligationState.PENDING),
        select(func.min(Notification.next_attempt_at)).where(Notification.state == NotificationState.PENDING),
        select(func.min(Notification.claimed_until)).where(Notification.state == NotificationState.SENDING),
    ]
    async with sessions() as session:  # one round trip, after every run
        found = list((await session.execute(select(*(q.scalar_subquery() for q in queries)))).one())
    moments = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in found if m is not None]
    if found[0] is not None and (looked is None or moments[0] - ahead > looked):
        moments[0] -= ahead
    return min(moments, default=None)


async def settle_wait(hurry: asyncio.Event, seconds: float) -> None:
    """A settle: ``seconds``, or until ``hurry`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hurry.wait(), seconds)


class Scheduler:
    """Runs the dispatcher and the deliverer whenever something may be due."""

    def __init__(self, *, dispatcher: Dispatcher, deliverer: Deliverer, sessions: SessionFactory, clock: Clock,
                 metrics: Metrics, sweep_seconds: float, outage: Outage | None = None) -> None:
        self.dispatcher, self.deliverer = dispatcher, deliverer
        self.sessions, self.clock, self.metrics, self.sweep_seconds = sessions, clock, metrics, sweep_seconds
        # Shared with the sender: one outage is logged once, whoever meets it first.
        self.outage = outage or Outage(clock=clock, metrics=metrics)
        self._aps: AsyncIOScheduler | None = None
        self._task: asyncio.Task | None = None
        self._again = False
        self._settle: float | None = None  # the shortest settle asked for by the pokes since the last run began
        self._hurry = asyncio.Event()  # set by a poke that does not wait
        self.settle_wait = settle_wait  # (tests step in here: time is theirs)
        self._sending: set[asyncio.Task] = set()
        self.last_run: datetime | None = None
        self._looked: datetime | None = None  # the start of the last run: what it saw ahead

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    async def run_once(self, *, wait: bool = True) -> bool:
        """One pass over everything due now; true when a batch was full and more may wait.

        ``wait``: return only when the messages it claimed are sent and recorded
        (tests, and nothing else runs meanwhile). The service's own runs do not
        wait: a slow provider holds its sends, never the next step's firing.
        """
        dispatcher, deliverer = self.dispatcher, self.deliverer
        now = self.clock.now()
        # Breaches found late (after a stop) first: their overdue repeats may be
        # due, and catch-up must see them with the rest of the ladder.
        stale = await dispatcher.detect_breaches(now, stale=True)
        # Then the messages: recording a burst of fresh breaches (cases, overdue
        # repeats) must not hold back the breached steps that announce them.
        # Each batch of fired steps is sent while the next batch is fired: the
        # database records one while this process prepares the other.
        sending: list[asyncio.Task] = []
        try:
            for round_ in range(FIRE_ROUNDS):
                limit = min(dispatcher.first_batch, dispatcher.batch) if round_ == 0 else dispatcher.batch
                firing = await dispatcher.fire(now, limit)
                due_now = [row for row in firing.claimed if row.planned_at <= now]
                if due_now:
                    sending.append(self._send(deliverer.send_claimed(due_now, firing.token)))
                if ahead := [row for row in firing.claimed if row.planned_at > now]:
                    # Fired ahead: they wait for their moments, never waited for here.
                    self._send(deliverer.send_claimed(ahead, firing.token))
                if firing.due < limit:
                    break
            if wait:  # the sends are recorded (their incidents' rows free again) before breaches are looked at
                await asyncio.gather(*sending)
            breaches = max(stale, await dispatcher.detect_breaches(now))
            sent, to_send, token = await deliverer.claim_due()
            if to_send:
                sending.append(self._send(deliverer.send_claimed(to_send, token)))
        finally:
            if wait:
                await asyncio.gather(*sending)
        busy = breaches >= dispatcher.breach_batch or firing.due >= dispatcher.batch or sent >= deliverer.batch
        if not busy:
            # What is due now comes first; preparing what is due soon fills the gaps.
            busy = await dispatcher.prepare(self.clock.now()) >= dispatcher.batch
        self.last_run, self._looked = self.clock.now(), now
        self.metrics.heartbeat.set(self.last_run.timestamp())
        return busy

    def _send(self, sending: Coroutine[None, None, None]) -> asyncio.Task:
        """Messages sent beside the runs that claimed them, each burst under its own
        lease; a failure is logged when it ends (the lease brings the rest back)."""
        task = asyncio.get_running_loop().create_task(sending, context=contextvars.Context())
        self._sending.add(task)
        task.add_done_callback(self._sent)
        return task

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed(exc, "sender")

    async def sweep_once(self) -> None:
        """One run before the scheduler starts (``serve``, ahead of the HTTP
        server); a database not there is the outage's to log, as in a run."""
        try:
            await self.run_once()
        except Exception as exc:
            self._failed(exc, "scheduler_run")
        else:
            self.outage.succeeded()

    def poke(self, settle: float = 0.0) -> None:
        """Run as soon as possible; pokes during a run coalesce into one more run.

        ``settle``: a request's poke starts its run that much later, so that the
        request's answer goes out first and the work of the requests made
        meanwhile (their registrations' notices) is fired in one run, well
        within the second a step has. A run poked only by requests waits so
        even while registrations keep coming; a poke without it (a moment
        falling due, a full batch) ends the wait.
        """
        self._again = True
        self._settle = min(self._settle, settle) if self._settle is not None else settle
        if not settle:
            self._hurry.set()
        if self._task is None or self._task.done():
            # A fresh context: a run poked by an HTTP request must not log that
            # request's id on everything the scheduler does afterwards.
            self._task = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())

    async def _settled(self) -> None:
        """Wait out the settle of the pokes since the last run began."""
        if self._settle:
            await self.settle_wait(self._hurry, self._settle)
        self._settle = None
        self._hurry.clear()

    async def _drain(self) -> None:
        while True:
            while self._again:
                await self._settled()
                self._again = False
                try:
                    busy = await self.run_once(wait=False)
                except Exception as exc:  # the heartbeat stays stale; a sweep after the backoff tries again
                    self._failed(exc, "scheduler_run")
                    return
                if busy:
                    self.poke()
                self.outage.succeeded()
            await self._arm_wake()
            # A poke that came in while the wake-up was being armed (a registration
            # committed just then) must not wait for the next sweep.
            if not self._again:
                return

    async def _arm_wake(self) -> None:
        if self._aps is None or not self._aps.running:
            return
        try:
            when = await next_due(self.sessions, timedelta(seconds=self.dispatcher.settings.fire_ahead_seconds),
                                  self._looked)
        except Exception as exc:
            self._failed(exc, "scheduler_next_due")
            return
        if when is None:
            return
        if when <= self.clock.now():
            self.poke()
            return
        self._aps.add_job(self._wake, "date", run_date=when, id="wake", replace_existing=True,
                          misfire_grace_time=None, coalesce=True)

    def _failed(self, exc: Exception, where: str) -> None:
        """The database going away is logged once per outage (monitor/outage.py);
        anything else is a bug, logged with its traceback every time."""
        if is_connection_error(exc):
            self.outage.failed(exc, where)
        else:
            log.error(f"{where}_failed", exc_info=exc)

    async def _wake(self) -> None:
        # During an outage the sweep waits out the backoff; a poke from a request
        # (which reached the database) still runs at once.
        if self.outage.may_try():
            self.poke()

    async def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_job(self._wake, "interval", seconds=self.sweep_seconds, id="sweep",
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        self._aps.start()
        log.info("scheduler_started", sweep_seconds=self.sweep_seconds)
        self.poke()

    async def stop(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except (TimeoutError, Exception):  # noqa: BLE001 - shutting down; the run is logged
                self._task.cancel()
        if self._sending:  # sends under way finish and are recorded, or their leases bring them back
            _, unfinished = await asyncio.wait(set(self._sending), timeout=10)
            for task in unfinished:
                task.cancel()
