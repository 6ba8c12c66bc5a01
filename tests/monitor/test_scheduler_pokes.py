"""Pokes and runs (monitor/scheduler.py): the work of requests made in quick
succession is fired by one run; whatever falls due meanwhile runs at once."""

from __future__ import annotations

import asyncio

from monitor.scheduler import REQUEST_SETTLE_SECONDS, Scheduler


class CountingScheduler(Scheduler):
    """The real scheduler, whose settles are the test's: it records them and
    waits only for a poke without one. It can act as if a request committed
    during its first run (``poke_during_run``) or its first batches were full (``busy``)."""

    def __init__(self, runtime, *, poke_during_run: float | None = None, busy: int = 0) -> None:  # noqa: ANN001
        super().__init__(dispatcher=runtime.dispatcher, deliverer=runtime.deliverer, sessions=runtime.sessions,
                         clock=runtime.clock, metrics=runtime.metrics, sweep_seconds=60)
        self.runs, self.poke_during_run, self.busy = 0, poke_during_run, busy
        self.settles: list[float] = []
        self.settling = asyncio.Event()
        self.ran = asyncio.Event()
        self.settle_wait = self._settle_until_hurried

    async def _settle_until_hurried(self, hurry: asyncio.Event, seconds: float) -> None:
        self.settles.append(seconds)
        self.settling.set()
        await hurry.wait()

    async def run_once(self, *, wait: bool = True) -> bool:
        self.runs += 1
        await super().run_once(wait=wait)
        if self.poke_during_run is not None and self.runs == 1:
            self.poke(settle=self.poke_during_run)
        self.ran.set()
        return self.runs <= self.busy

    async def settling_after(self, runs: int) -> None:
        """Until ``runs`` runs are over and the scheduler waits in a settle."""
        while self.runs < runs or not self.settling.is_set():
            self.ran.clear()
            self.settling.clear()
            waiters = [asyncio.ensure_future(event.wait()) for event in (self.ran, self.settling)]
            try:
                await asyncio.wait_for(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), 10)
            finally:
                for waiter in waiters:
                    waiter.cancel()


async def test_pokes_from_requests_wait_for_one_run_and_a_moment_falling_due_ends_the_wait(runtime):
    scheduler = CountingScheduler(runtime)
    for _ in range(5):  # five registrations in quick succession
        scheduler.poke(settle=REQUEST_SETTLE_SECONDS)
    await scheduler.settling_after(0)
    assert scheduler.runs == 0 and scheduler.settles == [REQUEST_SETTLE_SECONDS]
    scheduler.poke()  # the wake-up of a step falling due
    await asyncio.wait_for(scheduler._task, 10)
    assert scheduler.runs == 1


async def test_a_request_during_a_run_waits_for_the_next_run_instead_of_starting_it_at_once(runtime):
    scheduler = CountingScheduler(runtime, poke_during_run=REQUEST_SETTLE_SECONDS)
    scheduler.poke()
    await scheduler.settling_after(1)
    assert scheduler.runs == 1 and scheduler.settles == [REQUEST_SETTLE_SECONDS]
    scheduler.poke()
    await asyncio.wait_for(scheduler._task, 10)
    assert scheduler.runs == 2


async def test_a_poke_without_settle_during_a_run_runs_again_at_once(runtime):
    scheduler = CountingScheduler(runtime, poke_during_run=0.0)
    scheduler.poke()
    await asyncio.wait_for(scheduler._task, 10)
    assert scheduler.runs == 2 and scheduler.settles == []


async def test_a_full_batch_runs_again_at_once(runtime):
    scheduler = CountingScheduler(runtime, busy=2)
    scheduler.poke()
    await asyncio.wait_for(scheduler._task, 10)
    assert scheduler.runs == 3 and scheduler.settles == []  # two full batches, then one that was not
