"""Accountability cases (问责): opened at each breach, decided once by a supervisor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, timeline
from monitor.actors import Actor
from monitor.errors import Conflict, ErrorCode, NotFound
from monitor.models import AccountabilityCase, Incident, Obligation
from monitor.schemas import CaseDecision
from rules.vocabulary import Decision, TimelineKind


async def decide(session: AsyncSession, case_id: int, body: CaseDecision, now: datetime,
                 actor: Actor) -> AccountabilityCase:
    """Record the decision; a case already decided stays as it was (409). The caller commits."""
    case = await session.get(AccountabilityCase, case_id)
    # Another district's case is as unknown to a scoped supervisor as a missing one.
    if case is None or not actor.in_district(case.department_id):
        raise NotFound(f"no case {case_id}", code=ErrorCode.CASE_UNKNOWN, params={"case_id": case_id})
    # The incident's row first, as every change to an incident (monitor/incidents.py).
    await session.execute(select(Incident.id).where(Incident.id == case.incident_id).with_for_update(key_share=True))
    won = await session.execute(
        update(AccountabilityCase)
        .where(AccountabilityCase.id == case_id, AccountabilityCase.decision == Decision.PENDING)
        .values(decision=body.decision, reason=body.reason, decided_at=now, decided_by=actor.name))
    if won.rowcount != 1:
        raise Conflict(f"case {case_id} was already decided", code=ErrorCode.CASE_DECIDED, params={"case_id": case_id})
    obligation = await session.get(Obligation, case.obligation_id)
    # Overdue repeats chase a breach until a supervisor has dealt with it (SPEC §11.3).
    stopped = await planning.cancel_steps(session, case.incident_id, obligation.key, kinds=(planning.OVERDUE,)) \
        if obligation else 0
    await timeline.record(session, case.incident_id, TimelineKind.CASE_DECIDED, actor.name, now, case_id=case_id,
                          obligation=obligation.key if obligation else None, decision=body.decision,
                          reason=body.reason, steps_cancelled=stopped)
    return case
