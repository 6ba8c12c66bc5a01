"""Who stands in for whom, when (SPEC §14.3): read by the messages at the time
a step fires, so that a message planned before a period and sent during it
goes to the stand-in. Its own module: the message rendering reads it, and the
service that sets periods (monitor.standins) depends on the rendering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.bulk import among
from monitor.models import Contact, StandIn


@dataclass(frozen=True)
class StandInPeriod:
    starts_at: datetime
    ends_at: datetime  # exclusive
    standin: Contact


def stand_in_at(periods: Iterable[StandInPeriod], at: datetime) -> Contact | None:
    """The stand-in whose period covers ``at`` (periods of one contact never overlap)."""
    return next((p.standin for p in periods if p.starts_at <= at < p.ends_at), None)


async def standin_periods(session: AsyncSession, contact_ids: list[int]) -> dict[int, list[StandInPeriod]]:
    """Every stand-in period of these contacts, by absent contact."""
    if not contact_ids or (await session.execute(select(StandIn.id).limit(1))).first() is None:
        return {}
    found: dict[int, list[StandInPeriod]] = {}
    for period, standin in (await session.execute(
            select(StandIn, Contact).join(Contact, Contact.id == StandIn.standin_contact_id)
            .where(among(session, StandIn.contact_id, contact_ids)))).all():
        found.setdefault(period.contact_id, []).append(StandInPeriod(period.starts_at, period.ends_at, standin))
    return found


async def boundary_between(session: AsyncSession, start: datetime, end: datetime) -> bool:
    """Whether a stand-in period starts or ends in (start, end]: messages prepared
    for ``start`` may then name the wrong person at ``end``."""
    if end <= start:
        return False
    return (await session.execute(select(StandIn.id).where(or_(
        (StandIn.starts_at > start) & (StandIn.starts_at <= end),
        (StandIn.ends_at > start) & (StandIn.ends_at <= end))).limit(1))).first() is not None


async def absent_names(session: AsyncSession, standin_contact_ids: set[int]) -> dict[int, str]:
    """For the stand-ins among these contacts, the name of the contact each stands in for."""
    # Most deployments have no stand-in at all: spare a burst's thousands of ids the trip.
    if not standin_contact_ids or (await session.execute(select(StandIn.id).limit(1))).first() is None:
        return {}
    return dict((await session.execute(
        select(StandIn.standin_contact_id, Contact.name).join(Contact, Contact.id == StandIn.contact_id)
        .where(among(session, StandIn.standin_contact_id, list(standin_contact_ids))))).all())
