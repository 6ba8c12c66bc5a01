"""Detection: deadlines that have passed become breaches, and planned steps
whose time has come become notifications, created already leased to the
replica that fired them, which sends them at once (:mod:`monitor.delivery`).
Shortly before they are due, steps have their messages prepared
(:mod:`monitor.prepared`), so that a thousand steps due in the same second do
not wait for a thousand renders.

Steps due within ``fire_ahead_seconds`` are fired ahead, as of their planned
time: the database work of a burst is done before its second, and the
messages wait in this process for their moment (:mod:`monitor.on_time`
checks them once more then). Only a step alone in its obligation's window is
fired ahead; catch-up among several is decided when they are due.

Every claim is a conditional UPDATE (``… WHERE state = 'planned'``): of
several replicas only the one whose UPDATE changed the row goes on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import bindparam, insert, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, prepared, standin_periods, timeline
from monitor.bulk import among, checked, on_postgresql
from monitor.db import SessionFactory, transaction
from monitor.delivery import LATE_AFTER, leased
from monitor.messages import Directory, DirectoryLoader, render_step
from monitor.models import EscalationStep, Incident, Notification, Obligation
from monitor.planning import SCHEDULER
from monitor.rows import CLAIMED, STEP, ClaimedNotification, StepRow, typed
from monitor.settings import Settings
from rules import RuleSet
from rules.deadlines import DueStep, select_due
from rules.schema import MIN_OVERDUE_EVERY
from rules.vocabulary import INCIDENT_NOTICES, PRE_DEADLINE_KINDS, ObligationState, Recipient, StepState, TimelineKind

log = structlog.get_logger("sunclock.dispatch")

BATCH = 500  # steps per firing or preparing transaction; the sends of one go out while the next is fired
# The first firing of a run is smaller: its messages go out while the rest is
# fired, instead of after a whole batch rendered (a restart's overdue steps,
# nothing prepared: 0.8 s for 500 due steps on PostgreSQL at 100,000 incidents).
FIRST_BATCH = 50
# Deadlines per breach transaction (each plans its overdue repeats): small, as
# the breach notices of a burst wait for the first such batch.
BREACH_BATCH = 100
# A deadline that passed less than this ago may have its breached step sent
# before the breach is recorded (a burst of breaches is announced first and
# recorded after): none of the overdue repeats recording plans can be due yet.
# Older unrecorded breaches hold their steps back until recorded, so that
# catch-up sees the repeats too and sends one message per deadline.
FRESH_BREACH = MIN_OVERDUE_EVERY / 2


@dataclass
class Firing:
    """What one firing pass did: how many steps were due, and the notifications
    it created already leased to this process under ``token``, to be sent now."""

    due: int = 0
    claimed: list[ClaimedNotification] = field(default_factory=list)
    token: str = ""


@dataclass
class _Rendered:
    """What firing the unprepared steps rendered: the notifications, and by step
    the names of those told and the groups that reached nobody."""

    claimed: list[ClaimedNotification] = field(default_factory=list)
    names: dict[int, list[str]] = field(default_factory=dict)
    unreached: dict[int, list[str]] = field(default_factory=dict)


@dataclass(kw_only=True)
class Dispatcher:
    """Finds what has fallen due in the database and turns it into breaches and
    leased notifications; prepares the messages of what falls due soon."""

    sessions: SessionFactory
    settings: Settings
    rules: RuleSet
    load_directory: DirectoryLoader = Directory.load
    batch: int = BATCH
    first_batch: int = FIRST_BATCH
    breach_batch: int = BREACH_BATCH

    async def detect_breaches(self, now: datetime, stale: bool = False) -> int:
        """Record the breaches of deadlines passed by ``now`` (with ``stale``, only
        of those passed FRESH_BREACH ago or more), a batch of ``breach_batch`` at
        most; returns how many were found."""
        async with transaction(self.sessions) as session:
            # One table and its (state, due_at) index; the incidents are read by id
            # after. A join here can go badly wrong on tables PostgreSQL has not yet
            # analysed (seconds instead of milliseconds after a bulk import).
            passed = (Obligation.state == ObligationState.PENDING,
                      Obligation.due_at <= (now - FRESH_BREACH if stale else now))
            candidates = set((await session.execute(
                select(Obligation.incident_id).where(*passed).order_by(Obligation.due_at)
                .limit(self.breach_batch))).scalars())
            # Lock order (monitor/incidents.py): the incidents first, then their
            # obligations. Incidents another transaction holds are left for the next run.
            mine = await lock_incidents(session, candidates)
            if not mine:
                return 0
            due = list((await session.exec(
                select(Obligation).where(*passed, among(session, Obligation.incident_id, mine))
                .order_by(Obligation.id).with_for_update(skip_locked=True))).scalars())
            if not due:
                return 0
            incidents = {i.id: i for i in (await session.exec(
                select(Incident).where(Incident.id.in_({o.incident_id for o in due})))).scalars()}
            # Closed incidents too: closing does not discharge a duty (SPEC §4.7).
            await planning.breach_many(session, incidents, due, self.rules, now)
        return len(due)

    async def fire(self, now: datetime, limit: int | None = None) -> Firing:
        """Turn the steps whose time has come (or comes within ``fire_ahead_seconds``)
        into notifications, leased to this process for sending at once, or at
        their step's time (no second claim, no wait for a delivery pass).
        ``limit``: due steps looked at (``batch`` unless given), with every other
        due step of their incidents."""
        token = uuid.uuid4().hex
        lease = leased({}, now, token, now + timedelta(seconds=self.settings.lease_seconds))
        async with transaction(self.sessions) as session:
            due = await _due_steps(session, now, limit or self.batch,
                                   now + timedelta(seconds=self.settings.fire_ahead_seconds))
            if not due:
                return Firing()
            to_fire, to_skip = select_due(due, now)
            skipped = await _claim(session, [s.id for s in to_skip], StepState.SKIPPED, now)
            fired = await _claim(session, [s.id for s in to_fire], StepState.FIRED, now)
            fired += await _claim(session, [s.id for s in fired_ahead(due, now)], StepState.FIRED, now, ahead=True)
            # A stand-in period that began or ended since the messages were prepared
            # changes who is told: those are rendered again, for now (SPEC §14.3).
            crossed = bool(fired) and await standin_periods.boundary_between(
                session, min(s.planned_at for s in fired), now)  # (none for steps fired ahead)
            claimed = [] if crossed else await prepared.take(session, fired, now, lease)
            copied = {row.step_id for row in claimed}
            # Not prepared (late, just planned, invalidated, or with a recipient
            # group that reaches nobody): rendered now.
            rendered = await self._render(session, [s for s in fired if s.id not in copied], now, lease)
            claimed += rendered.claimed
            await prepared.forget(session, [s.id for s in skipped + fired])
            standing_in = await standin_periods.absent_names(session, {row.contact_id for row in claimed})
            await timeline.record_many(
                session, _step_entries(skipped, fired, claimed, rendered.names, due, now, standing_in)
                + _unreached_entries(fired, rendered.unreached, rendered.names, now))
        return Firing(due=len(due), claimed=claimed, token=token)

    async def _render(self, session: AsyncSession, steps: list[StepRow], now: datetime, lease: dict) -> _Rendered:
        done = _Rendered()
        if not steps:
            return done
        directory = await self.load_directory(session, {s.incident_id for s in steps})
        rows = []
        for step in steps:
            rendered = render_step(directory, step, as_of(step, now), self.settings)
            done.names[step.id] = [c.name for c in rendered.contacts]
            if rendered.unreached:
                done.unreached[step.id] = rendered.unreached
            rows += [c | lease for c in rendered.content]
        if rows:
            done.claimed = typed(ClaimedNotification, await session.execute(
                insert(Notification.__table__).returning(*CLAIMED), rows))
        # A step that reached nobody at all is recorded as undeliverable, not fired.
        if nobody := [s.id for s in steps if not done.names[s.id]]:
            await session.execute(update(EscalationStep).where(among(session, EscalationStep.id, nobody))
                                  .values(state=StepState.UNDELIVERABLE))
        await _record_gaps(session, done.unreached)
        return done

    async def prepare(self, now: datetime) -> int:
        """Render ahead the messages of steps due within ``prepare_seconds``, so that
        a burst of steps due in the same second costs a copy, not a render each.

        The text is rendered as of the step's planned time. A step that then fires
        more than PREPARED_FRESH late, or whose incident or department changed
        meanwhile (:func:`monitor.prepared.invalidate`), is rendered again at
        its firing. Returns how many steps were prepared.
        """
        horizon = timedelta(seconds=self.settings.prepare_seconds)
        if not horizon:
            return 0
        async with transaction(self.sessions) as session:
            await prepared.begin_preparing(session, now)
            steps = typed(StepRow, await session.execute(
                select(*STEP).where(EscalationStep.state == StepState.PLANNED, EscalationStep.prepared_at.is_(None),
                                    EscalationStep.planned_at > now, EscalationStep.planned_at <= now + horizon)
                .order_by(EscalationStep.planned_at).limit(self.batch).with_for_update(skip_locked=True)))
            if not steps:
                return 0
            directory = await self.load_directory(session, {s.incident_id for s in steps})
            rendered = [render_step(directory, step, step.planned_at, self.settings) for step in steps]
            # A step with a group that reaches nobody is left to be rendered when it
            # fires, which records the gap on the timeline (the copy could not).
            rows = [content for r in rendered if not r.unreached for content in r.content]
            await prepared.store(session, [s.id for s in steps], rows, now)
        log.info("steps_prepared", steps=len(steps), messages=len(rows), first=steps[0].planned_at.isoformat())
        return len(steps)


def fired_ahead(due: list[DueStep], now: datetime) -> list[DueStep]:
    """Of the steps due soon, those fired ahead: each one catch-up would fire at
    its planned time, alone in its obligation among ``due`` (with several,
    catch-up decides when they are due)."""
    groups = Counter(s.group for s in due if s.kind not in INCIDENT_NOTICES)
    return [s for s in due if s.planned_at > now and (s.kind in INCIDENT_NOTICES or groups[s.group] == 1)
            and select_due([s], s.planned_at)[0]]


def as_of(step: StepRow, now: datetime) -> datetime:
    """When a fired step counts as fired: now, or its planned time when fired ahead."""
    return max(now, step.planned_at)


def _not_held(now: datetime):  # noqa: ANN202 - an SQL condition
    """Steps of an obligation whose breach is stale and not yet recorded wait for it."""
    return or_(Obligation.id.is_(None), Obligation.state != ObligationState.PENDING,
               Obligation.due_at > now - FRESH_BREACH)


async def _due_steps(session: AsyncSession, now: datetime, limit: int, until: datetime) -> list[DueStep]:
    """The planned steps due by ``until`` (now, or the end of the firing-ahead window)."""
    head = set((await session.execute(
        select(EscalationStep.incident_id).outerjoin(Obligation, Obligation.id == EscalationStep.obligation_id)
        .where(EscalationStep.state == StepState.PLANNED, EscalationStep.planned_at <= until, _not_held(now))
        .order_by(EscalationStep.planned_at).limit(limit))).scalars())
    # Lock order (monitor/incidents.py): the incidents first, then their steps.
    head = await lock_incidents(session, head)
    if not head:
        return []
    # Every due step of those incidents, so that catch-up sees whole obligations
    # even where the batch limit cut through them.
    rows = await session.execute(
        select(EscalationStep.id, EscalationStep.incident_id, EscalationStep.obligation_key, EscalationStep.kind,
               EscalationStep.occurrence, EscalationStep.planned_at, Obligation.due_at)
        .outerjoin(Obligation, Obligation.id == EscalationStep.obligation_id)
        .where(EscalationStep.state == StepState.PLANNED, EscalationStep.planned_at <= until,
               among(session, EscalationStep.incident_id, head), _not_held(now))
        # Steps another replica is firing are skipped, not waited for.
        .order_by(EscalationStep.id).with_for_update(of=EscalationStep, skip_locked=True))
    return [DueStep(r.id, (r.incident_id, r.obligation_key), r.kind, r.occurrence, r.planned_at, r.due_at)
            for r in rows]


async def lock_incidents(session: AsyncSession, ids: set[int]) -> list[int]:
    """Lock these incidents' rows (as the API and the timeline do, FOR NO KEY
    UPDATE), in id order, skipping those another transaction holds: they are
    left for the next run, which its commit pokes. Returns the locked ids."""
    if not ids or not on_postgresql(session):
        return sorted(ids)
    return list((await session.execute(
        select(Incident.id).where(among(session, Incident.id, ids)).order_by(Incident.id)
        .with_for_update(key_share=True, skip_locked=True))).scalars())


async def _claim(session: AsyncSession, ids: list[int], state: StepState, now: datetime,
                 ahead: bool = False) -> list[StepRow]:
    """Move planned steps to ``state`` (``ahead``: as of their planned time); only
    the rows this UPDATE changed come back."""
    if not ids:
        return []
    when = {"fired_at": EscalationStep.planned_at, "late": False} if ahead else {
        "fired_at": now, "late": EscalationStep.planned_at < now - LATE_AFTER}
    return typed(StepRow, await session.execute(
        update(EscalationStep).where(among(session, EscalationStep.id, ids),
                                     checked(session, EscalationStep.state) == StepState.PLANNED)
        .values(state=state, **when).returning(*STEP)))


async def _record_gaps(session: AsyncSession, unreached: dict[int, list[str]]) -> None:
    """Keep on the step which groups reached nobody, so the gap is counted. A
    department without a deputy is common and no gap: the head was told."""
    gaps = [{"step": step_id, "groups": ",".join(serious)} for step_id, groups in unreached.items()
            if (serious := [g for g in groups if g != Recipient.DEPUTIES])]
    if gaps:
        await session.execute(update(EscalationStep.__table__).where(EscalationStep.id == bindparam("step"))
                              .values(unreached_groups=bindparam("groups")), gaps)


def _step_entries(skipped: list[StepRow], fired: list[StepRow], claimed: list[ClaimedNotification],
                  names: dict[int, list[str]], due: list[DueStep], now: datetime,
                  standing_in: dict[int, str] | None = None) -> list[dict]:
    deadlines = {s.id: s.deadline for s in due}
    entries = []
    for step in skipped:
        passed = step.kind in PRE_DEADLINE_KINDS and deadlines[step.id] is not None and deadlines[step.id] <= now
        entries.append(timeline.entry(step.incident_id, TimelineKind.STEP_SKIPPED, SCHEDULER, now,
                                      step=step.kind, obligation=step.obligation_key or None,
                                      occurrence=step.occurrence, planned_at=step.planned_at,
                                      why="its deadline has passed" if passed
                                      else "a later step of the same deadline was due"))
    sent_to: dict[int, list[ClaimedNotification]] = {}
    for row in claimed:
        sent_to.setdefault(row.step_id, []).append(row)
    for step in fired:
        rows = sent_to.get(step.id, [])
        recipients = names.get(step.id) or [row.recipient_name for row in rows]
        if not recipients:
            continue  # undeliverable: see _unreached_entries
        # The timeline names both the stand-in and the contact they stand in for (SPEC §14.3).
        pairs = sorted({(standing_in[r.contact_id], r.recipient_name) for r in rows
                        if standing_in and r.contact_id in standing_in})
        extra = {"stand_ins": [{"contact": absent, "standin": name} for absent, name in pairs]} if pairs else {}
        entries.append(timeline.entry(step.incident_id, TimelineKind.STEP_FIRED, SCHEDULER, as_of(step, now),
                                      step=step.kind, obligation=step.obligation_key or None,
                                      occurrence=step.occurrence, planned_at=step.planned_at, late=step.late,
                                      notifications=len(rows), recipients=sorted(set(recipients)), **extra))
        log.info("step_fired", incident_id=step.incident_id, obligation=step.obligation_key or None,
                 step=step.kind, occurrence=step.occurrence, late=step.late, notifications=len(rows),
                 prepared=step.id not in names)
    return entries


def _unreached_entries(fired: list[StepRow], unreached: dict[int, list[str]], names: dict[int, list[str]],
                       now: datetime) -> list[dict]:
    """A step whose recipient groups resolved to nobody says so on the timeline
    (and, with nobody at all, instead of step_fired): a gap is never silent."""
    entries = []
    for step in fired:
        if step.id not in unreached:
            continue
        entries.append(timeline.entry(step.incident_id, TimelineKind.STEP_UNDELIVERABLE, SCHEDULER, as_of(step, now),
                                      step=step.kind, obligation=step.obligation_key or None,
                                      occurrence=step.occurrence, planned_at=step.planned_at,
                                      groups=unreached[step.id], reached=sorted(set(names[step.id]))))
        log.error("step_undeliverable", incident_id=step.incident_id, obligation=step.obligation_key or None,
                  step=step.kind, occurrence=step.occurrence, groups=unreached[step.id],
                  nobody=not names[step.id])
    return entries
