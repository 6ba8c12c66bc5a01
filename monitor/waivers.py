"""Waivers (SPEC §11): a legal duty is never cancelled by the people it binds.

Closing an incident, or a severity change that takes it out of a rule's scope,
only *requests* a waiver of each unmet obligation. The obligation keeps its
state and its clock (its steps still fire, it still breaches at ``due_at``)
until a supervisor grants or refuses the waiver; supervisors are told at once
by a ``waiver_requested`` message.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, recurring, timeline
from monitor.errors import Conflict, ErrorCode, Invalid, NotFound
from monitor.models import AccountabilityCase, EscalationStep, Incident, Obligation
from rules import RuleSet
from rules.deadlines import INCIDENT_WIDE, WAIVER_REQUESTED
from rules.schema import split_occurrence
from rules.vocabulary import DEFAULT_CHANNELS, UNMET, Decision, IncidentState, Recipient, TimelineKind, WaiverState

REQUESTED, GRANTED, REFUSED = WaiverState.REQUESTED, WaiverState.GRANTED, WaiverState.REFUSED
DECISIONS = (GRANTED, REFUSED)
_DECIDED = {GRANTED: TimelineKind.WAIVER_GRANTED, REFUSED: TimelineKind.WAIVER_REFUSED}


def still_owed() -> ColumnElement[bool]:
    """An obligation whose clock still matters to someone: unmet and, for a
    closed incident, not yet dealt with by a supervisor (SPEC §11.3). Such a
    duty keeps its incident on the board and in the countdown metric. Needs
    ``Incident`` joined."""
    decided = select(AccountabilityCase.id).where(AccountabilityCase.obligation_id == Obligation.id,
                                                  AccountabilityCase.decision != Decision.PENDING)
    return Obligation.state.in_(UNMET) & ((Incident.state == IncidentState.OPEN) | ~decided.exists())


async def request(session: AsyncSession, incident: Incident, rules: RuleSet, now: datetime, actor: str, reason: str,
                  *, rule_ids: Collection[str] | None = None) -> list[str]:
    """Ask for a waiver of each unmet obligation (of ``rule_ids``' rules, or all).

    Nothing is cancelled: the steps keep firing and a deadline still breaches
    until a supervisor decides. Returns the keys asked for."""
    assert incident.id is not None
    query = select(Obligation).where(Obligation.incident_id == incident.id, Obligation.state.in_(UNMET))
    if rule_ids is not None:
        query = query.where(Obligation.rule_id.in_(rule_ids))
    rows = [o for o in (await session.exec(query.order_by(Obligation.due_at))).scalars() if o.waiver_state != REQUESTED]
    for row in rows:
        row.waiver_state, row.waiver_reason = REQUESTED, reason
        row.waiver_requested_by, row.waiver_requested_at = actor, now
        row.waiver_decided_by = row.waiver_decided_at = row.waiver_decision_reason = None
    if not rows:
        return []
    keys = [o.key for o in rows]
    await timeline.record(session, incident.id, TimelineKind.WAIVER_REQUESTED, actor, now, obligations=keys,
                          reason=reason)
    await _tell_supervisors(session, incident.id, rows, rules, now)
    return keys


async def _tell_supervisors(session: AsyncSession, incident_id: int, rows: list[Obligation], rules: RuleSet,
                            now: datetime) -> None:
    """One message to the supervisors per request, covering every obligation in it."""
    found = rules.obligation(rows[0].key)
    channels = list(found[0].channels) if found is not None else list(DEFAULT_CHANNELS)
    asked = (await session.execute(select(func.max(EscalationStep.occurrence)).where(
        EscalationStep.incident_id == incident_id, EscalationStep.obligation_key == INCIDENT_WIDE,
        EscalationStep.kind == WAIVER_REQUESTED))).scalar() or 0
    session.add(EscalationStep(incident_id=incident_id, obligation_id=None, obligation_key=INCIDENT_WIDE,
                               kind=WAIVER_REQUESTED, occurrence=asked + 1, planned_at=now,
                               recipients=[Recipient.SUPERVISORS], channels=channels))


async def decide(session: AsyncSession, incident_id: int, key: str, decision: str, reason: str, now: datetime,
                 actor: str, rules: RuleSet | None = None) -> Obligation:
    """A supervisor grants or refuses a waiver (a grant needs no request).

    Granted: the obligation is ``waived`` and its remaining steps are cancelled;
    a breach already recorded stays on record with its case; a waived update of
    a keep-publishing series is followed by the next one (with ``rules``).
    Refused: the clock goes on as before. The caller commits."""
    if decision not in DECISIONS:
        raise Invalid(f"decision must be one of {', '.join(DECISIONS)}", field="decision",
                      code=ErrorCode.WAIVER_DECISION_UNKNOWN, params={"decisions": ", ".join(DECISIONS)})
    # The incident's row first, as every change to an incident (monitor/incidents.py).
    await session.execute(select(Incident.id).where(Incident.id == incident_id).with_for_update(key_share=True))
    obligation = (await session.exec(select(Obligation).where(
        Obligation.incident_id == incident_id, Obligation.key == key).with_for_update())).scalars().first()
    if obligation is None:
        raise NotFound(f"incident {incident_id} has no obligation {key!r}", code=ErrorCode.OBLIGATION_UNKNOWN,
                       params={"incident_id": incident_id, "obligation": key})
    if obligation.state not in UNMET:
        raise Conflict(f"{key} is already {obligation.state}; there is nothing to waive",
                       code=ErrorCode.OBLIGATION_SETTLED, params={"obligation": key, "state": obligation.state})
    if decision == REFUSED and obligation.waiver_state != REQUESTED:
        raise Conflict(f"no waiver of {key} was requested; there is nothing to refuse",
                       code=ErrorCode.WAIVER_NOT_REQUESTED, params={"obligation": key})
    obligation.waiver_state = decision
    obligation.waiver_decided_by, obligation.waiver_decided_at, obligation.waiver_decision_reason = actor, now, reason
    cancelled = 0
    if decision == GRANTED:
        if obligation.waiver_requested_at is None:
            obligation.waiver_requested_by, obligation.waiver_requested_at = actor, now
            obligation.waiver_reason = reason
        obligation.state = planning.WAIVED
        cancelled = await planning.cancel_steps(session, incident_id, key)
    await timeline.record(session, incident_id, _DECIDED[decision], actor, now, obligation=key, reason=reason,
                          steps_cancelled=cancelled)
    if decision == GRANTED and rules is not None and split_occurrence(key)[1] is not None:
        incident = (await session.exec(select(Incident).where(Incident.id == incident_id))).scalars().one()
        await recurring.continue_series(session, incident, rules, now, actor)
    return obligation
