"""The waiver requests shown on the cases page, where a supervisor decides them (SPEC §11.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import waivers
from monitor.actors import Actor
from monitor.models import Incident, Obligation
from monitor.pages import overview


@dataclass
class WaiverRequest:
    incident_id: int
    incident_title: str
    key: str
    title: str
    state: str
    due_at: datetime
    reason: str | None
    requested_by: str | None
    requested_at: datetime | None

    @property
    def form_id(self) -> str:
        return f"waiver-{self.incident_id}-{self.key}"


async def requested(session: AsyncSession, actor: Actor) -> list[WaiverRequest]:
    """Open waiver requests the actor may see, the nearest deadline first."""
    rows = (await session.execute(overview.visible(
        select(Obligation, Incident.title).join(Incident, Incident.id == Obligation.incident_id)
        .where(Obligation.waiver_state == waivers.REQUESTED, Obligation.state.in_(waivers.UNMET)), actor)
        .order_by(Obligation.due_at).limit(500))).all()
    return [WaiverRequest(o.incident_id, title, o.key, o.title, o.state, o.due_at, o.waiver_reason,
                          o.waiver_requested_by, o.waiver_requested_at) for o, title in rows]
