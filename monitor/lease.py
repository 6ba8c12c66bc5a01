"""This process's hold on the notifications it is sending (``claimed_until``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import update

from monitor.bulk import among, checked, lock_notifications
from monitor.clock import Clock
from monitor.db import SessionFactory, transaction
from monitor.models import Notification
from monitor.retry import retrying
from monitor.rows import ClaimedNotification
from rules.vocabulary import NotificationState

log = structlog.get_logger("sunclock.delivery")


class Lease:
    """The hold on the notifications being sent under ``token``.

    A burst at a slow provider can take longer than one lease (4,000 messages
    at one second each, fifty at a time, take 80 s): half way through it, the
    rows not yet recorded are held again, or another replica would take them
    as abandoned and send them twice. A row whose lease is lost (ran out while
    this process stalled, or taken by a replica) is not sent from here.
    """

    def __init__(self, sessions: SessionFactory, clock: Clock, length: timedelta,
                 claimed: list[ClaimedNotification], token: str):
        self.sessions, self.clock, self.length, self.token = sessions, clock, length, token
        self.held = {row.id for row in claimed}
        self.until = min(row.claimed_until for row in claimed)
        self.dropped: list[int] = []
        self._lock = asyncio.Lock()

    def _renewal_due(self) -> bool:
        return bool(self.held) and self.clock.now() >= self.until - self.length / 2

    async def may_send(self, row: ClaimedNotification) -> bool:
        """Checked as each send starts, with the lease renewed first if it is due."""
        if self._renewal_due():
            await self.keep()
        if row.id in self.held and self.clock.now() < self.until:
            return True
        self.dropped.append(row.id)
        return False

    def done(self, ids: Iterable[int]) -> None:
        self.held.difference_update(ids)

    async def keep(self) -> None:
        """Hold the unrecorded rows for another lease once half of this one is
        gone; let go of those that were not sent."""
        async with self._lock:  # one renewal at a time; the others see its result
            dropped, self.dropped = self.dropped, []
            self.held.difference_update(dropped)
            renew = self._renewal_due()
            if not (renew or dropped):
                return
            held = set(self.held)
            until = self.clock.now() + self.length
            kept = await retrying(lambda: self._write(dropped, held if renew else set(), until), where="lease",
                                  metrics=None)
            if renew:
                # Rows recorded while this ran were let go of meanwhile (done()): not lost.
                if lost := (held - kept) & self.held:
                    log.warning("notification_lease_lost", count=len(lost), duplicate_possible=True)
                self.held, self.until = self.held & kept, until

    async def _write(self, dropped: list[int], renew: set[int], until: datetime) -> set[int]:
        """Let ``dropped`` go and hold ``renew`` until ``until``; returns those still held."""
        async with transaction(self.sessions) as session:
            mine = (Notification.claim_token == self.token,
                    checked(session, Notification.state) == NotificationState.SENDING)
            await lock_notifications(session, [*dropped, *renew])
            if dropped:  # due again at once, for whoever claims them (no attempt was made)
                await session.execute(update(Notification).where(among(session, Notification.id, dropped), *mine)
                                      .values(state=NotificationState.PENDING, claimed_until=None,
                                              attempts=Notification.attempts - 1))
            if not renew:
                return set()
            return set((await session.execute(
                update(Notification).where(among(session, Notification.id, renew), *mine)
                .values(claimed_until=until).returning(Notification.id))).scalars())
