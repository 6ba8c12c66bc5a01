"""Detection: deadlines that have passed become breaches, and planned steps
whose time has come become notifications. Delivery is separate
(:mod:`monitor.delivery`), so neither can run twice.

Every claim is a conditional UPDATE (``… WHERE state = 'planned'``): of
several replicas only the one whose UPDATE changed the row goes on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, timeline
from monitor.db import SessionFactory, transaction
from monitor.messages import Directory, address, render_notification
from monitor.models import EscalationStep, Incident, Notification, Obligation
from monitor.settings import Settings
from rules import RuleSet
from rules.deadlines import DueStep, select_due
from rules.schema import PRE_DEADLINE_KINDS

log = structlog.get_logger("sunclock.dispatch")

BATCH = 200  # steps per firing transaction: small enough that the first sends of a burst start early
LATE_AFTER = timedelta(seconds=1)


async def detect_breaches(sessions: SessionFactory, rules: RuleSet, now: datetime, limit: int = BATCH) -> int:
    async with transaction(sessions) as session:
        # One table and its (state, due_at) index; the incidents are read by id
        # after. A join here can go badly wrong on tables PostgreSQL has not yet
        # analysed (seconds instead of milliseconds after a bulk import).
        due = list((await session.exec(
            select(Obligation).where(Obligation.state == "pending", Obligation.due_at <= now)
            .order_by(Obligation.due_at).limit(limit).with_for_update(skip_locked=True))).scalars())
        if not due:
            return 0
        incidents = {i.id: i for i in (await session.exec(
            select(Incident).where(Incident.id.in_({o.incident_id for o in due})))).scalars()}
        for obligation in due:
            if incidents[obligation.incident_id].state != "open":
                obligation.state = "cancelled"  # closing cancels pending obligations; never leave one due forever
        await planning.breach_many(session, incidents, [o for o in due if incidents[o.incident_id].state == "open"],
                                   rules, now)
    return len(due)


async def _due_steps(session: AsyncSession, now: datetime, limit: int) -> list[DueStep]:
    head = set((await session.execute(
        select(EscalationStep.incident_id).where(EscalationStep.state == "planned", EscalationStep.planned_at <= now)
        .order_by(EscalationStep.planned_at).limit(limit))).scalars())
    if not head:
        return []
    # Every due step of those incidents, so that catch-up sees whole obligations
    # even where the batch limit cut through them.
    rows = await session.execute(
        select(EscalationStep.id, EscalationStep.incident_id, EscalationStep.obligation_key, EscalationStep.kind,
               EscalationStep.occurrence, EscalationStep.planned_at, Obligation.due_at)
        .outerjoin(Obligation, Obligation.id == EscalationStep.obligation_id)
        .where(EscalationStep.state == "planned", EscalationStep.planned_at <= now,
               EscalationStep.incident_id.in_(head))
        # Steps another replica is firing are skipped, not waited for.
        .order_by(EscalationStep.id).with_for_update(of=EscalationStep, skip_locked=True))
    return [DueStep(r.id, (r.incident_id, r.obligation_key), r.kind, r.occurrence, r.planned_at, r.due_at)
            for r in rows]


_CLAIMED = (EscalationStep.id, EscalationStep.incident_id, EscalationStep.obligation_key, EscalationStep.kind,
            EscalationStep.occurrence, EscalationStep.planned_at, EscalationStep.recipients, EscalationStep.channels,
            EscalationStep.late)


async def _claim(session: AsyncSession, ids: list[int], state: str, now: datetime) -> list:
    """Move planned steps to ``state``; only the rows this UPDATE changed come back."""
    if not ids:
        return []
    return list((await session.execute(
        update(EscalationStep).where(EscalationStep.id.in_(ids), EscalationStep.state == "planned")
        .values(state=state, fired_at=now, late=EscalationStep.planned_at < now - LATE_AFTER)
        .returning(*_CLAIMED))).all())


async def fire_due_steps(sessions: SessionFactory, settings: Settings, now: datetime, limit: int = BATCH) -> int:
    """Send (as notifications) the steps whose time has come; returns how many were due."""
    async with transaction(sessions) as session:
        due = await _due_steps(session, now, limit)
        if not due:
            return 0
        to_fire, to_skip = select_due(due, now)
        skipped = await _claim(session, [s.id for s in to_skip], "skipped", now)
        fired = await _claim(session, [s.id for s in to_fire], "fired", now)
        directory = await Directory.load(session, {s.incident_id for s in fired}) if fired else None
        notifications, entries = [], []
        deadlines = {s.id: s.deadline for s in due}
        for step in skipped:
            passed = step.kind in PRE_DEADLINE_KINDS and deadlines[step.id] is not None and deadlines[step.id] <= now
            entries.append(timeline.entry(step.incident_id, "step_skipped", "scheduler", now, step=step.kind,
                                          obligation=step.obligation_key or None, occurrence=step.occurrence,
                                          planned_at=step.planned_at, why="its deadline has passed" if passed
                                          else "a later step of the same deadline was due"))
        for step in fired:
            assert directory is not None
            contacts = directory.recipients(directory.incidents[step.incident_id], step.recipients)
            rows = [render_notification(directory, step, contact, channel, now, settings)
                    for contact in contacts for channel in step.channels if address(contact, channel)]
            notifications += rows
            entries.append(timeline.entry(step.incident_id, "step_fired", "scheduler", now, step=step.kind,
                                          obligation=step.obligation_key or None, occurrence=step.occurrence,
                                          planned_at=step.planned_at, late=step.late, notifications=len(rows),
                                          recipients=sorted({c.name for c in contacts})))
            log.info("step_fired", incident_id=step.incident_id, obligation=step.obligation_key or None,
                     step=step.kind, occurrence=step.occurrence, late=step.late, notifications=len(rows))
            if not rows:
                log.warning("step_without_recipients", incident_id=step.incident_id, step=step.kind,
                            recipients=step.recipients)
        if notifications:
            await session.execute(insert(Notification.__table__), notifications)
        await timeline.record_many(session, entries)
    return len(due)
