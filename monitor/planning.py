"""Turning rules into stored obligations and escalation steps, and breaches.

Everything here runs inside the caller's transaction and takes ``now`` from
it, so a registration, a correction or the scheduler's sweep each plan, replan
or breach atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import prepared, timeline
from monitor.bulk import checked, insert_many
from monitor.models import AccountabilityCase, EscalationStep, Incident, Obligation
from rules import Rule, RuleSet
from rules.deadlines import (
    EXTENDED_ROUND,
    INCIDENT_WIDE,
    REGISTERED,
    Deadline,
    PlannedStep,
    deadline,
    extended_deadline,
    fulfilment_state,
    is_overdue,
    ladder_steps_at,
    overdue_steps,
    registered_step,
)
from rules.schema import Obligation as ObligationSpec
from rules.vocabulary import Decision, ObligationState, StepKind, StepState, TimelineKind, WaiverState

PENDING, MET, MET_LATE, BREACHED, WAIVED = (ObligationState.PENDING, ObligationState.MET, ObligationState.MET_LATE,
                                            ObligationState.BREACHED, ObligationState.WAIVED)
REQUESTED = WaiverState.REQUESTED
OVERDUE = StepKind.OVERDUE
PLANNED, CANCELLED = StepState.PLANNED, StepState.CANCELLED
# A step that is planned again when its deadline moves; fired and skipped ones stay as they were.
REPLANNABLE = (PLANNED, CANCELLED)

SCHEDULER = "scheduler"
_NEW_STEPS = "sunclock.planning.new_steps"
log = structlog.get_logger("sunclock.planning")


async def _upsert_steps(session: AsyncSession, incident_id: int, obligation_id: int | None,
                        planned: list[PlannedStep]) -> list[PlannedStep]:
    """Store ``planned``; steps already fired or skipped stay as they were."""
    if not planned:
        return []
    if timeline.is_new(session, incident_id):  # nothing stored yet: no look-up, a multi-row insert
        rows = [{"incident_id": incident_id, "obligation_id": obligation_id, "obligation_key": p.obligation_key,
                 "kind": p.kind, "occurrence": p.occurrence, "planned_at": p.planned_at, "recipients": list(p.to),
                 "channels": list(p.channels), "state": PLANNED, "fired_at": None, "late": False} for p in planned]
        if _NEW_STEPS in session.info:  # planning a new incident: all its steps at the end, together
            session.info[_NEW_STEPS].extend(rows)
        else:
            await insert_many(session, EscalationStep.__table__, rows)
        return list(planned)
    keys = {p.obligation_key for p in planned}
    existing = {(s.obligation_key, s.kind, s.occurrence): s for s in (await session.exec(select(EscalationStep).where(
        EscalationStep.incident_id == incident_id, EscalationStep.obligation_key.in_(keys)))).scalars()}
    changed = []
    for p in planned:
        row = existing.get((p.obligation_key, p.kind, p.occurrence))
        if row is None:
            session.add(EscalationStep(
                incident_id=incident_id, obligation_id=obligation_id, obligation_key=p.obligation_key,
                kind=p.kind, occurrence=p.occurrence, planned_at=p.planned_at,
                recipients=list(p.to), channels=list(p.channels)))
            changed.append(p)
        elif row.state in REPLANNABLE and (row.state != PLANNED or row.planned_at != p.planned_at):
            row.state, row.planned_at, row.prepared_at = PLANNED, p.planned_at, None
            row.recipients, row.channels = list(p.to), list(p.channels)
            changed.append(p)
    return changed


async def _insert_new_steps(session: AsyncSession, *, more: bool = False) -> None:
    """A new incident's steps planned so far, in one insert; ``more``: gather the next ones again."""
    rows = session.info.pop(_NEW_STEPS, None)
    if more and rows is not None:
        session.info[_NEW_STEPS] = []
    await insert_many(session, EscalationStep.__table__, rows or [])


async def cancel_steps(session: AsyncSession, incident_id: int, obligation_key: str | None = None,
                       kinds: tuple[str, ...] | None = None) -> int:
    query = update(EscalationStep).where(EscalationStep.incident_id == incident_id, EscalationStep.state == PLANNED)
    if obligation_key is not None:
        query = query.where(EscalationStep.obligation_key == obligation_key)
    if kinds is not None:
        query = query.where(EscalationStep.kind.in_(kinds))
    cancelled = list((await session.execute(query.values(state=CANCELLED).returning(EscalationStep.id))).scalars())
    if cancelled:
        await prepared.forget(session, cancelled)
    return len(cancelled)


def _summary(steps: list[PlannedStep]) -> list[dict]:
    return [{"obligation": s.obligation_key or None, "step": s.kind, "occurrence": s.occurrence,
             "at": s.planned_at.isoformat()} for s in steps]


async def plan_incident(session: AsyncSession, incident: Incident, rules: RuleSet, now: datetime,
                        actor: str, *, notify: Iterable[Rule] = ()) -> list[Obligation]:
    """Create or refresh the obligations and steps the rules give this incident.

    Each applicable rule is judged on its own; obligations of rules that no
    longer apply are handed to :func:`monitor.waivers.request` by the caller.
    This only adds, re-times and re-grades. Overdue obligations are breached at
    once, with the deadline as the breach time. ``notify``: rules whose
    incident-wide ``registered`` notice goes out now (registration, or a
    severity change into their scope).
    """
    assert incident.id is not None
    if new := timeline.is_new(session, incident.id):
        session.info[_NEW_STEPS] = []
    try:
        return await _plan_incident(session, incident, rules, now, actor, notify, new)
    finally:
        session.info.pop(_NEW_STEPS, None)


async def _plan_incident(session: AsyncSession, incident: Incident, rules: RuleSet, now: datetime, actor: str,
                         notify: Iterable[Rule], new: bool) -> list[Obligation]:
    assert incident.id is not None
    rows = {} if new else {o.key: o for o in (await session.exec(
        select(Obligation).where(Obligation.incident_id == incident.id))).scalars()}
    planned: list[PlannedStep] = await _plan_notices(session, incident.id, list(notify), now)
    applicable = [(rule, spec) for rule in rules.applicable(incident.kind, incident.severity)
                  for spec in rule.obligations]
    missing = [new_obligation(session, incident, rule, spec, incident.occurred_at, rules)
               for rule, spec in applicable if spec.key not in rows]
    if missing:
        await session.flush()  # all new obligations in one statement
        rows |= {row.key: row for row in missing}
    active: list[Obligation] = []
    for rule, spec in applicable:
        row = rows[spec.key]
        planned += await _plan_obligation(session, incident, rule, spec, row, rules, now, actor)
        active.append(row)
    await _insert_new_steps(session)
    if planned:
        await timeline.record(session, incident.id, TimelineKind.STEPS_PLANNED, actor, now, steps=_summary(planned))
    return active


async def _plan_notices(session: AsyncSession, incident_id: int, notify: list[Rule],
                        now: datetime) -> list[PlannedStep]:
    """The registered notice of the rules in ``notify``: one message at
    registration whatever the number of rules, and a new one for each later
    severity change that brings rules into scope."""
    notices = [n for rule in notify if (n := registered_step(rule, now)) is not None]
    if not notices:
        return []
    sent = 0 if timeline.is_new(session, incident_id) else (await session.execute(
        select(func.max(EscalationStep.occurrence)).where(
            EscalationStep.incident_id == incident_id, EscalationStep.obligation_key == INCIDENT_WIDE,
            EscalationStep.kind == REGISTERED))).scalar() or 0
    return await _upsert_steps(session, incident_id, None, [replace(notices[0], occurrence=sent + 1)])


async def add_obligation(session: AsyncSession, incident: Incident, rule: Rule, spec: ObligationSpec,
                         anchor: datetime, rules: RuleSet) -> Obligation:
    """A new obligation row, due ``spec.due`` after ``anchor``; the caller plans its steps."""
    row = new_obligation(session, incident, rule, spec, anchor, rules)
    await session.flush()
    return row


def new_obligation(session: AsyncSession, incident: Incident, rule: Rule, spec: ObligationSpec,
                   anchor: datetime, rules: RuleSet) -> Obligation:
    """The same, added to the session but not yet flushed: several go in one statement."""
    assert incident.id is not None
    counted = deadline(spec, anchor, rules.worktime)
    row = Obligation(incident_id=incident.id, rule_id=rule.id, key=spec.key, title=spec.title,
                     due_at=counted.at, calendar_incomplete=counted.calendar_incomplete)
    session.add(row)
    return row


async def replan_obligation(session: AsyncSession, incident: Incident, rule: Rule, spec: ObligationSpec,
                            row: Obligation, rules: RuleSet, now: datetime, actor: str, *,
                            anchor: datetime | None = None) -> None:
    """Plan one obligation on its own (an extension, an occurrence of a series),
    as a correction would: the same withdrawal of a breach, breach at once."""
    assert incident.id is not None
    planned = await _plan_obligation(session, incident, rule, spec, row, rules, now, actor, anchor=anchor)
    if planned:
        await timeline.record(session, incident.id, TimelineKind.STEPS_PLANNED, actor, now, steps=_summary(planned))


def _deadline(rule: Rule, spec: ObligationSpec, row: Obligation, anchor: datetime,
              rules: RuleSet) -> tuple[Deadline, list[PlannedStep]]:
    """The deadline and ladder of an obligation: ``spec.due`` after ``anchor``,
    or, once extended, that deadline moved on by the working days granted
    (SPEC §13.3), its ladder planned again as a second round."""
    if row.extended_working_days is None:
        counted = deadline(spec, anchor, rules.worktime)
        return counted, ladder_steps_at(rule, spec, counted.at, rules.worktime)
    extended = extended_deadline(spec, anchor, row.extended_working_days, rules.worktime)
    return extended, ladder_steps_at(rule, spec, extended.at, rules.worktime, EXTENDED_ROUND)


async def _plan_obligation(session: AsyncSession, incident: Incident, rule: Rule, spec: ObligationSpec,
                           row: Obligation, rules: RuleSet, now: datetime, actor: str, *,
                           anchor: datetime | None = None) -> list[PlannedStep]:
    """Bring one obligation in line with the incident's current start time
    (or ``anchor``: the previous publication, for an occurrence of a series)."""
    assert incident.id is not None
    counted, ladder = _deadline(rule, spec, row, anchor or incident.occurred_at, rules)
    due = counted.at
    moved = row.due_at != due
    row.due_at, row.calendar_incomplete = due, counted.calendar_incomplete
    if row.waiver_state == REQUESTED or row.state == WAIVED:
        await _back_in_scope(session, incident.id, row, now, actor)
    if row.state in (MET, MET_LATE):
        await _regrade(session, incident, row, now, actor)
        return []
    if row.state == BREACHED and not is_overdue(due, now):
        await _unbreach(session, incident, row, now, actor)
    if row.state == PENDING:
        planned = await _upsert_steps(session, incident.id, row.id, ladder)
        if is_overdue(due, now):
            await _insert_new_steps(session, more=True)  # a breach plans its overdue repeats after what is stored
            await breach(session, incident, row, rules, now, actor)
        return planned
    if row.state == BREACHED and moved:
        # Still overdue after the correction: the breach follows the deadline.
        row.breached_at = due
        await session.execute(update(AccountabilityCase).where(
            AccountabilityCase.incident_id == incident.id, AccountabilityCase.obligation_id == row.id)
            .values(breached_at=due))
        if await _case_pending(session, row):
            return await _upsert_steps(session, incident.id, row.id, overdue_steps(rule, spec, due, rules.worktime))
    return []


async def _back_in_scope(session: AsyncSession, incident_id: int, row: Obligation, now: datetime, actor: str) -> None:
    """A severity change brought a rule back into scope: the waiver requested
    (or granted) because the incident had left it no longer stands."""
    previous = row.waiver_state
    if row.state == WAIVED:
        row.state = BREACHED if row.breached_at is not None else PENDING
    row.waiver_state = None
    await timeline.record(session, incident_id, TimelineKind.WAIVER_LAPSED, actor, now, obligation=row.key,
                          waiver=previous)


async def _regrade(session: AsyncSession, incident: Incident, row: Obligation, now: datetime, actor: str) -> None:
    """A correction moved the deadline of a fulfilled obligation: it is graded
    again (SPEC §4.3). Late now: ``met_late``, with its breach and case. On time
    now: ``met``, and a breach recorded earlier is withdrawn, never erased."""
    assert incident.id is not None and row.fulfilled_at is not None
    state = fulfilment_state(row.fulfilled_at, row.due_at)
    if state == row.state and (state == MET or row.breached_at == row.due_at):
        return
    previous = row.state
    row.state = state
    if state == MET_LATE:
        row.breached_at = row.due_at
        await _open_or_reopen_cases(session, {incident.id: incident}, [row])
    else:
        await _withdraw_breach(session, incident.id, row, now, actor)
    if previous != state:
        await timeline.record(session, incident.id, TimelineKind.REGRADED, actor, now, obligation=row.key,
                              from_state=previous, to_state=state, due_at=row.due_at, fulfilled_at=row.fulfilled_at)


async def breach_of_late_fulfilment(session: AsyncSession, incident: Incident, obligation: Obligation) -> None:
    """A milestone recorded late for a deadline whose breach the scheduler had
    not yet recorded: the breach and its case exist all the same (SPEC §4.3)."""
    if obligation.state == MET_LATE and obligation.breached_at is None:
        obligation.breached_at = obligation.due_at
        await _open_or_reopen_cases(session, {incident.id: incident}, [obligation])


async def _case_pending(session: AsyncSession, obligation: Obligation) -> bool:
    decision = (await session.execute(select(AccountabilityCase.decision).where(
        AccountabilityCase.incident_id == obligation.incident_id,
        AccountabilityCase.obligation_id == obligation.id))).scalar()
    return decision in (None, Decision.PENDING)


async def _withdraw_breach(session: AsyncSession, incident_id: int, obligation: Obligation, now: datetime,
                           actor: str) -> None:
    previous = obligation.breached_at
    if previous is None:
        return
    obligation.breached_at = None
    await session.execute(update(AccountabilityCase).where(
        AccountabilityCase.incident_id == incident_id, AccountabilityCase.obligation_id == obligation.id)
        .values(breach_withdrawn=True))
    await timeline.record(session, incident_id, TimelineKind.BREACH_WITHDRAWN, actor, now, obligation=obligation.key,
                          breached_at=previous, due_at=obligation.due_at)


async def _unbreach(session: AsyncSession, incident: Incident, obligation: Obligation, now: datetime,
                    actor: str) -> None:
    """A correction moved a breached deadline back into the future.

    The obligation is pending again and its unsent overdue repeats are
    cancelled; its accountability case stays for the supervisor, marked
    ``breach_withdrawn`` (SPEC §11.4), and the breach counter does not go down.
    """
    assert incident.id is not None
    obligation.state = PENDING
    await cancel_steps(session, incident.id, obligation.key, kinds=(OVERDUE,))
    await _withdraw_breach(session, incident.id, obligation, now, actor)


async def breach(session: AsyncSession, incident: Incident, obligation: Obligation, rules: RuleSet,
                 now: datetime, actor: str = SCHEDULER) -> bool:
    return bool(await breach_many(session, {incident.id: incident}, [obligation], rules, now, actor))


async def breach_many(session: AsyncSession, incidents: dict[int, Incident], obligations: list[Obligation],
                      rules: RuleSet, now: datetime, actor: str = SCHEDULER) -> list[Obligation]:
    """Mark pending obligations breached at their deadlines, each exactly once.

    One conditional UPDATE decides which of them this replica wins; for those
    it opens the accountability cases and plans the overdue repeats, in a few
    statements however many deadlines pass in the same second.
    """
    by_id = {o.id: o for o in obligations}
    won = (await session.execute(
        update(Obligation).where(Obligation.id.in_(by_id), checked(session, Obligation.state) == PENDING)
        .values(state=BREACHED, breached_at=Obligation.due_at).returning(Obligation.id))).scalars().all()
    if not won:
        return []
    breached = [by_id[i] for i in won]
    for obligation in breached:  # the objects the caller holds say what the database now says
        set_committed_value(obligation, "state", BREACHED)
        set_committed_value(obligation, "breached_at", obligation.due_at)
    to_chase = await _open_or_reopen_cases(session, incidents, breached)
    await _plan_overdue(session, to_chase, rules)
    entries = []
    for o in breached:
        lag = (now - o.due_at).total_seconds()
        entries.append(timeline.entry(o.incident_id, TimelineKind.BREACHED, actor, now, obligation=o.key,
                                      due_at=o.due_at, breached_at=o.due_at, detected_late=lag > 1))
        log.warning("deadline_breached", incident_id=o.incident_id, obligation=o.key,
                    breached_at=o.due_at.isoformat(), detection_lag_seconds=round(lag, 3))
    await timeline.record_many(session, entries)
    return breached


async def _open_or_reopen_cases(session: AsyncSession, incidents: dict[int, Incident],
                                breached: list[Obligation]) -> list[Obligation]:
    """One case per obligation (SPEC §11.4): a new breach opens it, breaching
    again after a withdrawn breach reuses it. Returns the obligations whose case
    is still pending: their overdue repeats are to be planned."""
    ids = {o.id for o in breached}
    # By incident, which is indexed; obligation_id is not.
    existing = {c.obligation_id: c for c in (await session.exec(select(AccountabilityCase).where(
        AccountabilityCase.incident_id.in_({o.incident_id for o in breached})))).scalars() if c.obligation_id in ids}
    for obligation in breached:
        case = existing.get(obligation.id)
        if case is not None:
            case.breached_at, case.breach_withdrawn = obligation.breached_at, False
    await insert_many(session, AccountabilityCase.__table__, [
        {"incident_id": o.incident_id, "obligation_id": o.id, "department_id": incidents[o.incident_id].department_id,
         "breached_at": o.breached_at, "decision": Decision.PENDING, "reason": None, "decided_at": None,
         "decided_by": None, "breach_withdrawn": False}
        for o in breached if o.id not in existing])
    return [o for o in breached if o.id not in existing or existing[o.id].decision == Decision.PENDING]


async def _plan_overdue(session: AsyncSession, breached: list[Obligation], rules: RuleSet) -> None:
    """The overdue repeats of newly breached obligations. Rows left from an earlier
    breach that a correction withdrew are re-timed; the rest are inserted in bulk."""
    ids = {o.id for o in breached}
    # By incident, which is indexed (obligation_id is not: at 1.2 million steps
    # that would be a scan of the table for every batch of breaches).
    existing = {(s.obligation_id, s.occurrence): s for s in (await session.exec(select(EscalationStep).where(
        EscalationStep.incident_id.in_({o.incident_id for o in breached}), EscalationStep.kind == OVERDUE))).scalars()
        if s.obligation_id in ids}
    rows = []
    for obligation in breached:
        found = rules.obligation(obligation.key)
        if found is None:
            continue
        for step in overdue_steps(*found, obligation.due_at, rules.worktime):
            row = existing.get((obligation.id, step.occurrence))
            if row is None:
                rows.append({"incident_id": obligation.incident_id, "obligation_id": obligation.id,
                             "obligation_key": obligation.key, "kind": step.kind, "occurrence": step.occurrence,
                             "planned_at": step.planned_at, "recipients": list(step.to),
                             "channels": list(step.channels), "state": PLANNED, "fired_at": None, "late": False})
            elif row.state in REPLANNABLE:
                row.state, row.planned_at, row.prepared_at = PLANNED, step.planned_at, None
    await insert_many(session, EscalationStep.__table__, rows)
