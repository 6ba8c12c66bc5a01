"""Before a reclaimed message is sent again, the provider's log is asked.

A replica that dies after the provider accepted a message and before it was
recorded leaves it ``sending`` under a lease that runs out; another replica
claims it again (``notification_lease_expired``). For SMS, Twilio keeps a log
of what it accepted: the messages to that number since the step's time are
read (``GET …/Messages.json?To=…&DateSent>=…``), and one that carries an
acknowledgement link signed for this step and this contact is the message
that already went out. It is recorded as sent, with Twilio's SID
(``notification_reconciled``, ``sunclock_notifications_reconciled_total``),
and not sent again. When the log cannot be read the message is sent: a
duplicate is better than a lost escalation. Email has no such log; its window
is kept to the messages in flight by recording each send as it is accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import structlog

from alerts.base import Channel, DeliveryError, MessageLog, SentMessage
from monitor import bulk, timeline
from monitor.acks import AckLink, links_in
from monitor.clock import Clock
from monitor.db import SessionFactory, transaction
from monitor.metrics import Metrics
from monitor.planning import SCHEDULER
from monitor.rows import ClaimedNotification
from monitor.settings import Settings
from rules.vocabulary import Outcome, TimelineKind

log = structlog.get_logger("sunclock.delivery")

# The provider's clock and ours may disagree a little: the log is read from a
# while before the step's time.
SKEW = timedelta(minutes=5)
LATE_AFTER = timedelta(seconds=1)
LOOKUPS = 8  # log reads at once


@dataclass(kw_only=True)
class Reconciler:
    sessions: SessionFactory
    channels: Mapping[str, Channel]
    metrics: Metrics
    clock: Clock
    settings: Settings

    async def __call__(self, rows: list[ClaimedNotification], reclaimed: set[int],
                       token: str) -> list[ClaimedNotification]:
        """Of ``rows`` (held under ``token``), those still to be sent: the reclaimed
        ones found in their provider's log are recorded as sent instead."""
        by_address: dict[tuple[str, str], list[ClaimedNotification]] = {}
        for row in rows:
            if row.id in reclaimed and isinstance(self.channels.get(row.channel), MessageLog):
                by_address.setdefault((row.channel, row.to), []).append(row)
        found: dict[int, SentMessage] = {}
        slots = asyncio.Semaphore(LOOKUPS)

        async def look_up(channel: str, to: str, same: list[ClaimedNotification]) -> None:
            async with slots:
                found.update(await self._look_up(channel, to, same))

        # A few numbers at a time: the claim's lease runs meanwhile.
        await asyncio.gather(*(look_up(channel, to, same) for (channel, to), same in by_address.items()))
        if found:
            await self._record(rows, found, token)
        return [row for row in rows if row.id not in found]

    async def _look_up(self, channel: str, to: str, rows: list[ClaimedNotification]) -> dict[int, SentMessage]:
        since = min(row.planned_at for row in rows) - SKEW
        provider = self.channels[channel]
        assert isinstance(provider, MessageLog)
        try:
            sent = await provider.sent_since(to, since)
        except DeliveryError as exc:
            log.warning("notification_reconcile_failed", channel=channel, to=to, error=exc.reason,
                        notifications=[row.id for row in rows], duplicate_possible=True)
            return {}
        carried: dict[AckLink, SentMessage] = {}
        for message in reversed(sent):  # the log is newest first; the first that went out speaks
            for link in links_in(self.settings.signing_key, message.body):
                carried[link] = message
        return {row.id: carried[target] for row in rows
                if (target := AckLink(row.step_id, row.contact_id)) in carried}

    async def _record(self, rows: list[ClaimedNotification], found: dict[int, SentMessage], token: str) -> None:
        now = self.clock.now()
        marks, entries = [], []
        for row in sorted((r for r in rows if r.id in found), key=lambda r: r.id):
            message = found[row.id]
            started = message.sent_at or now
            late = started - row.planned_at > LATE_AFTER
            marks.append({"nid": row.id, "started": started, "late": late, "provider": self.channels[row.channel]
                          .provider, "provider_id": message.provider_id})
            entries.append(timeline.entry(row.incident_id, TimelineKind.NOTIFICATION_SENT, SCHEDULER, now,
                                          step=row.step, recipient=row.recipient_name, channel=row.channel,
                                          late=late, reconciled=True, provider_id=message.provider_id))
        async with transaction(self.sessions) as session:
            await bulk.lock_notifications(session, [mark["nid"] for mark in marks])
            await bulk.mark_sent(session, marks, token, now)
            await timeline.record_many(session, entries)
        for row in rows:
            if row.id in found:
                self.metrics.reconciled.labels(row.channel).inc()
                self.metrics.notifications.labels(row.channel, Outcome.SENT).inc()
                log.warning("notification_reconciled", notification_id=row.id, incident_id=row.incident_id,
                            step=row.step, channel=row.channel, to=row.to, provider_id=found[row.id].provider_id)

