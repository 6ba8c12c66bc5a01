"""``POST /api/v1/incidents/{id}/obligations/{key}/milestone/withdrawal``: a
supervisor withdraws a milestone recorded by mistake, with a reason (issue 19)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from monitor import incidents, withdrawals
from monitor.actors import Actor
from monitor.deps import ClockDep, Id, RuntimeDep, SessionDep, allowed, check_department
from monitor.schemas import MilestoneWithdrawal, ObligationPublic

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.post("/{incident_id}/obligations/{key}/milestone/withdrawal", response_model=ObligationPublic,
             summary="Withdraw a milestone recorded by mistake",
             responses={409: {"description": "No milestone of this obligation is recorded."}})
async def withdraw(incident_id: Id, key: str, body: MilestoneWithdrawal, session: SessionDep, runtime: RuntimeDep,
                   clock: ClockDep, actor: Annotated[Actor, allowed("withdraw")]) -> ObligationPublic:
    """Supervisors only. The milestone stays on the timeline, with the withdrawal and its reason; the
    obligation is owed again: `pending` with its steps planned anew, or `breached` at once (at its due
    time, reusing its accountability case) when the deadline has passed."""
    check_department(actor, (await incidents.get_incident(session, incident_id)).department_id)
    obligation = await withdrawals.withdraw_milestone(session, incident_id, key, body.reason, runtime.rules,
                                                      clock.now(), actor)
    result = ObligationPublic.model_validate(obligation, from_attributes=True)
    await session.commit()
    runtime.poke()
    return result
