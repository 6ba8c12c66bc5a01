"""Working-day deadlines counted again once the calendar reaches further.

A deadline counted past the calendar's last year is counted on weekends alone
and flagged ``calendar_incomplete`` (SPEC §13.2). When an admin drops in the
next year's file and restarts, the open incidents holding such deadlines are
planned again on the new calendar, at start-up, so the flag does not outlive
the missing year.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Select, select, true
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning
from monitor.bulk import checked
from monitor.models import Incident, Obligation
from rules import RuleSet
from rules.vocabulary import IncidentState

log = structlog.get_logger("sunclock.recount")
STILL_RUNNING = (planning.PENDING, planning.BREACHED)


async def recount_incomplete(session: AsyncSession, rules: RuleSet, now: datetime) -> int:
    """Plan again the open incidents with a flagged deadline still running;
    returns how many deadlines are no longer flagged."""
    # Locked, so that replicas starting together plan each incident once.
    incidents = list((await session.exec(flagged_incidents(session).with_for_update())).scalars())
    if not incidents:
        return 0
    before = sum(await _flags(session, [i.id for i in incidents]))
    for incident in incidents:
        await planning.plan_incident(session, incident, rules, now, planning.SCHEDULER)
    await session.flush()
    recounted = before - sum(await _flags(session, [i.id for i in incidents]))
    log.info("deadlines_recounted", incidents=len(incidents), no_longer_incomplete=recounted)
    return recounted


def flagged_incidents(session: AsyncSession) -> Select:
    """The open incidents with a flagged deadline still running, found by the
    partial index on flagged deadlines (written as its condition is): a start
    at 100,000 open incidents reads none of the others (0.1 s on SQLite otherwise)."""
    flagged = select(Obligation.incident_id).where(Obligation.calendar_incomplete == true(),
                                                   checked(session, Obligation.state).in_(STILL_RUNNING))
    return select(Incident).where(Incident.id.in_(flagged), checked(session, Incident.state) == IncidentState.OPEN) \
        .order_by(Incident.id)


async def _flags(session: AsyncSession, incident_ids: list[int | None]) -> list[bool]:
    return list((await session.execute(select(Obligation.calendar_incomplete).where(
        Obligation.incident_id.in_(incident_ids), Obligation.state.in_(STILL_RUNNING)))).scalars())
