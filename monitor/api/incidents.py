"""Incidents: register, read, correct, record milestones, close, timeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select

from monitor import extension, incidents, waivers, withdrawals
from monitor.actors import Actor
from monitor.api.paging import LIST_RESPONSES, Window, paging
from monitor.auth import scoped
from monitor.deps import ClockDep, Id, RuntimeDep, SessionDep, allowed, check_department
from monitor.models import Incident, Obligation, TimelineEntry
from monitor.retry import retrying
from monitor.runtime import Runtime
from monitor.schemas import (
    CloseRequest,
    ExtensionRequest,
    IncidentCreate,
    IncidentPatch,
    IncidentPublic,
    MilestoneCreate,
    MilestoneWithdrawal,
    ObligationPublic,
    TimelineEntryPublic,
    WaiverDecision,
)
from rules.vocabulary import IncidentState, MatterKind

router = APIRouter(prefix="/incidents", tags=["incidents"])


async def _visible(session, incident_id: Id, actor: Actor) -> Incident:  # noqa: ANN001
    incident = await incidents.get_incident(session, incident_id)
    check_department(actor, incident.department_id, incident.id)
    return incident


async def _public(session, incident: Incident) -> IncidentPublic:  # noqa: ANN001
    return (await incidents.to_public(session, [incident]))[0]


async def _saved(session, runtime: Runtime, incident: Incident) -> IncidentPublic:  # noqa: ANN001
    """Commit a change to an incident and wake the scheduler: its steps may be due now."""
    result = await _public(session, incident)
    await session.commit()
    runtime.poke()
    return result


async def _changing(session, runtime: Runtime, change: Callable[[], Awaitable[Incident]]) -> IncidentPublic:  # noqa: ANN001
    """A change and its commit, run again from the start if it lost a deadlock
    with the scheduler or another request (monitor/retry.py)."""
    async def attempt() -> IncidentPublic:
        return await _saved(session, runtime, await change())
    return await retrying(attempt, where="api", metrics=runtime.metrics, before_retry=session.rollback)


async def _obligation_changing(session, runtime: Runtime,  # noqa: ANN001
                               change: Callable[[], Awaitable[Obligation]]) -> ObligationPublic:
    async def attempt() -> ObligationPublic:
        result = ObligationPublic.model_validate(await change(), from_attributes=True)
        await session.commit()
        runtime.poke()
        return result
    return await retrying(attempt, where="api", metrics=runtime.metrics, before_retry=session.rollback)


@router.post("", status_code=201, response_model=IncidentPublic)
async def register(body: IncidentCreate, session: SessionDep, runtime: RuntimeDep, clock: ClockDep,
                   actor: Annotated[Actor, allowed("register")]) -> IncidentPublic:
    return await _changing(session, runtime, lambda: incidents.register(session, body, runtime.rules, clock.now(),
                                                                        actor))


@router.get("", response_model=list[IncidentPublic], responses=LIST_RESPONSES)
async def list_incidents(session: SessionDep, actor: Annotated[Actor, allowed("read")],
                         window: Annotated[Window, paging(200)],
                         state: IncidentState | None = None,
                         kind: MatterKind | None = None) -> list[IncidentPublic]:
    query = select(Incident).order_by(Incident.registered_at.desc(), Incident.id.desc())
    if state is not None:
        query = query.where(Incident.state == state)
    if kind is not None:
        query = query.where(Incident.kind == kind)
    query = scoped(query, actor, Incident.department_id)
    return await incidents.to_public(session, await window.scalars(session, query))


@router.get("/{incident_id}", response_model=IncidentPublic)
async def show(incident_id: Id, session: SessionDep, actor: Annotated[Actor, allowed("read")]) -> IncidentPublic:
    return await _public(session, await _visible(session, incident_id, actor))


@router.patch("/{incident_id}", response_model=IncidentPublic)
async def correct(incident_id: Id, body: IncidentPatch, session: SessionDep, runtime: RuntimeDep, clock: ClockDep,
                  actor: Annotated[Actor, allowed("correct")]) -> IncidentPublic:
    await _visible(session, incident_id, actor)
    return await _changing(session, runtime, lambda: incidents.correct(session, incident_id, body, runtime.rules,
                                                                       clock.now(), actor))


@router.post("/{incident_id}/milestones", status_code=201, response_model=ObligationPublic)
async def milestone(incident_id: Id, body: MilestoneCreate, session: SessionDep, runtime: RuntimeDep,
                    clock: ClockDep, actor: Annotated[Actor, allowed("milestone")]) -> ObligationPublic:
    await _visible(session, incident_id, actor)
    return await _obligation_changing(session, runtime, lambda: incidents.record_milestone(
        session, incident_id, body, clock.now(), actor, rules=runtime.rules))


@router.post("/{incident_id}/close", response_model=IncidentPublic)
async def close(incident_id: Id, body: CloseRequest, session: SessionDep, runtime: RuntimeDep, clock: ClockDep,
                actor: Annotated[Actor, allowed("close")]) -> IncidentPublic:
    await _visible(session, incident_id, actor)
    return await _changing(session, runtime, lambda: incidents.close(session, incident_id, body.reason,
                                                                     runtime.rules, clock.now(), actor))


@router.post("/{incident_id}/obligations/{key}/waiver", response_model=ObligationPublic)
async def waiver(incident_id: Id, key: str, body: WaiverDecision, session: SessionDep, runtime: RuntimeDep,
                 clock: ClockDep, actor: Annotated[Actor, allowed("waive")]) -> ObligationPublic:
    """A supervisor grants or refuses the waiver of a duty (SPEC §11.2)."""
    await _visible(session, incident_id, actor)
    return await _obligation_changing(session, runtime, lambda: waivers.decide(
        session, incident_id, key, body.decision, body.reason, clock.now(), actor.name, runtime.rules))


@router.post("/{incident_id}/obligations/{key}/extension", response_model=ObligationPublic)
async def extend(incident_id: Id, key: str, body: ExtensionRequest, session: SessionDep, runtime: RuntimeDep,
                 clock: ClockDep, actor: Annotated[Actor, allowed("extend")]) -> ObligationPublic:
    """Extend a deadline once, by working days, with a reason (SPEC §13.3)."""
    await _visible(session, incident_id, actor)
    return await _obligation_changing(session, runtime, lambda: extension.extend(
        session, incident_id, key, body.working_days, body.reason, runtime.rules, clock.now(), actor.name))


@router.post("/{incident_id}/obligations/{key}/milestone/withdrawal", response_model=ObligationPublic,
             summary="Withdraw a milestone recorded by mistake",
             responses={409: {"description": "No milestone of this obligation is recorded."}})
async def withdraw(incident_id: Id, key: str, body: MilestoneWithdrawal, session: SessionDep, runtime: RuntimeDep,
                   clock: ClockDep, actor: Annotated[Actor, allowed("withdraw")]) -> ObligationPublic:
    """Supervisors only. The milestone stays on the timeline, with the withdrawal and its reason; the
    obligation is owed again: `pending` with its steps planned anew, or `breached` at once (at its due
    time, reusing its accountability case) when the deadline has passed."""
    await _visible(session, incident_id, actor)
    return await _obligation_changing(session, runtime, lambda: withdrawals.withdraw_milestone(
        session, incident_id, key, body.reason, runtime.rules, clock.now(), actor))


@router.get("/{incident_id}/timeline", response_model=list[TimelineEntryPublic], responses=LIST_RESPONSES)
async def incident_timeline(incident_id: Id, session: SessionDep, actor: Annotated[Actor, allowed("read")],
                            window: Annotated[Window, paging(1000)]) -> list[TimelineEntryPublic]:
    await _visible(session, incident_id, actor)
    rows = await window.scalars(session, select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                                .order_by(TimelineEntry.id))
    return [TimelineEntryPublic.model_validate(r, from_attributes=True) for r in rows]
