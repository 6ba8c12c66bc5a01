"""Detection: deadlines that have passed become breaches, and planned steps
whose time has come become notifications, created already leased to the
replica that fired them, which sends them at once (:mod:`monitor.delivery`).
Shortly before they are due, steps have their messages prepared, so that a
thousand steps due in the same second do not wait for a thousand renders.

Every claim is a conditional UPDATE (``… WHERE state = 'planned'``): of
several replicas only the one whose UPDATE changed the row goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import bindparam, delete, insert, literal, or_, select, tuple_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, timeline
from monitor.db import SessionFactory, among, insert_many, lock_prepared, transaction
from monitor.delivery import CLAIMED, leased
from monitor.messages import CONTENT, Directory, render_step
from monitor.models import EscalationStep, Incident, Notification, Obligation, PreparedNotification
from monitor.settings import Settings
from rules import RuleSet
from rules.deadlines import DueStep, select_due
from rules.schema import MIN_OVERDUE_EVERY, PRE_DEADLINE_KINDS

log = structlog.get_logger("sunclock.dispatch")

BATCH = 500  # steps per firing or preparing transaction; the sends of one go out while the next is fired
# Deadlines per breach transaction (each plans its overdue repeats): small, as
# the breach notices of a burst wait for the first such batch.
BREACH_BATCH = 100
LATE_AFTER = timedelta(seconds=1)
# A prepared message is used only this close to its planned time; later, its
# "2 hours left" would be off, so the step is rendered again.
PREPARED_FRESH = timedelta(minutes=1)
# A deadline that passed less than this ago may have its breached step sent
# before the breach is recorded (a burst of breaches is announced first and
# recorded after): none of the overdue repeats recording plans can be due yet.
# Older unrecorded breaches hold their steps back until recorded, so that
# catch-up sees the repeats too and sends one message per deadline.
FRESH_BREACH = MIN_OVERDUE_EVERY / 2


async def detect_breaches(sessions: SessionFactory, rules: RuleSet, now: datetime, stale: bool = False) -> int:
    """Record the breaches of deadlines passed by ``now`` (with ``stale``, only
    of those passed FRESH_BREACH ago or more), a batch of BREACH_BATCH at most;
    returns how many were found."""
    async with transaction(sessions) as session:
        # One table and its (state, due_at) index; the incidents are read by id
        # after. A join here can go badly wrong on tables PostgreSQL has not yet
        # analysed (seconds instead of milliseconds after a bulk import).
        due = list((await session.exec(
            select(Obligation).where(Obligation.state == "pending",
                                     Obligation.due_at <= (now - FRESH_BREACH if stale else now))
            .order_by(Obligation.due_at).limit(BREACH_BATCH).with_for_update(skip_locked=True))).scalars())
        if not due:
            return 0
        incidents = {i.id: i for i in (await session.exec(
            select(Incident).where(Incident.id.in_({o.incident_id for o in due})))).scalars()}
        # Closed incidents too: closing does not discharge a duty (SPEC §4.7).
        await planning.breach_many(session, incidents, due, rules, now)
    return len(due)


def _not_held(now: datetime):  # noqa: ANN202 - an SQL condition
    """Steps of an obligation whose breach is stale and not yet recorded wait for it."""
    return or_(Obligation.id.is_(None), Obligation.state != "pending", Obligation.due_at > now - FRESH_BREACH)


async def _due_steps(session: AsyncSession, now: datetime, limit: int) -> list[DueStep]:
    head = set((await session.execute(
        select(EscalationStep.incident_id).outerjoin(Obligation, Obligation.id == EscalationStep.obligation_id)
        .where(EscalationStep.state == "planned", EscalationStep.planned_at <= now, _not_held(now))
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
               among(session, EscalationStep.incident_id, head), _not_held(now))
        # Steps another replica is firing are skipped, not waited for.
        .order_by(EscalationStep.id).with_for_update(of=EscalationStep, skip_locked=True))
    return [DueStep(r.id, (r.incident_id, r.obligation_key), r.kind, r.occurrence, r.planned_at, r.due_at)
            for r in rows]


_STEP = (EscalationStep.id, EscalationStep.incident_id, EscalationStep.obligation_key, EscalationStep.kind,
         EscalationStep.occurrence, EscalationStep.planned_at, EscalationStep.recipients, EscalationStep.channels,
         EscalationStep.late, EscalationStep.prepared_at)


async def _claim(session: AsyncSession, ids: list[int], state: str, now: datetime) -> list:
    """Move planned steps to ``state``; only the rows this UPDATE changed come back."""
    if not ids:
        return []
    return list((await session.execute(
        update(EscalationStep).where(among(session, EscalationStep.id, ids), EscalationStep.state == "planned")
        .values(state=state, fired_at=now, late=EscalationStep.planned_at < now - LATE_AFTER)
        .returning(*_STEP))).all())


@dataclass
class Firing:
    """What one firing pass did: how many steps were due, and the notifications
    it created already leased to this process under ``token``, to be sent now."""

    due: int = 0
    claimed: list = field(default_factory=list)
    token: str = ""


async def _from_prepared(session: AsyncSession, steps: list, now: datetime, values: dict) -> list:
    """Notifications copied from the messages prepared for ``steps``, inside the
    database; only those prepared for the step's current time are used."""
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
    return list((await session.execute(
        insert(Notification.__table__).from_select([*CONTENT, *values], source).returning(*CLAIMED))).all())


async def fire_due_steps(sessions: SessionFactory, settings: Settings, now: datetime, limit: int = BATCH) -> Firing:
    """Turn the steps whose time has come into notifications, leased to this
    process for sending at once (no second claim, no wait for a delivery pass)."""
    token = uuid.uuid4().hex
    lease = leased({}, now, token, now + timedelta(seconds=settings.lease_seconds))
    async with transaction(sessions) as session:
        due = await _due_steps(session, now, limit)
        if not due:
            return Firing()
        to_fire, to_skip = select_due(due, now)
        skipped = await _claim(session, [s.id for s in to_skip], "skipped", now)
        fired = await _claim(session, [s.id for s in to_fire], "fired", now)
        claimed = await _from_prepared(session, fired, now, lease)
        copied = {row.step_id for row in claimed}
        unprepared = [s for s in fired if s.id not in copied]
        names: dict[int, list[str]] = {}
        unreached: dict[int, list[str]] = {}
        if unprepared:
            # Not prepared (late, just planned, discarded, or with a recipient
            # group that reaches nobody): rendered now.
            directory = await Directory.load(session, {s.incident_id for s in unprepared})
            rows = []
            for step in unprepared:
                rendered = render_step(directory, step, now, settings)
                names[step.id] = [c.name for c in rendered.contacts]
                if rendered.unreached:
                    unreached[step.id] = rendered.unreached
                rows += [c | lease for c in rendered.content]
            if rows:
                claimed += (await session.execute(insert(Notification.__table__).returning(*CLAIMED), rows)).all()
            # A step that reached nobody at all is recorded as undeliverable, not fired.
            if nobody := [s.id for s in unprepared if not names[s.id]]:
                await session.execute(update(EscalationStep).where(among(session, EscalationStep.id, nobody))
                                      .values(state="undeliverable"))
            await _record_gaps(session, unreached)
        await session.execute(delete(PreparedNotification).where(
            among(session, PreparedNotification.step_id, [s.id for s in due])))
        await timeline.record_many(session, _entries(skipped, fired, claimed, names, due, now)
                                   + _unreached_entries(fired, unreached, names, now))
    return Firing(due=len(due), claimed=claimed, token=token)


def _entries(skipped: list, fired: list, claimed: list, names: dict[int, list[str]], due: list[DueStep],
             now: datetime) -> list[dict]:
    deadlines = {s.id: s.deadline for s in due}
    entries = []
    for step in skipped:
        passed = step.kind in PRE_DEADLINE_KINDS and deadlines[step.id] is not None and deadlines[step.id] <= now
        entries.append(timeline.entry(step.incident_id, "step_skipped", "scheduler", now, step=step.kind,
                                      obligation=step.obligation_key or None, occurrence=step.occurrence,
                                      planned_at=step.planned_at, why="its deadline has passed" if passed
                                      else "a later step of the same deadline was due"))
    sent_to: dict[int, list] = {}
    for row in claimed:
        sent_to.setdefault(row.step_id, []).append(row)
    for step in fired:
        rows = sent_to.get(step.id, [])
        recipients = names.get(step.id) or [row.recipient_name for row in rows]
        if not recipients:
            continue  # undeliverable: see _unreached_entries
        entries.append(timeline.entry(step.incident_id, "step_fired", "scheduler", now, step=step.kind,
                                      obligation=step.obligation_key or None, occurrence=step.occurrence,
                                      planned_at=step.planned_at, late=step.late, notifications=len(rows),
                                      recipients=sorted(set(recipients))))
        log.info("step_fired", incident_id=step.incident_id, obligation=step.obligation_key or None,
                 step=step.kind, occurrence=step.occurrence, late=step.late, notifications=len(rows),
                 prepared=step.id not in names)
    return entries


async def _record_gaps(session: AsyncSession, unreached: dict[int, list[str]]) -> None:
    """Keep on the step which groups reached nobody, so the gap is counted. A
    department without a deputy is common and no gap: the head was told."""
    gaps = [{"step": step_id, "groups": ",".join(serious)} for step_id, groups in unreached.items()
            if (serious := [g for g in groups if g != "deputies"])]
    if gaps:
        await session.execute(update(EscalationStep.__table__).where(EscalationStep.id == bindparam("step"))
                              .values(unreached_groups=bindparam("groups")), gaps)


def _unreached_entries(fired: list, unreached: dict[int, list[str]], names: dict[int, list[str]],
                       now: datetime) -> list[dict]:
    """A step whose recipient groups resolved to nobody says so on the timeline
    (and, with nobody at all, instead of step_fired): a gap is never silent."""
    entries = []
    for step in fired:
        if step.id not in unreached:
            continue
        entries.append(timeline.entry(step.incident_id, "step_undeliverable", "scheduler", now, step=step.kind,
                                      obligation=step.obligation_key or None, occurrence=step.occurrence,
                                      planned_at=step.planned_at, groups=unreached[step.id],
                                      reached=sorted(set(names[step.id]))))
        log.error("step_undeliverable", incident_id=step.incident_id, obligation=step.obligation_key or None,
                  step=step.kind, occurrence=step.occurrence, groups=unreached[step.id],
                  nobody=not names[step.id])
    return entries


async def prepare_steps(sessions: SessionFactory, settings: Settings, now: datetime, limit: int = BATCH) -> int:
    """Render ahead the messages of steps due within ``prepare_seconds``, so that
    a burst of steps due in the same second costs a copy, not a render each.

    The text is rendered as of the step's planned time. A step that then fires
    more than PREPARED_FRESH late, or whose incident or department changed
    meanwhile (:func:`monitor.planning.discard_prepared`), is rendered again at
    its firing. Returns how many steps were prepared.
    """
    horizon = timedelta(seconds=settings.prepare_seconds)
    if not horizon:
        return 0
    async with transaction(sessions) as session:
        # An edit's discard of prepared messages waits until these are
        # committed (or this waits for the edit): see discard_prepared.
        await lock_prepared(session, shared=True)
        # The messages of steps that were cancelled before their time, or fired
        # too late to use them. Rows a firing is deleting are left to it: taken
        # in another order, the two deletes could deadlock.
        key = tuple_(PreparedNotification.step_id, PreparedNotification.contact_id, PreparedNotification.channel)
        await session.execute(delete(PreparedNotification).where(key.in_(
            select(PreparedNotification.step_id, PreparedNotification.contact_id, PreparedNotification.channel)
            .where(PreparedNotification.planned_at < now - PREPARED_FRESH).with_for_update(skip_locked=True))))
        steps = list((await session.execute(
            select(*_STEP).where(EscalationStep.state == "planned", EscalationStep.prepared_at.is_(None),
                                 EscalationStep.planned_at > now, EscalationStep.planned_at <= now + horizon)
            .order_by(EscalationStep.planned_at).limit(limit).with_for_update(skip_locked=True))).all())
        if not steps:
            return 0
        directory = await Directory.load(session, {s.incident_id for s in steps})
        rendered = [render_step(directory, step, step.planned_at, settings) for step in steps]
        # A step with a group that reaches nobody is left to be rendered when it
        # fires, which records the gap on the timeline (the copy could not).
        rows = [content for r in rendered if not r.unreached for content in r.content]
        ids = [s.id for s in steps]
        await session.execute(update(EscalationStep).where(among(session, EscalationStep.id, ids)).values(prepared_at=now))
        # Left from before the step was moved, if nothing discarded them.
        await session.execute(delete(PreparedNotification).where(among(session, PreparedNotification.step_id, ids)))
        await insert_many(session, PreparedNotification.__table__, rows)
    log.info("steps_prepared", steps=len(steps), messages=len(rows), first=steps[0].planned_at.isoformat())
    return len(steps)
