"""Extending a deadline once (SPEC §13.3), e.g. a disclosure request's reply
by up to 20 more working days.

The new deadline is the end (23:59:59 local time) of the working day that
lies the given number of working days after the current deadline's day. The
obligation is then planned again exactly as a correction would plan it: a
breached deadline that now lies ahead has its breach withdrawn (its case
stays, SPEC §11.4), the ladder goes out again before the new deadline, and
one still past keeps its breach and its overdue repeats, moved to the new
deadline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, prepared, timeline
from monitor.errors import Conflict, ErrorCode, Invalid, NotFound
from monitor.incidents import get_incident
from monitor.models import Obligation
from rules import RuleSet
from rules.deadlines import extended_deadline
from rules.vocabulary import TimelineKind, WaiverState


async def _obligation(session: AsyncSession, incident_id: int, key: str) -> Obligation:
    obligation = (await session.exec(select(Obligation).where(
        Obligation.incident_id == incident_id, Obligation.key == key).with_for_update())).scalars().first()
    if obligation is None:
        raise NotFound(f"incident {incident_id} has no obligation {key!r}", code=ErrorCode.OBLIGATION_UNKNOWN,
                       params={"incident_id": incident_id, "obligation": key})
    return obligation


def _check(obligation: Obligation, allowed: int | None, working_days: int) -> None:
    """409 for what the obligation's history forbids, 422 for a bad number of days."""
    key = obligation.key
    if allowed is None:
        raise Conflict(f"the rule allows no extension of {key}", code=ErrorCode.EXTENSION_NOT_ALLOWED,
                       params={"obligation": key})
    if obligation.extended_working_days is not None:
        raise Conflict(f"{key} was extended once already, by {obligation.extended_working_days} working days",
                       code=ErrorCode.EXTENSION_USED, params={"obligation": key})
    if obligation.state in (planning.MET, planning.MET_LATE, planning.WAIVED):
        raise Conflict(f"{key} is already {obligation.state}; there is nothing to extend",
                       code=ErrorCode.OBLIGATION_SETTLED, params={"obligation": key, "state": obligation.state})
    if obligation.waiver_state == WaiverState.REQUESTED:
        raise Conflict(f"a waiver of {key} awaits a supervisor's decision", code=ErrorCode.EXTENSION_WAIVER_PENDING,
                       params={"obligation": key})
    if not 1 <= working_days <= allowed:
        raise Invalid(f"working_days must be between 1 and {allowed}", field="working_days",
                      code=ErrorCode.EXTENSION_TOO_LONG, params={"max": allowed})


async def extend(session: AsyncSession, incident_id: int, key: str, working_days: int, reason: str,
                 rules: RuleSet, now: datetime, actor: str) -> Obligation:
    """Extend one deadline by ``working_days`` working days, once. The caller commits."""
    incident = await get_incident(session, incident_id, for_update=True)
    obligation = await _obligation(session, incident_id, key)
    found = rules.obligation(key)
    allowed = found[1].extension.max_working_days if found is not None and found[1].extension else None
    _check(obligation, allowed, working_days)
    assert found is not None and incident.id is not None
    rule, spec = found
    old_due = obligation.due_at
    # Counted as planning counts it (rules.worktime), from the rule's deadline, never extended before.
    new = extended_deadline(spec, incident.occurred_at, working_days, rules.worktime)
    obligation.extended_working_days, obligation.extension_reason = working_days, reason
    obligation.extended_by, obligation.extended_at = actor, now
    # The steps still planned for the old deadline go; the ladder is planned
    # again for the new one, and a breach that no longer holds is withdrawn.
    cancelled = await planning.cancel_steps(session, incident.id, key)
    await prepared.invalidate(session, incident.id)  # prepared messages name the old deadline
    await timeline.record(session, incident.id, TimelineKind.EXTENDED, actor, now, obligation=key,
                          working_days=working_days, reason=reason, from_due_at=old_due, to_due_at=new.at,
                          calendar_incomplete=new.calendar_incomplete, steps_cancelled=cancelled)
    await planning.replan_obligation(session, incident, rule, spec, obligation, rules, now, actor)
    return obligation
