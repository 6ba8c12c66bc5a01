"""When each message of a burst starts to go out.

In turns: the first message of every step, then the second, and so on, so
that with a slow provider no step waits behind another's recipients.

Messages of steps fired ahead of their time (:mod:`monitor.dispatch`) are
recorded and leased a moment early, and wait in this process for their
step's planned time. Just then they are checked once more, as a retry
is (:func:`monitor.relevance.stale_steps`): a duty met or waived in the
meantime stops them. One check serves every message whose moment has come,
so a burst of thousands costs one query when its second arrives.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.clock import Clock
from monitor.db import SessionFactory, transaction
from monitor.relevance import Recheck
from monitor.rows import ClaimedNotification


@dataclass(kw_only=True)
class OnTime:
    """Holds the messages fired ahead among ``claimed`` until their moment."""

    sessions: SessionFactory
    clock: Clock
    recheck: Recheck
    sleep: Callable[[float], Awaitable[None]]
    token: str
    claimed: list[ClaimedNotification]
    verdicts: dict[int, bool] = field(default_factory=dict)
    _checking: asyncio.Future | None = None

    def __post_init__(self) -> None:
        self.started = self.clock.now()
        self.rows = [row for row in self.claimed if row.planned_at > self.started]
        self._ids = {row.id for row in self.rows}

    def in_order(self) -> list[ClaimedNotification]:
        """Those due now first (the first message of every step, then the second,
        …), then those fired ahead, as their moments come."""
        return sorted(first_of_each_step_first(self.claimed), key=lambda row: max(row.planned_at, self.started))

    async def still_true(self, row: ClaimedNotification) -> bool:
        """Whether ``row`` is to be sent: at once if it was due when claimed; if it
        was fired ahead, after waiting for its planned time, unless it is no
        longer true then (it is recorded as skipped, with the reason)."""
        if row.id not in self._ids:
            return True
        # Until the clock says so: a sleep may end early by its clock's reckoning
        # (uvloop times it from the start of the loop's turn, which a long turn
        # leaves behind), and a breach notice judged before its deadline would
        # be skipped as "its deadline lies in the future again".
        while (delay := (row.planned_at - self.clock.now()).total_seconds()) > 0:
            await self.sleep(delay)
        while row.id not in self.verdicts:
            if self._checking is None or self._checking.done():
                self._checking = asyncio.ensure_future(self._check(max(self.clock.now(), row.planned_at)))
            await asyncio.shield(self._checking)
        return self.verdicts[row.id]

    async def _check(self, moment: datetime) -> None:
        """Judge at once every message whose moment has come and is not yet judged."""
        batch = [row for row in self.rows if row.id not in self.verdicts and row.planned_at <= moment]
        async with transaction(self.sessions) as session:
            kept = {row.id for row in await self.recheck.skip_stale(session, batch, self.clock.now(), self.token)}
        self.verdicts.update({row.id: row.id in kept for row in batch})


def first_of_each_step_first(rows: list[ClaimedNotification]) -> list[ClaimedNotification]:
    """The first message of every step, then the second of every step, …: with a
    slow provider the send slots are taken in this order, so that each step of
    a burst starts going out at once and none waits behind another's recipients."""
    seen: Counter[int] = Counter()
    ranked = []
    for index, row in enumerate(rows):
        ranked.append((seen[row.step_id], index, row))
        seen[row.step_id] += 1
    return [row for _, _, row in sorted(ranked, key=lambda r: r[:2])]
