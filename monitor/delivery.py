"""Delivery: claim due notifications, send them through their channel, record
the outcome. Retry and fallback are decided by :mod:`alerts.policy` alone.

A claim is a conditional UPDATE with a lease (``claimed_until``); a
notification is marked sent only after the provider accepted it. A replica
that dies between the provider's acceptance and the commit leaves a lease that
expires and is claimed again: a possible duplicate, counted and logged, which
is better than a lost escalation.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import bindparam, insert, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.base import Channel, DeliveryError, Message, Receipt
from alerts.policy import decide, other_channel
from monitor import timeline
from monitor.clock import Clock
from monitor.db import SessionFactory, among, on_postgresql, transaction
from monitor.messages import Directory, address, render_notification
from monitor.metrics import Metrics
from monitor.models import Contact, EscalationStep, Notification
from monitor.relevance import recheck
from monitor.settings import Settings

log = structlog.get_logger("sunclock.delivery")

BATCH = 500
LATE_AFTER = timedelta(seconds=1)
CLAIMED = (Notification.id, Notification.step_id, Notification.incident_id, Notification.contact_id,
            Notification.channel, Notification.to, Notification.subject, Notification.body, Notification.html,
            Notification.planned_at, Notification.attempts, Notification.step, Notification.recipient_name,
            Notification.claimed_until)
# While a burst is being sent, how often the lease is looked at (seconds of
# real time: the provider may not answer for a while).
LEASE_CHECK = 1.0


def pending(content: dict, now: datetime) -> dict:
    """A notification row from rendered content, due for delivery now."""
    return content | {"state": "pending", "attempts": 0, "next_attempt_at": now, "late": False}


def leased(content: dict, now: datetime, token: str, lease: datetime) -> dict:
    """A notification row already claimed by ``token``: created by the replica
    that will send it, it needs no separate claim."""
    return content | {"state": "sending", "attempts": 1, "next_attempt_at": now, "late": False,
                      "claim_token": token, "claimed_until": lease}


@dataclass
class Attempt:
    row: object  # a RETURNING row of CLAIMED
    started: datetime
    receipt: Receipt | None = None
    error: DeliveryError | None = None


async def _claim(session: AsyncSession, now: datetime, token: str, lease: datetime, limit: int,
                 metrics: Metrics) -> list:
    # On PostgreSQL, rows another replica is claiming or recording are skipped,
    # never waited for: replicas share the work without blocking each other
    # (SQLite has one writer and ignores the clause).
    due = list((await session.execute(
        select(Notification.id).where(Notification.state == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at).limit(limit).with_for_update(skip_locked=True))).scalars())
    claim = dict(state="sending", claim_token=token, claimed_until=lease, attempts=Notification.attempts + 1)
    rows = []
    if due:
        rows += (await session.execute(
            update(Notification).where(among(session, Notification.id, due), Notification.state == "pending")
            .values(**claim).returning(*CLAIMED))).all()
    expired = list((await session.execute(
        select(Notification.id).where(Notification.state == "sending", Notification.claimed_until < now)
        .order_by(Notification.id).limit(limit).with_for_update(skip_locked=True))).scalars())
    if expired:
        reclaimed = (await session.execute(
            update(Notification).where(among(session, Notification.id, expired), Notification.state == "sending",
                                       Notification.claimed_until < now)
            .values(**claim).returning(*CLAIMED))).all()
        for row in reclaimed:
            metrics.reclaimed.labels(row.channel).inc()
            log.warning("notification_lease_expired", notification_id=row.id, incident_id=row.incident_id,
                        channel=row.channel, duplicate_possible=True)
        rows += reclaimed
    return rows


async def _send(channel: Channel, row, clock: Clock, public_url: str) -> Attempt:
    attempt = Attempt(row=row, started=clock.now())
    message = Message(channel=row.channel, to=row.to, subject=row.subject, body=row.body, html=row.html,
                      status_callback=f"{public_url}/webhooks/twilio/status" if row.channel == "sms" else None)
    try:
        attempt.receipt = await channel.send(message)
    except DeliveryError as exc:
        attempt.error = exc
    except Exception as exc:  # a bug or an unclassified library error: retried, never lost, always logged
        log.exception("channel_error", notification_id=row.id, channel=row.channel)
        attempt.error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)
    return attempt


async def fallback(session: AsyncSession, row, now: datetime, settings: Settings) -> int | None:
    """The same step for the same contact on the other channel, if it has one and
    the step did not already use it."""
    channel = other_channel(row.channel)
    exists = (await session.execute(select(Notification.id).where(
        Notification.step_id == row.step_id, Notification.contact_id == row.contact_id,
        Notification.channel == channel))).first()
    contact = await session.get(Contact, row.contact_id)
    if exists or contact is None or contact.retired_at is not None or not address(contact, channel):
        return None
    step = await session.get(EscalationStep, row.step_id)
    directory = await Directory.load(session, [row.incident_id])
    values = pending(render_notification(directory, step, contact, channel, now, settings), now) | {"fallback_of": row.id}
    return (await session.execute(insert(Notification).values(**values).returning(Notification.id))).scalar_one()


_SENT = (update(Notification.__table__)
         .where(Notification.__table__.c.id == bindparam("nid"), Notification.__table__.c.claim_token == bindparam("tok"),
                Notification.__table__.c.state == "sending")
         .values(state="sent", sent_at=bindparam("done"), send_started_at=bindparam("started"), late=bindparam("late"),
                 claimed_until=None, provider=bindparam("provider"), provider_id=bindparam("provider_id"),
                 last_error=None))
# The same for PostgreSQL, as one statement with the rows as arrays: per-row
# statements are planned one by one, and on a table last analysed when it was
# nearly empty each of them can become a scan of the whole table. Arrays, not a
# JSON recordset: the planner counts an array's elements, while for a recordset
# it guesses 100 rows and, so misled, re-read the whole batch for every row
# (0.7 s instead of 0.08 s for 2,000 messages).
_SENT_ALL = text("""
    UPDATE notification SET state = 'sent', sent_at = :done, send_started_at = v.started, late = v.late,
           claimed_until = NULL, provider = v.provider, provider_id = v.provider_id, last_error = NULL
    FROM unnest(CAST(:nid AS integer[]), CAST(:started AS timestamptz[]), CAST(:late AS boolean[]),
                CAST(:provider AS varchar[]), CAST(:provider_id AS varchar[]))
         AS v(nid, started, late, provider, provider_id)
    WHERE notification.id = v.nid AND notification.claim_token = :tok AND notification.state = 'sending'
""")


async def _record_sent(session: AsyncSession, attempts: list[Attempt], token: str, now: datetime,
                       metrics: Metrics) -> None:
    """Successes in one statement: a burst of thousands is recorded in a few round trips."""
    params = []
    by_step: dict[int, list] = {}
    # In id order, so that every writer takes row locks in the same order.
    for attempt in sorted(attempts, key=lambda a: a.row.id):
        row, receipt = attempt.row, attempt.receipt
        lag = attempt.started - row.planned_at
        late = lag > LATE_AFTER
        params.append({"nid": row.id, "tok": token, "done": now, "started": attempt.started, "late": late,
                       "provider": receipt.provider, "provider_id": receipt.provider_id})
        by_step.setdefault(row.step_id, []).append((row, late, receipt.provider))
        metrics.notifications.labels(row.channel, "sent").inc()
        metrics.escalation_lag.labels(row.channel).observe(max(0.0, lag.total_seconds()))
        log.info("step_sent", notification_id=row.id, incident_id=row.incident_id, step=row.step,
                 channel=row.channel, to=row.to, late=late)
    # Every send is on the timeline, one entry per step listing its messages: a
    # step to three people on two channels reads as one line, not six.
    entries = [timeline.entry(
        sends[0][0].incident_id, "notification_sent", "scheduler", now, step=sends[0][0].step,
        recipient=", ".join(dict.fromkeys(r.recipient_name for r, _, _ in sends)),
        channel=", ".join(dict.fromkeys(r.channel for r, _, _ in sends)), late=any(late for _, late, _ in sends),
        sent=[{"recipient": r.recipient_name, "channel": r.channel, "attempt": r.attempts, "late": late,
               "provider": provider} for r, late, provider in sends]) for sends in by_step.values()]
    if on_postgresql(session):
        columns = {name: [p[name] for p in params] for name in ("nid", "started", "late", "provider", "provider_id")}
        result = await session.execute(_SENT_ALL, columns | {"tok": token, "done": now})
    else:
        result = await session.execute(_SENT, params)
    if result.rowcount not in (-1, len(params)):
        # Another replica reclaimed some of these after our lease ran out: they may go out twice.
        log.warning("notification_duplicate_possible", count=len(params) - result.rowcount, channels=sorted(
            {a.row.channel for a in attempts}))
    await timeline.record_many(session, entries)


async def _record_failure(session: AsyncSession, attempt: Attempt, token: str, now: datetime, settings: Settings,
                          metrics: Metrics) -> None:
    row = attempt.row
    mine = (Notification.id == row.id, Notification.claim_token == token, Notification.state == "sending")
    who = {"step": row.step, "channel": row.channel, "recipient": row.recipient_name, "attempt": row.attempts}
    error = attempt.error
    assert error is not None
    decision = decide(row.attempts, error, now)
    if decision.action == "retry":
        await session.execute(update(Notification).where(*mine).values(
            state="pending", next_attempt_at=decision.retry_at, claimed_until=None, last_error=decision.reason))
        metrics.notifications.labels(row.channel, "retried").inc()
        await timeline.record(session, row.incident_id, "notification_retry", "scheduler", now,
                              error=decision.reason, retry_at=decision.retry_at, **who)
        log.warning("notification_retry", notification_id=row.id, incident_id=row.incident_id, channel=row.channel,
                    to=row.to, error=decision.reason, retry_at=decision.retry_at.isoformat())
        return
    await session.execute(update(Notification).where(*mine).values(
        state="failed", claimed_until=None, last_error=decision.reason))
    await record_failure(session, row, decision.reason, now, settings, metrics, actor="scheduler")


async def record_failure(session: AsyncSession, row, reason: str, now: datetime, settings: Settings,  # noqa: ANN001
                         metrics: Metrics, *, actor: str, try_fallback: bool = True) -> int | None:
    """A notification failed for good (its state already says so): count it, put it
    on the timeline, and fall back to the contact's other channel."""
    metrics.notifications.labels(row.channel, "failed").inc()
    fallback_id = await fallback(session, row, now, settings) if try_fallback else None
    await timeline.record(session, row.incident_id, "notification_failed", actor, now, error=reason,
                          fallback=other_channel(row.channel) if fallback_id else None, step=row.step,
                          channel=row.channel, recipient=row.recipient_name, attempt=row.attempts)
    log.error("notification_failed", notification_id=row.id, incident_id=row.incident_id, channel=row.channel,
              to=row.to, error=reason, fallback_id=fallback_id)
    return fallback_id


async def deliver_due(sessions: SessionFactory, channels: dict[str, Channel], settings: Settings, clock: Clock,
                      metrics: Metrics, limit: int = BATCH) -> int:
    """Send what is due now (retries, fallbacks, expired leases); returns how many
    notifications were claimed."""
    now = clock.now()
    token = uuid.uuid4().hex
    async with transaction(sessions) as session:
        claimed = await _claim(session, now, token, now + timedelta(seconds=settings.lease_seconds), limit, metrics)
        fresh = await recheck(session, claimed, now, token, settings, metrics)
    await send_claimed(sessions, channels, settings, clock, metrics, fresh, token)
    return len(claimed)


class _Lease:
    """This process's hold on the notifications it is sending under ``token``.

    A burst at a slow provider can take longer than one lease (4,000 messages
    at one second each, fifty at a time, take 80 s): half way through it, the
    rows not yet recorded are held again, or another replica would take them
    as abandoned and send them twice. A row whose lease is lost (ran out while
    this process stalled, or taken by a replica) is not sent from here.
    """

    def __init__(self, sessions: SessionFactory, settings: Settings, clock: Clock, claimed: list, token: str):
        self.sessions, self.clock, self.token = sessions, clock, token
        self.length = timedelta(seconds=settings.lease_seconds)
        self.held = {row.id for row in claimed}
        self.until = min(row.claimed_until for row in claimed)
        self.dropped: list[int] = []
        self._lock = asyncio.Lock()

    def _renewal_due(self) -> bool:
        return bool(self.held) and self.clock.now() >= self.until - self.length / 2

    async def may_send(self, row) -> bool:  # noqa: ANN001 - a RETURNING row of CLAIMED
        """Checked as each send starts, with the lease renewed first if it is due."""
        if self._renewal_due():
            await self.keep()
        if row.id in self.held and self.clock.now() < self.until:
            return True
        self.dropped.append(row.id)
        return False

    def done(self, attempts: list[Attempt]) -> None:
        self.held.difference_update(a.row.id for a in attempts)

    async def keep(self) -> None:
        """Hold the unrecorded rows for another lease once half of this one is
        gone; let go of those that were not sent."""
        async with self._lock:  # one renewal at a time; the others see its result
            dropped, self.dropped = self.dropped, []
            self.held.difference_update(dropped)
            renew = self._renewal_due()
            if not (renew or dropped):
                return
            mine = (Notification.claim_token == self.token, Notification.state == "sending")
            async with transaction(self.sessions) as session:
                if dropped:  # due again at once, for whoever claims them (no attempt was made)
                    await session.execute(update(Notification).where(among(session, Notification.id, dropped), *mine)
                                          .values(state="pending", claimed_until=None,
                                                  attempts=Notification.attempts - 1))
                if renew:
                    until = self.clock.now() + self.length
                    kept = set((await session.execute(
                        update(Notification).where(among(session, Notification.id, self.held), *mine)
                        .values(claimed_until=until).returning(Notification.id))).scalars())
                    if lost := self.held - kept:
                        log.warning("notification_lease_lost", count=len(lost), duplicate_possible=True)
                    self.held, self.until = kept, until


async def send_claimed(sessions: SessionFactory, channels: dict[str, Channel], settings: Settings, clock: Clock,
                       metrics: Metrics, claimed: list, token: str) -> None:
    """Send notifications this process holds the lease on (``token``), at most
    ``send_concurrency`` at a time, and record every outcome."""
    if not claimed:
        return
    pool = asyncio.Semaphore(settings.send_concurrency)
    lease = _Lease(sessions, settings, clock, claimed, token)

    async def bounded(row) -> Attempt | None:  # noqa: ANN001 - a RETURNING row of CLAIMED
        async with pool:
            if not await lease.may_send(row):
                return None
            return await _send(channels[row.channel], row, clock, settings.public_url)

    # Outcomes are committed while the rest are still being sent, each commit
    # taking every send that finished since the previous one began (a group
    # commit): a burst is recorded in a few transactions, and a crash leaves
    # unrecorded only what finished during one commit plus the sends in flight,
    # accepted by the provider but not yet marked sent (the possible duplicates).
    unfinished = {asyncio.ensure_future(bounded(row)) for row in claimed}
    while unfinished:
        finished, unfinished = await asyncio.wait(unfinished, timeout=LEASE_CHECK, return_when=asyncio.FIRST_COMPLETED)
        attempts = [attempt for task in finished if (attempt := task.result()) is not None]
        if attempts:
            await _record_all(sessions, attempts, token, clock, settings, metrics)
            lease.done(attempts)
        await lease.keep()


async def _record_all(sessions: SessionFactory, attempts: list[Attempt], token: str, clock: Clock,
                      settings: Settings, metrics: Metrics) -> None:
    done = clock.now()
    async with transaction(sessions) as session:
        sent = [a for a in attempts if a.receipt is not None]
        if sent:
            await _record_sent(session, sent, token, done, metrics)
        for attempt in attempts:
            if attempt.receipt is None:
                await _record_failure(session, attempt, token, done, settings, metrics)
