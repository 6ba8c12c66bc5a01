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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.base import STATUS_CALLBACK_PATH, Channel, DeliveryError, Message, Receipt
from alerts.policy import decide, fallback_channels
from monitor import bulk, timeline
from monitor.bulk import among, checked
from monitor.clock import Clock
from monitor.db import SessionFactory, transaction
from monitor.lease import Lease
from monitor.messages import Directory, DirectoryLoader, address, render_notification
from monitor.metrics import Metrics
from monitor.models import Contact, EscalationStep, Notification
from monitor.on_time import OnTime
from monitor.outage import Outage, is_connection_error
from monitor.planning import SCHEDULER
from monitor.reconcile import Reconciler
from monitor.relevance import Recheck
from monitor.retry import retrying
from monitor.rows import CLAIMED, ClaimedNotification, typed
from monitor.settings import Settings
from rules.vocabulary import ContactRole, NotificationState, Outcome, TimelineKind

log = structlog.get_logger("sunclock.delivery")

BATCH = 500
LATE_AFTER = timedelta(seconds=1)
# While a burst is being sent, how often the lease is looked at (seconds of
# real time: the provider may not answer for a while).
LEASE_CHECK = 1.0
RECORD_SLOTS = 4  # transactions recording sends at once
RECORD_BATCH = 100  # sends in one of them at most


def pending(content: dict, now: datetime) -> dict:
    """A notification row from rendered content, due for delivery now."""
    return content | {"state": NotificationState.PENDING, "attempts": 0, "next_attempt_at": now, "late": False}


def leased(content: dict, now: datetime, token: str, lease: datetime) -> dict:
    """A notification row already claimed by ``token``: created by the replica
    that will send it, it needs no separate claim."""
    return content | {"state": NotificationState.SENDING, "attempts": 1, "next_attempt_at": now, "late": False,
                      "claim_token": token, "claimed_until": lease}


class _Recorder:
    """Records finished sends at once: up to RECORD_SLOTS transactions at a time,
    each taking the sends that finished while the others were committing (at
    most RECORD_BATCH), so that recording keeps up with a burst without any
    send waiting for a large group to finish, or for its own recording."""

    def __init__(self, record: Callable[[list[Attempt]], Awaitable[None]]):
        self.record = record
        self.waiting: list[tuple[Attempt, asyncio.Future]] = []
        self.writers: set[asyncio.Task] = set()

    def add(self, attempt: Attempt) -> asyncio.Future:
        """A future done once ``attempt`` is recorded (or failed with the error
        that stopped its transaction)."""
        loop = asyncio.get_running_loop()
        recorded = loop.create_future()
        self.waiting.append((attempt, recorded))
        if len(self.writers) < RECORD_SLOTS:
            self.writers.add(loop.create_task(self._write()))
        return recorded

    async def _write(self) -> None:
        try:
            while True:
                batch, self.waiting = self.waiting[:RECORD_BATCH], self.waiting[RECORD_BATCH:]
                if not batch:
                    return
                try:
                    await self.record([a for a, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        future.set_exception(exc)
                else:
                    for _, future in batch:
                        future.set_result(None)
        finally:  # at once, not by a done callback: an attempt added next must find a free slot
            self.writers.discard(asyncio.current_task())


@dataclass
class Attempt:
    row: ClaimedNotification
    started: datetime
    receipt: Receipt | None = None
    error: DeliveryError | None = None


@dataclass(kw_only=True)
class Deliverer:
    """Sends the notifications this process holds, records every outcome, and
    decides (by :mod:`alerts.policy`) what a failure leads to: a retry, or a
    fallback to the contact's other channel."""

    sessions: SessionFactory
    settings: Settings
    channels: dict[str, Channel]
    metrics: Metrics
    clock: Clock
    load_directory: DirectoryLoader = Directory.load
    batch: int = BATCH
    outage: Outage | None = None  # shared with the scheduler (monitor/runtime.py)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests pass one that moves their clock
    recheck: Recheck = field(init=False)
    reconcile: Reconciler = field(init=False)

    def __post_init__(self) -> None:
        self.recheck = Recheck(settings=self.settings, metrics=self.metrics, load_directory=self.load_directory)
        self.reconcile = Reconciler(sessions=self.sessions, channels=self.channels, metrics=self.metrics,
                                    clock=self.clock, settings=self.settings)
        if self.outage is None:
            self.outage = Outage(clock=self.clock, metrics=self.metrics)

    @property
    def lease_length(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    @property
    def retry_cap(self) -> timedelta:
        return timedelta(seconds=self.settings.retry_max_seconds)

    async def deliver_due(self) -> int:
        """Send what is due now (retries, fallbacks, expired leases); returns how many
        notifications were claimed."""
        count, to_send, token = await self.claim_due()
        await self.send_claimed(to_send, token)
        return count

    async def claim_due(self) -> tuple[int, list[ClaimedNotification], str]:
        """Claim what is due now (retries, fallbacks, expired leases): how many were
        claimed, those of them to send (under the token) and the token."""
        now = self.clock.now()
        token = uuid.uuid4().hex
        reclaimed: set[int] = set()

        async def claim() -> list[ClaimedNotification]:
            reclaimed.clear()
            async with transaction(self.sessions) as session:
                return await self._claim(session, now, token, reclaimed)

        claimed = await retrying(claim, where="claim", metrics=self.metrics)
        if not claimed:
            return 0, [], token
        # Reclaimed SMS that the provider's log shows as sent are recorded, not sent again.
        to_send = await self.reconcile(claimed, reclaimed, token) if reclaimed else claimed

        async def recheck() -> list[ClaimedNotification]:
            async with transaction(self.sessions) as session:
                return await self.recheck(session, to_send, now, token)

        return len(claimed), await retrying(recheck, where="recheck", metrics=self.metrics), token

    async def _claim(self, session: AsyncSession, now: datetime, token: str,
                     reclaimed: set[int]) -> list[ClaimedNotification]:
        # On PostgreSQL, rows another replica is claiming or recording are skipped,
        # never waited for: replicas share the work without blocking each other
        # (SQLite has one writer and ignores the clause).
        due = list((await session.execute(
            select(Notification.id).where(Notification.state == NotificationState.PENDING,
                                          Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at).limit(self.batch).with_for_update(skip_locked=True))).scalars())
        claim = {"state": NotificationState.SENDING, "claim_token": token, "claimed_until": now + self.lease_length,
                 "attempts": Notification.attempts + 1}
        rows = []
        if due:
            rows += typed(ClaimedNotification, await session.execute(
                update(Notification).where(among(session, Notification.id, due),
                                           checked(session, Notification.state) == NotificationState.PENDING)
                .values(**claim).returning(*CLAIMED)))
        expired = list((await session.execute(
            select(Notification.id).where(Notification.state == NotificationState.SENDING,
                                          Notification.claimed_until < now)
            .order_by(Notification.id).limit(self.batch).with_for_update(skip_locked=True))).scalars())
        if expired:
            again = typed(ClaimedNotification, await session.execute(
                update(Notification).where(among(session, Notification.id, expired),
                                           checked(session, Notification.state) == NotificationState.SENDING,
                                           Notification.claimed_until < now)
                .values(**claim).returning(*CLAIMED)))
            for row in again:
                self.metrics.reclaimed.labels(row.channel).inc()
                log.warning("notification_lease_expired", notification_id=row.id, incident_id=row.incident_id,
                            channel=row.channel, duplicate_possible=True)
                reclaimed.add(row.id)
            rows += again
        return rows

    async def send_claimed(self, claimed: list[ClaimedNotification], token: str) -> None:
        """Send notifications this process holds the lease on (``token``), at most
        ``send_concurrency`` at a time, and record every outcome."""
        if not claimed:
            return
        lease = Lease(self.sessions, self.clock, self.lease_length, claimed, token)

        async def record(attempts: list[Attempt]) -> None:
            await self._record_until_done(attempts, token, lease)
            lease.done(a.row.id for a in attempts)  # recorded: no longer the lease's to renew

        recorder = _Recorder(record)
        recordings: list[asyncio.Future] = []
        errors: list[BaseException] = []
        on_time = OnTime(sessions=self.sessions, clock=self.clock, recheck=self.recheck, sleep=self.sleep,
                         token=token, claimed=claimed)
        rows = iter(on_time.in_order())

        # ``send_concurrency`` senders take the rows in turn: a semaphore with a thousand
        # tasks queued scans them at every acquire (108 ms of a 2,000-message burst).
        async def sender() -> None:
            for row in rows:
                try:
                    if not await on_time.still_true(row):
                        lease.done([row.id])  # skipped, and recorded so
                        continue
                    if not await lease.may_send(row):
                        continue
                    attempt = await self._send(row)
                except Exception as exc:  # the rest of the rows still go; their leases bring this one back
                    errors.append(exc)
                    continue
                # Recorded as soon as the provider answered, not with the rest of the
                # burst: a crash leaves unrecorded only the sends in flight (accepted by
                # the provider, not yet marked sent: for SMS, the provider's log tells
                # on reclaim, monitor/reconcile.py; for email they are the possible duplicates).
                recordings.append(recorder.add(attempt))

        async def holding_lease_until_done(waiting: set[asyncio.Future]) -> None:
            while waiting:
                _, waiting = await asyncio.wait(waiting, timeout=LEASE_CHECK)
                await lease.keep()

        await holding_lease_until_done({asyncio.ensure_future(sender())
                                        for _ in range(min(self.settings.send_concurrency, len(claimed)))})
        await holding_lease_until_done(set(recordings))
        # An error that is not the database's absence is a bug: raised (the first of
        # them), and logged by the caller; the rest come back with their leases.
        errors += [future.exception() for future in recordings if future.exception() is not None]
        if errors:
            raise errors[0]

    async def _record_until_done(self, attempts: list[Attempt], token: str, lease: Lease) -> None:
        """Record what was sent, retried with backoff while the database is away:
        a send the provider accepted and nobody recorded is sent again when its
        lease expires. Given up (raised) once the lease has run out."""
        assert self.outage is not None
        while True:
            try:
                await retrying(lambda: self._record_all(attempts, token), where="record", metrics=self.metrics)
            except Exception as exc:
                if not is_connection_error(exc) or self.clock.now() >= lease.until:
                    raise
                await self.sleep(self.outage.failed(exc, "sender"))
                continue
            self.outage.succeeded()
            return

    async def _send(self, row: ClaimedNotification) -> Attempt:
        attempt = Attempt(row=row, started=self.clock.now())
        # Every message says where its provider may report back; channels whose
        # provider does not (email, the outbox) ignore it.
        message = Message(channel=row.channel, to=row.to, subject=row.subject, body=row.body, html=row.html,
                          status_callback=f"{self.settings.public_url}{STATUS_CALLBACK_PATH}")
        try:
            attempt.receipt = await self.channels[row.channel].send(message)
        except DeliveryError as exc:
            attempt.error = exc
        except Exception as exc:  # a bug or an unclassified library error: retried, never lost, always logged
            log.exception("channel_error", notification_id=row.id, channel=row.channel)
            attempt.error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)
        return attempt

    async def _record_all(self, attempts: list[Attempt], token: str) -> None:
        done = self.clock.now()
        async with transaction(self.sessions) as session:
            await bulk.lock_notifications(session, [a.row.id for a in attempts])  # in id order, as the lease does
            sent = [a for a in attempts if a.receipt is not None]
            if sent:
                await self._record_sent(session, sent, token, done)
            for attempt in attempts:
                if attempt.receipt is None:
                    await self._record_failure(session, attempt, token, done)

    async def _record_sent(self, session: AsyncSession, attempts: list[Attempt], token: str, now: datetime) -> None:
        """Successes in one statement: a burst of thousands is recorded in a few round trips."""
        rows = []
        by_step: dict[int, list] = {}
        # In id order, so that every writer takes row locks in the same order.
        for attempt in sorted(attempts, key=lambda a: a.row.id):
            row, receipt = attempt.row, attempt.receipt
            assert receipt is not None
            lag = attempt.started - row.planned_at
            late = lag > LATE_AFTER
            rows.append({"nid": row.id, "started": attempt.started, "late": late, "provider": receipt.provider,
                         "provider_id": receipt.provider_id})
            by_step.setdefault(row.step_id, []).append((row, late, receipt.provider))
            self.metrics.notifications.labels(row.channel, Outcome.SENT).inc()
            self.metrics.escalation_lag.labels(row.channel).observe(max(0.0, lag.total_seconds()))
            log.info("step_sent", notification_id=row.id, incident_id=row.incident_id, step=row.step,
                     channel=row.channel, to=row.to, late=late)
        # Every send is on the timeline, one entry per step listing its messages: a
        # step to three people on two channels reads as one line, not six.
        entries = [timeline.entry(
            sends[0][0].incident_id, TimelineKind.NOTIFICATION_SENT, SCHEDULER, now, step=sends[0][0].step,
            recipient=", ".join(dict.fromkeys(r.recipient_name for r, _, _ in sends)),
            channel=", ".join(dict.fromkeys(r.channel for r, _, _ in sends)), late=any(late for _, late, _ in sends),
            sent=[{"recipient": r.recipient_name, "channel": r.channel, "attempt": r.attempts, "late": late,
                   "provider": provider} for r, late, provider in sends]) for sends in by_step.values()]
        count = await bulk.mark_sent(session, rows, token, now)
        if count not in (-1, len(rows)):
            # Another replica reclaimed some of these after our lease ran out: they may go out twice.
            log.warning("notification_duplicate_possible", count=len(rows) - count, channels=sorted(
                {a.row.channel for a in attempts}))
        await timeline.record_many(session, entries)

    async def _record_failure(self, session: AsyncSession, attempt: Attempt, token: str, now: datetime) -> None:
        row, error = attempt.row, attempt.error
        assert error is not None
        mine = (Notification.id == row.id, Notification.claim_token == token,
                Notification.state == NotificationState.SENDING)
        decision = decide(row.attempts, error, now, max_delay=self.retry_cap)
        if decision.action == "retry":
            await session.execute(update(Notification).where(*mine).values(
                state=NotificationState.PENDING, next_attempt_at=decision.retry_at, claimed_until=None,
                last_error=decision.reason))
            self.metrics.notifications.labels(row.channel, Outcome.RETRIED).inc()
            await timeline.record(session, row.incident_id, TimelineKind.NOTIFICATION_RETRY, SCHEDULER, now,
                                  error=decision.reason, retry_at=decision.retry_at, step=row.step,
                                  channel=row.channel, recipient=row.recipient_name, attempt=row.attempts)
            log.warning("notification_retry", notification_id=row.id, incident_id=row.incident_id,
                        channel=row.channel, to=row.to, error=decision.reason,
                        retry_at=decision.retry_at.isoformat())
            return
        await session.execute(update(Notification).where(*mine).values(
            state=NotificationState.FAILED, claimed_until=None, last_error=decision.reason))
        await self.record_failure(session, row, decision.reason, now, actor=SCHEDULER)

    async def record_failure(self, session: AsyncSession, row: ClaimedNotification | Notification, reason: str,
                             now: datetime, *, actor: str, try_fallback: bool = True) -> int | None:
        """A notification failed for good (its state already says so): count it, put it
        on the timeline, and fall back to the contact's other channel."""
        self.metrics.notifications.labels(row.channel, Outcome.FAILED).inc()
        fallback_id, fallback = await self._fallback(session, row, now) if try_fallback else (None, None)
        await timeline.record(session, row.incident_id, TimelineKind.NOTIFICATION_FAILED, actor, now, error=reason,
                              fallback=fallback, step=row.step,
                              channel=row.channel, recipient=row.recipient_name, attempt=row.attempts)
        log.error("notification_failed", notification_id=row.id, incident_id=row.incident_id, channel=row.channel,
                  to=row.to, error=reason, fallback_id=fallback_id)
        return fallback_id

    async def _fallback(self, session: AsyncSession, row: ClaimedNotification | Notification,
                        now: datetime) -> tuple[int | None, str | None]:
        """The same step for the same contact on the first fallback channel (alerts.policy)
        it has an address for and the step did not already use; its id and channel."""
        contact = await session.get(Contact, row.contact_id)
        # A stand-in is kept retired (no roster lists them) but is reachable (SPEC §14.3).
        if contact is None or (contact.retired_at is not None and contact.role != ContactRole.STANDIN):
            return None, None
        used = set((await session.execute(select(Notification.channel).where(
            Notification.step_id == row.step_id, Notification.contact_id == row.contact_id))).scalars())
        channel = next((c for c in fallback_channels(row.channel) if c not in used and address(contact, c)), None)
        if channel is None:
            return None, None
        step = await session.get(EscalationStep, row.step_id)
        directory = await self.load_directory(session, [row.incident_id])
        values = pending(render_notification(directory, step, contact, channel, now, self.settings), now)
        values["fallback_of"] = row.id
        new_id = (await session.execute(insert(Notification).values(**values).returning(Notification.id))).scalar_one()
        return new_id, channel
