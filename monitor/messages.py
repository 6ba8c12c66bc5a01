"""Who a step goes to and what it says: recipients resolved from the
department's contacts, text rendered by the templates in ``alerts/``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.base import address_field
from alerts.render import DeadlineInfo, MessageContext, render
from monitor.acks import ack_url
from monitor.models import Contact, Department, EscalationStep, Incident, Obligation
from monitor.rows import StepRow
from monitor.settings import Settings
from monitor.standin_periods import StandInPeriod, stand_in_at, standin_periods
from rules.schema import read_channel_entry
from rules.vocabulary import DEFAULT_CHANNELS, Channel, ContactRole, ObligationState, Recipient, StepKind, WaiverState

# The columns of a rendered message (a notification's content, without its delivery state).
CONTENT = ("step_id", "incident_id", "obligation_key", "step", "contact_id", "recipient_name", "channel", "to",
           "planned_at", "subject", "body", "html")


@dataclass
class Directory:
    """Incidents, departments, contacts and obligations for a batch of steps,
    loaded once per batch rather than once per message."""

    incidents: dict[int, Incident]
    departments: dict[int, Department]
    contacts: dict[int, list[Contact]]
    supervisors: dict[int | None, list[Contact]]  # by district: its supervisory office's contacts (SPEC §14.1)
    obligations: dict[int, list[Obligation]]
    # By absent contact: their stand-ins' periods, and the stand-in (SPEC §14.3).
    standins: dict[int, list[StandInPeriod]] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, incident_ids: Iterable[int]) -> Directory:
        ids = set(incident_ids)
        incidents = {i.id: i for i in (await session.exec(select(Incident).where(Incident.id.in_(ids)))).scalars()}
        department_ids = {i.department_id for i in incidents.values()}
        departments = {d.id: d for d in (await session.exec(select(Department).where(
            (Department.id.in_(department_ids)) | Department.supervisory.is_(True)))).scalars()}
        contacts: dict[int, list[Contact]] = {}
        for c in (await session.exec(select(Contact).where(Contact.department_id.in_(departments.keys()),
                                                          Contact.retired_at.is_(None))
                                     .order_by(Contact.id))).scalars():
            contacts.setdefault(c.department_id, []).append(c)
        supervisors: dict[int | None, list[Contact]] = {}
        for d in sorted(departments.values(), key=lambda d: d.id):
            if d.supervisory:
                supervisors.setdefault(d.district_id, []).extend(contacts.get(d.id, []))
        obligations: dict[int, list[Obligation]] = {}
        for o in (await session.exec(select(Obligation).where(Obligation.incident_id.in_(ids))
                                     .order_by(Obligation.due_at))).scalars():
            obligations.setdefault(o.incident_id, []).append(o)
        standins = await standin_periods(session, [c.id for group in contacts.values() for c in group])
        return cls(incidents, departments, contacts, supervisors, obligations, standins)

    def recipients(self, incident: Incident, groups: Iterable[str],
                   channels: Iterable[str] = DEFAULT_CHANNELS) -> tuple[list[Contact], list[str]]:
        """The contacts of ``groups``, and the groups in which nobody has an
        address on any of ``channels`` (no supervisory office, nobody left in a
        role, a group no rule defines). A channel meant for some groups only
        ("voice:head", rules.schema.channel_entry) counts here as its channel;
        render_step sends it to those groups alone."""
        channels = [read_channel_entry(entry)[0] for entry in channels]
        own = self.contacts.get(incident.department_id, [])
        department = self.departments.get(incident.department_id)
        supervisors = self.supervisors.get(department.district_id if department else None, [])
        chosen: dict[int, Contact] = {}
        unreached = []
        for group in groups:
            members = {Recipient.HEAD: [c for c in own if c.role == ContactRole.HEAD],
                       Recipient.DEPUTIES: [c for c in own if c.role == ContactRole.DEPUTY],
                       Recipient.SUPERVISORS: supervisors}.get(group, [])
            reachable = [c for c in members if any(address(c, channel) for channel in channels)]
            if not reachable:
                unreached.append(group)
            chosen.update((c.id, c) for c in reachable)
        return list(chosen.values()), unreached

    def deadlines(self, incident_id: int, obligation_key: str, kind: str = "") -> tuple[DeadlineInfo, ...]:
        """The obligation a step is about; for an incident-wide notice, those it covers."""
        if kind == StepKind.WAIVER_REQUESTED:
            rows = [o for o in self.obligations.get(incident_id, []) if o.waiver_state == WaiverState.REQUESTED]
        else:
            rows = [o for o in self.obligations.get(incident_id, [])
                    if (o.key == obligation_key if obligation_key else o.state != ObligationState.WAIVED)]
        return tuple(DeadlineInfo(o.key, o.title, o.due_at, o.state, o.waiver_reason) for o in rows)

    def addressed(self, contacts: Iterable[Contact], channels: Iterable[str],
                  at: datetime) -> list[tuple[Contact, str]]:
        """Who is told on which channel at ``at``: a contact away for a period is
        replaced by their stand-in, and still gets the email (SPEC §14.3). One
        message per address and channel: a deputy standing in for the head and
        told as a deputy too gets one."""
        pairs: list[tuple[Contact, str]] = []
        for contact in contacts:
            standin = stand_in_at(self.standins.get(contact.id, ()), at)
            if standin is None:
                pairs += [(contact, channel) for channel in channels if address(contact, channel)]
                continue
            pairs += [(standin, channel) for channel in channels if address(standin, channel)]
            if Channel.EMAIL in channels and contact.email:
                pairs.append((contact, Channel.EMAIL))
        if not self.standins:
            return pairs
        seen: set[tuple[str, str | None]] = set()
        unique = []
        for contact, channel in pairs:
            if (channel, address(contact, channel)) not in seen:
                seen.add((channel, address(contact, channel)))
                unique.append((contact, channel))
        return unique


# How a batch's Directory is read: Directory.load, unless a test needs to step in.
DirectoryLoader = Callable[[AsyncSession, Iterable[int]], Awaitable[Directory]]


def address(contact: Contact, channel: str) -> str | None:
    return getattr(contact, address_field(channel))


def render_notification(directory: Directory, step: StepRow | EscalationStep, contact: Contact, channel: str,
                        now: datetime, settings: Settings) -> dict:
    """What one contact is told on one channel about a step, as of ``now``: the
    content columns of a notification (its delivery state is the caller's)."""
    incident = directory.incidents[step.incident_id]
    context = MessageContext(
        step=step.kind, occurrence=step.occurrence, incident_id=incident.id, incident_title=incident.title,
        severity=incident.severity, department_name=directory.departments[incident.department_id].name,
        occurred_at=incident.occurred_at, deadlines=directory.deadlines(incident.id, step.obligation_key, step.kind),
        now=now, ack_url=ack_url(settings.public_url, settings.signing_key, step.id, contact.id, now),
        recipient_name=contact.name, kind=incident.kind)
    rendered = render(context, channel, language=settings.language, timezone=settings.timezone)
    return {
        "step_id": step.id, "incident_id": step.incident_id, "obligation_key": step.obligation_key,
        "step": step.kind, "contact_id": contact.id, "recipient_name": contact.name, "channel": channel,
        "to": address(contact, channel), "planned_at": step.planned_at, "subject": rendered.subject,
        "body": rendered.body, "html": rendered.html,
    }


@dataclass
class Rendered:
    """A step's messages: its recipients, the content of a notification for each
    of them on each of the step's channels where they have an address, and the
    recipient groups that reached nobody."""

    contacts: list[Contact]
    content: list[dict]
    unreached: list[str]


def render_step(directory: Directory, step: StepRow, now: datetime, settings: Settings) -> Rendered:
    """A step's messages as of ``now``, the time it fires (or is prepared to fire):
    stand-ins are resolved for that moment. A channel meant for some groups only
    ("voice:head") goes to those groups' contacts alone."""
    incident = directory.incidents[step.incident_id]
    contacts, unreached = directory.recipients(incident, step.recipients, step.channels)
    pairs: list[tuple[Contact, str]] = []
    for entry in step.channels:
        channel, only = read_channel_entry(entry)
        if only is not None:
            chosen = {c.id for c in directory.recipients(incident, only)[0]}
            members = [c for c in contacts if c.id in chosen]
        else:
            members = contacts
        pairs += directory.addressed(members, [channel], now)
    pairs = list({(channel, address(contact, channel)): (contact, channel) for contact, channel in pairs}.values())
    told = list({contact.id: contact for contact, _ in pairs}.values())
    return Rendered(told, [render_notification(directory, step, contact, channel, now, settings)
                           for contact, channel in pairs], unreached)
