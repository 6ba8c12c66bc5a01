"""What duty officers and department heads do to an incident (SPEC §4).

Each function runs inside the caller's transaction: a refused request leaves
nothing half-written behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, prepared, recurring, timeline, waivers
from monitor.actors import Actor
from monitor.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound
from monitor.models import Department, District, Incident, Obligation
from monitor.schemas import IncidentCreate, IncidentPatch, IncidentPublic, MilestoneCreate, ObligationPublic
from rules import RuleSet
from rules.deadlines import fulfilment_state
from rules.vocabulary import IncidentState, Severity, TimelineKind

FUTURE_TOLERANCE = timedelta(minutes=5)
MAJOR = (Severity.I, Severity.II)


_SHOWN = "sunclock.incidents.department_codes"
_PLANNED = "sunclock.incidents.planned"  # a new incident's obligations, as registration planned them


# Built once: building and keying this query cost as much as running it, at every registration.
_DEPARTMENT_BY_CODE = (select(Department, District.code).outerjoin(District, District.id == Department.district_id)
                       .where(func.upper(Department.code) == bindparam("code")))


async def department_by_code(session: AsyncSession, code: str, field: str = "department") -> Department:
    """The department, with its district's code read in the same query and kept
    for :func:`to_public` while the session lives."""
    found = (await session.execute(_DEPARTMENT_BY_CODE, {"code": code.upper()})).first()
    if found is None:
        raise Invalid(f"no department with code {code!r}; list them with `sunclock department list`", field=field,
                      code=ErrorCode.DEPARTMENT_UNKNOWN, params={"code": code})
    department, district = found
    session.info.setdefault(_SHOWN, {})[department.id] = (department.code, district or "default")
    return department


def _check_occurred_at(occurred_at: datetime, now: datetime) -> None:
    if occurred_at > now + FUTURE_TOLERANCE:
        raise Invalid("occurred_at lies more than 5 minutes in the future", field="occurred_at",
                      code=ErrorCode.OCCURRED_AT_FUTURE)


async def get_incident(session: AsyncSession, incident_id: int, *, for_update: bool = False) -> Incident:
    query = select(Incident).where(Incident.id == incident_id)
    if for_update:
        # The incident's row is the first lock of every change to it, in the API and
        # in the scheduler alike (then obligations, then steps by id): one order, so
        # that two of them wait for each other instead of deadlocking. NO KEY
        # UPDATE, as the timeline takes it: it does not block the foreign-key
        # checks of rows inserted for this incident meanwhile (a notification, a case).
        query = query.with_for_update(key_share=True)
    incident = (await session.exec(query)).scalars().first()
    if incident is None:
        raise NotFound(f"no incident {incident_id}", code=ErrorCode.INCIDENT_UNKNOWN,
                       params={"incident_id": incident_id})
    return incident


# Registered this long after it happened, an incident is a late registration:
# the form asks to confirm the time, and the timeline says so.
LATE_REGISTRATION = timedelta(hours=1)


async def register(session: AsyncSession, data: IncidentCreate, rules: RuleSet, now: datetime,
                   actor: Actor) -> Incident:
    department = await department_by_code(session, data.department)
    if not actor.in_district(department.id):
        raise Forbidden(f"department {department.code} is in another district than yours", field="department",
                        code=ErrorCode.DISTRICT_FORBIDDEN, params={"code": department.code})
    _check_occurred_at(data.occurred_at, now)
    incident = Incident(
        title=data.title, kind=data.kind, severity=data.severity, occurred_at=data.occurred_at, registered_at=now,
        department_id=department.id, description=data.description or None, location=data.location or None,
        registered_by=actor.name,
    )
    session.add(incident)
    await session.flush()
    assert incident.id is not None
    timeline.mark_new(session, incident.id)
    late_by = now - data.occurred_at
    late = {"late_registration": True, "late_by": int(late_by.total_seconds())} if late_by > LATE_REGISTRATION else {}
    await timeline.record(session, incident.id, TimelineKind.REGISTERED, actor.name, now, title=incident.title,
                          matter=incident.kind, severity=incident.severity, occurred_at=incident.occurred_at,
                          department=department.code, **late)
    planned = await planning.plan_incident(session, incident, rules, now, actor.name,
                                           notify=rules.applicable(incident.kind, incident.severity))
    session.info.setdefault(_PLANNED, {})[incident.id] = planned
    return incident


def _require_open(incident: Incident) -> None:
    if incident.state != IncidentState.OPEN:
        raise Conflict(f"incident {incident.id} is closed", code=ErrorCode.INCIDENT_CLOSED,
                       params={"incident_id": incident.id})


async def correct(session: AsyncSession, incident_id: int, patch: IncidentPatch, rules: RuleSet, now: datetime,
                  actor: Actor) -> Incident:
    """Start-time correction and severity change (SPEC §4.6), with a reason."""
    incident = await get_incident(session, incident_id, for_update=True)
    _require_open(incident)
    changes: dict[str, dict[str, object]] = {}
    if patch.occurred_at is not None and patch.occurred_at != incident.occurred_at:
        _check_occurred_at(patch.occurred_at, now)
        first_milestone = (await session.exec(select(func.min(Obligation.fulfilled_at)).where(
            Obligation.incident_id == incident.id))).scalar()
        if first_milestone is not None and patch.occurred_at > first_milestone:
            raise Invalid("occurred_at cannot be later than a milestone already recorded", field="occurred_at",
                          code=ErrorCode.OCCURRED_AT_AFTER_MILESTONE)
        changes["occurred_at"] = {"from": incident.occurred_at, "to": patch.occurred_at}
        incident.occurred_at = patch.occurred_at
    before = {rule.id for rule in rules.applicable(incident.kind, incident.severity)}
    if patch.severity is not None and patch.severity != incident.severity:
        changes["severity"] = {"from": incident.severity, "to": patch.severity}
        incident.severity = patch.severity
    if not changes:
        return incident
    assert incident.id is not None
    await timeline.record(session, incident.id, TimelineKind.CORRECTED, actor.name, now, reason=patch.reason, **changes)
    await prepared.invalidate(session, incident.id)  # messages prepared ahead show the old facts
    # Each rule is judged on its own (SPEC §4.6): one entering scope tells the
    # head about its deadlines, as registration would; one leaving it asks for
    # waivers of its unmet duties, which stay owed until a supervisor decides.
    applicable = rules.applicable(incident.kind, incident.severity)
    await planning.plan_incident(session, incident, rules, now, actor.name,
                                 notify=[rule for rule in applicable if rule.id not in before])
    # Occurrences of a series are anchored on milestones: a new start time
    # leaves them be; a rule back in scope takes its series up again.
    await recurring.continue_series(session, incident, rules, now, actor.name)
    left = {rule.id for rule in rules.rules} - {rule.id for rule in applicable}
    await waivers.request(session, incident, rules, now, actor.name, patch.reason, rule_ids=left)
    return incident


async def record_milestone(session: AsyncSession, incident_id: int, data: MilestoneCreate, now: datetime,
                           actor: Actor, *, rules: RuleSet) -> Obligation:
    incident = await get_incident(session, incident_id, for_update=True)
    obligation = (await session.exec(select(Obligation).where(
        Obligation.incident_id == incident_id, Obligation.key == data.obligation))).scalars().first()
    if obligation is None:
        raise Invalid(f"incident {incident_id} has no obligation {data.obligation!r}", field="obligation",
                      code=ErrorCode.OBLIGATION_UNKNOWN,
                      params={"incident_id": incident_id, "obligation": data.obligation})
    if obligation.fulfilled_at is not None:
        raise Conflict(f"{data.obligation} was already recorded at {obligation.fulfilled_at.isoformat()}",
                       code=ErrorCode.MILESTONE_RECORDED,
                       params={"obligation": data.obligation, "at": obligation.fulfilled_at.isoformat()})
    if obligation.state == planning.WAIVED:
        raise Conflict(f"{data.obligation} was waived; there is nothing to record", code=ErrorCode.OBLIGATION_WAIVED,
                       params={"obligation": data.obligation})
    if data.at > now:
        raise Invalid("a milestone cannot be in the future", field="at", code=ErrorCode.MILESTONE_FUTURE)
    if data.at < incident.occurred_at:
        raise Invalid("a milestone cannot come before the incident occurred", field="at",
                      code=ErrorCode.MILESTONE_BEFORE_OCCURRED)
    state = fulfilment_state(data.at, obligation.due_at)
    result = await session.execute(
        update(Obligation).where(Obligation.id == obligation.id, Obligation.fulfilled_at.is_(None))
        .values(state=state, fulfilled_at=data.at, evidence_url=data.evidence_url, note=data.note,
                recorded_at=now, recorded_by=actor.name))
    if result.rowcount != 1:
        raise Conflict(f"{data.obligation} was recorded by someone else a moment ago",
                       code=ErrorCode.MILESTONE_RECORDED_CONCURRENTLY, params={"obligation": data.obligation})
    await session.refresh(obligation)
    await planning.breach_of_late_fulfilment(session, incident, obligation)
    cancelled = await planning.cancel_steps(session, incident_id, obligation.key)
    await timeline.record(session, incident_id, TimelineKind.MILESTONE, actor.name, now, obligation=obligation.key,
                          fulfilled_at=data.at, state=state, evidence_url=data.evidence_url, note=data.note,
                          steps_cancelled=cancelled)
    # A publication starts or continues a keep-publishing series (SPEC §13.4).
    await recurring.continue_series(session, incident, rules, now, actor.name)
    return obligation


async def close(session: AsyncSession, incident_id: int, reason: str, rules: RuleSet, now: datetime,
                actor: Actor) -> Incident:
    """Close an incident. Its unmet duties are not discharged (SPEC §4.7): each
    gets a waiver request and keeps its clock until a supervisor decides."""
    incident = await get_incident(session, incident_id, for_update=True)
    _require_open(incident)
    incident.state, incident.closed_at, incident.close_reason = IncidentState.CLOSED, now, reason
    await timeline.record(session, incident_id, TimelineKind.CLOSED, actor.name, now, reason=reason)
    await recurring.end_series(session, incident, now, actor.name, reason)
    await waivers.request(session, incident, rules, now, actor.name, reason)
    return incident


async def _obligations_of(session: AsyncSession, ids: list[int | None]) -> dict[int, list[Obligation]]:
    """By incident, ordered by deadline. An incident inserted by this
    transaction has all its obligations in the session already: not read back."""
    obligations: dict[int, list[Obligation]] = {}
    planned = session.info.get(_PLANNED, {})
    if all(timeline.is_new(session, i) and i in planned for i in ids):
        for row in sorted((o for i in ids for o in planned[i]), key=lambda o: (o.due_at, o.id)):
            obligations.setdefault(row.incident_id, []).append(row)
        return obligations
    for row in (await session.exec(select(Obligation).where(Obligation.incident_id.in_(ids))
                                   .order_by(Obligation.due_at, Obligation.id))).scalars():
        obligations.setdefault(row.incident_id, []).append(row)
    return obligations


async def to_public(session: AsyncSession, incidents: list[Incident]) -> list[IncidentPublic]:
    """Incidents with their department code and obligations, in two queries."""
    if not incidents:
        return []
    obligations = await _obligations_of(session, [i.id for i in incidents])
    shown: dict[int, tuple[str, str]] = session.info.get(_SHOWN, {})
    wanted = {i.department_id for i in incidents} - set(shown)
    if wanted:
        shown = shown | {row.id: (row.code, row.district or "default") for row in (await session.execute(
            select(Department.id, Department.code, District.code.label("district"))
            .outerjoin(District, District.id == Department.district_id).where(Department.id.in_(wanted))))}
    return [
        IncidentPublic(
            **incident.model_dump(exclude={"department_id", "registered_by"}),
            department=shown[incident.department_id][0],
            district=shown[incident.department_id][1],
            obligations=[ObligationPublic.model_validate(o, from_attributes=True)
                         for o in obligations.get(incident.id, [])],
        )
        for incident in incidents
    ]
