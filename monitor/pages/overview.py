"""What the board and the incident page read: incidents a person may see,
with their deadlines, latest message and acknowledgements, in few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import incidents
from monitor.actors import Actor
from monitor.auth import scoped, shown_address
from monitor.models import (
    Acknowledgement,
    Contact,
    Department,
    Incident,
    Notification,
    Obligation,
    TimelineEntry,
)
from monitor.schemas import IncidentPublic, ObligationPublic
from monitor.waivers import still_owed
from rules import RuleSet
from rules.schema import split_occurrence
from rules.vocabulary import UNMET, IncidentState, Recipient, Role, TimelineKind, WaiverState


@dataclass
class Ack:
    name: str
    at: datetime
    via: str


@dataclass
class IncidentView:
    incident: IncidentPublic
    department_name: str
    latest: Notification | None = None
    acks: list[Ack] = field(default_factory=list)
    # Steps whose recipient groups reached nobody: the latest of each step, with
    # its groups and whether anyone was reached at all (timeline step_undeliverable).
    unreached: list[dict] = field(default_factory=list)

    @property
    def next_due(self) -> datetime | None:
        return min((o.due_at for o in self.incident.obligations if o.state in UNMET), default=None)

    @property
    def next_update(self) -> ObligationPublic | None:
        """The occurrence of a keep-publishing series now owed (SPEC §13.4): the next update due."""
        return min((o for o in self.incident.obligations if o.state in UNMET and is_occurrence(o.key)),
                   key=lambda o: o.due_at, default=None)

    @property
    def deadlines(self) -> list[ObligationPublic]:
        """What the board lists: the obligations, without the occurrences of a
        series (the next update is shown on its own line)."""
        return [o for o in self.incident.obligations if not is_occurrence(o.key)]


def is_occurrence(key: str) -> bool:
    return split_occurrence(key)[1] is not None


def extendable(rules: RuleSet, incident: IncidentPublic) -> list[tuple[ObligationPublic, int]]:
    """Unmet deadlines whose rule allows the one extension, not yet used, with its limit (SPEC §13.3)."""
    found = []
    for o in incident.obligations:
        spec = rules.obligation(o.key)
        if (o.state in UNMET and o.extension is None and spec is not None and spec[1].extension is not None
                and not (o.waiver and o.waiver.state == WaiverState.REQUESTED)):
            found.append((o, spec[1].extension.max_working_days))
    return found


def visible(query: Select, actor: Actor, column: Any = Incident.department_id) -> Select:
    """A department head's queries see their own department only, a scoped user's their district's."""
    return scoped(query, actor, column)


def obligation_title(rules: RuleSet, key: str, fallback: str, lang: str) -> str:
    found = rules.obligation(key)
    if lang == "en" and found is not None and found[1].title_en:
        return found[1].title_en
    return fallback


async def acknowledgements(session: AsyncSession, incident_ids: list[int]) -> list[tuple[Acknowledgement, str]]:
    return list((await session.execute(
        select(Acknowledgement, Contact.name).join(Contact, Contact.id == Acknowledgement.contact_id)
        .where(Acknowledgement.incident_id.in_(incident_ids)).order_by(Acknowledgement.at))).all())


async def views(session: AsyncSession, found: list[Incident]) -> list[IncidentView]:
    if not found:
        return []
    ids = [i.id for i in found]
    public = await incidents.to_public(session, found)
    names = dict((await session.execute(select(Department.id, Department.name).where(
        Department.id.in_({i.department_id for i in found})))).all())
    latest_ids = select(func.max(Notification.id)).where(Notification.incident_id.in_(ids)).group_by(
        Notification.incident_id)
    latest = {n.incident_id: n for n in (await session.exec(
        select(Notification).where(Notification.id.in_(latest_ids)))).scalars()}
    acks: dict[int, list[Ack]] = {}
    for ack, name in await acknowledgements(session, ids):
        acks.setdefault(ack.incident_id, []).append(Ack(name, ack.at, ack.via))
    unreached = await _unreached(session, ids)
    return [IncidentView(p, names.get(i.department_id, p.department), latest.get(i.id), acks.get(i.id, []),
                         unreached.get(i.id, [])) for i, p in zip(found, public, strict=True)]


async def _unreached(session: AsyncSession, incident_ids: list[int]) -> dict[int, list[dict]]:
    """The gaps of each incident, newest first, one per step (a repeat keeps the
    newest). A department without deputies is common and its head is still
    told: that gap stays on the timeline only, not in red on the pages."""
    found: dict[int, dict[tuple, dict]] = {}
    for incident_id, detail in (await session.execute(
            select(TimelineEntry.incident_id, TimelineEntry.detail).where(
                TimelineEntry.incident_id.in_(incident_ids), TimelineEntry.kind == TimelineKind.STEP_UNDELIVERABLE)
            .order_by(TimelineEntry.id.desc()))).all():
        if detail.get("reached") and set(detail.get("groups", [])) <= {Recipient.DEPUTIES}:
            continue
        found.setdefault(incident_id, {}).setdefault((detail.get("obligation"), detail.get("step")), detail)
    return {incident_id: list(steps.values()) for incident_id, steps in found.items()}


async def board(session: AsyncSession, actor: Actor) -> list[IncidentView]:
    """Open incidents, and closed ones with a duty still owed (SPEC §11.3), the
    most urgent deadline first; those without one last."""
    owed = select(Obligation.id).where(Obligation.incident_id == Incident.id, still_owed()).exists()
    current = (Incident.state == IncidentState.OPEN) | owed
    found = list((await session.exec(visible(select(Incident).where(current), actor)
                                     .order_by(Incident.registered_at.desc()).limit(500))).scalars())
    result = await views(session, found)
    return sorted(result, key=lambda v: (v.next_due is None, v.next_due or v.incident.registered_at))


@dataclass
class MessageRow:
    notification: Notification
    acknowledged_at: datetime | None
    to: str  # the address as the reader may see it


async def messages(session: AsyncSession, incident_id: int, actor: Actor) -> list[MessageRow]:
    """Every message of an incident; acknowledged when its recipient confirmed that step."""
    rows = (await session.execute(
        select(Notification, Contact.department_id).join(Contact, Contact.id == Notification.contact_id)
        .where(Notification.incident_id == incident_id)
        .order_by(Notification.planned_at.desc(), Notification.id.desc()))).all()
    acked = {(a.step_id, a.contact_id): a.at for a, _ in await acknowledgements(session, [incident_id])}
    return [MessageRow(n, acked.get((n.step_id, n.contact_id)), shown_address(actor, department_id, n.to))
            for n, department_id in rows]


def own_contacts(query: Select, actor: Actor) -> Select:
    """Messages to a department head's own department's contacts only (a message
    carries its recipient's acknowledgement link). ``query`` selects notifications."""
    if actor.role != Role.DEPARTMENT_HEAD:
        return query
    return query.join(Contact, Contact.id == Notification.contact_id).where(
        Contact.department_id == actor.department_id)


async def timeline(session: AsyncSession, incident_id: int) -> list[TimelineEntry]:
    return list((await session.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                                    .order_by(TimelineEntry.id))).scalars())
