"""Withdrawing a milestone recorded by mistake (issue 19).

Only a supervisor may, with a reason. Nothing is deleted: the timeline keeps
the milestone that was recorded and gains a ``milestone_withdrawn`` entry with
what was withdrawn, by whom and why. The obligation is then owed again and
goes through the same planning as any unmet duty (monitor/planning.py): its
steps are planned anew, and if its deadline has passed it is breached at once
with the deadline as the breach time, its one accountability case reused.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, timeline
from monitor.actors import Actor
from monitor.errors import Conflict, ErrorCode, NotFound
from monitor.incidents import get_incident
from monitor.models import Obligation
from rules import RuleSet
from rules.vocabulary import ObligationState, TimelineKind

log = structlog.get_logger("sunclock.withdrawals")


async def withdraw_milestone(session: AsyncSession, incident_id: int, key: str, reason: str, rules: RuleSet,
                             now: datetime, actor: Actor) -> Obligation:
    """The obligation owed again, pending or breached by its due time. The caller commits."""
    incident = await get_incident(session, incident_id, for_update=True)
    obligation = (await session.exec(select(Obligation).where(
        Obligation.incident_id == incident_id, Obligation.key == key).with_for_update())).scalars().first()
    if obligation is None:
        raise NotFound(f"incident {incident_id} has no obligation {key!r}", code=ErrorCode.OBLIGATION_UNKNOWN,
                       params={"incident_id": incident_id, "obligation": key})
    if obligation.fulfilled_at is None or obligation.state not in (ObligationState.MET, ObligationState.MET_LATE):
        raise Conflict(f"no milestone of {key} is recorded; there is nothing to withdraw",
                       code=ErrorCode.MILESTONE_NOT_RECORDED, params={"obligation": key})
    withdrawn = {"fulfilled_at": obligation.fulfilled_at, "was": obligation.state,
                 "evidence_url": obligation.evidence_url, "note": obligation.note,
                 "recorded_by": obligation.recorded_by}
    # Pending first: planning then re-plans the ladder and, past the deadline,
    # breaches it as the scheduler would have (breached_at = due_at).
    obligation.state = ObligationState.PENDING
    obligation.fulfilled_at = obligation.evidence_url = obligation.note = None
    obligation.recorded_at = obligation.recorded_by = None
    obligation.breached_at = None
    await session.flush()
    await planning.plan_incident(session, incident, rules, now, actor.name)
    await timeline.record(session, incident_id, TimelineKind.MILESTONE_WITHDRAWN, actor.name, now,
                          obligation=key, reason=reason, state=obligation.state, **withdrawn)
    log.info("milestone_withdrawn", incident_id=incident_id, obligation=key, state=obligation.state)
    return obligation
