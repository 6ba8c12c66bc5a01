"""Messages prepared ahead of their step (``preparednotification``), and the
lock that keeps them true.

Shortly before a step is due the dispatcher renders its messages as of the
step's planned time (:meth:`monitor.dispatch.Dispatcher.prepare`); at the
step's time they are copied into notifications (:func:`take`). Whatever
changes what a message says (an incident's facts, a department's contacts)
calls :func:`invalidate`, and the steps are rendered again.

The lock: preparing holds it shared, :func:`invalidate` holds it exclusively
until the edit commits, so that the discard sees every message rendered before
it and no preparing reads the facts being changed. On SQLite a transaction
already holds the one write lock from BEGIN IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, literal, select, text, tuple_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.bulk import among, checked, insert_many, on_postgresql
from monitor.messages import CONTENT
from monitor.models import EscalationStep, Notification, PreparedNotification
from monitor.rows import CLAIMED, ClaimedNotification, StepRow, typed
from rules.vocabulary import StepState

# A prepared message is used only this close to its planned time; later, its
# "2 hours left" would be off, so the step is rendered again.
PREPARED_FRESH = timedelta(minutes=1)
_LOCK = 0x53756E636C6F636B  # "Sunclock"


async def _lock(session: AsyncSession, *, shared: bool) -> None:
    """Take the prepared-messages lock until the transaction ends."""
    if on_postgresql(session):
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": _LOCK})


async def invalidate(session: AsyncSession, incident_id: int | None = None) -> None:
    """Forget messages prepared ahead (of one incident, or all) because what they
    say may have changed: a step without them is rendered when it fires, and
    prepared again if there is time.

    First it waits for any preparing under way, so that the messages it is
    rendering with the old facts are committed and discarded here; preparing
    that starts later waits for this transaction and reads the new facts."""
    await _lock(session, shared=False)
    prepared = select(PreparedNotification.step_id)
    if incident_id is not None:
        prepared = prepared.where(PreparedNotification.incident_id == incident_id)
    await session.execute(update(EscalationStep).where(EscalationStep.id.in_(prepared),
                                                       checked(session, EscalationStep.state) == StepState.PLANNED)
                          .values(prepared_at=None))
    query = delete(PreparedNotification)
    if incident_id is not None:
        query = query.where(PreparedNotification.incident_id == incident_id)
    await session.execute(query)


async def forget(session: AsyncSession, step_ids: Iterable[int]) -> None:
    """The messages of steps that fired or were cancelled: no longer needed."""
    await session.execute(delete(PreparedNotification).where(among(session, PreparedNotification.step_id, step_ids)))


async def take(session: AsyncSession, steps: list[StepRow], now: datetime,
               values: dict) -> list[ClaimedNotification]:
    """Notifications (with ``values``) copied from the messages prepared for
    ``steps``, inside the database; only those prepared for the step's current
    time are used."""
    ids = [s.id for s in steps if s.prepared_at is not None and now - s.planned_at <= PREPARED_FRESH]
    if not ids:
        return []
    prepared = PreparedNotification.__table__.c
    content = [prepared[name] for name in CONTENT]
    # The step's time by a lookup per row, not a join: with a join PostgreSQL may
    # hash the whole step table (0.3 s at a million steps) to match 2,000 rows.
    current = select(EscalationStep.planned_at).where(EscalationStep.id == prepared.step_id).scalar_subquery()
    source = (select(*content, *(literal(v, type_=Notification.__table__.c[k].type) for k, v in values.items()))
              .where(among(session, prepared.step_id, ids), prepared.planned_at == current))
    return typed(ClaimedNotification, await session.execute(
        insert(Notification.__table__).from_select([*CONTENT, *values], source).returning(*CLAIMED)))


async def begin_preparing(session: AsyncSession, now: datetime) -> None:
    """Hold the lock shared for this transaction, and drop the messages of steps
    cancelled before their time or fired too late to use them."""
    # An edit's invalidate() waits until what is prepared now is committed (or
    # this waits for the edit).
    await _lock(session, shared=True)
    # Rows a firing is deleting are left to it: taken in another order, the two
    # deletes could deadlock.
    key = tuple_(PreparedNotification.step_id, PreparedNotification.contact_id, PreparedNotification.channel)
    await session.execute(delete(PreparedNotification).where(key.in_(
        select(PreparedNotification.step_id, PreparedNotification.contact_id, PreparedNotification.channel)
        .where(PreparedNotification.planned_at < now - PREPARED_FRESH).with_for_update(skip_locked=True))))


async def store(session: AsyncSession, step_ids: list[int], rows: list[dict], now: datetime) -> None:
    """The messages rendered for ``step_ids``, which count as prepared from ``now``."""
    await session.execute(update(EscalationStep).where(among(session, EscalationStep.id, step_ids))
                          .values(prepared_at=now))
    # Left from before the step was moved, if nothing invalidated them.
    await forget(session, step_ids)
    await insert_many(session, PreparedNotification.__table__, rows)
