"""Acknowledgements (签收): signed links that are single-purpose, expiring and
tamper-evident, and the one place an acknowledgement is recorded — by link or
by SMS reply. An acknowledgement never touches an obligation or a step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import timeline
from monitor.errors import ErrorCode
from monitor.models import Acknowledgement, Contact, EscalationStep, Incident, Notification, Obligation
from monitor.terms import STEP_KIND, chinese
from rules.vocabulary import NotificationState, TimelineKind

log = structlog.get_logger("sunclock.ack")

ACK_SALT = "sunclock.ack.v1"
ACK_VALID_SECONDS = 7 * 24 * 3600
# A link counts only if a message carrying it went out: signed is not enough.
SENT_STATES = (NotificationState.SENT, NotificationState.DELIVERED)


@dataclass(frozen=True)
class AckLink:
    step_id: int
    contact_id: int


class AckLinkInvalid(Exception):
    def __init__(self, reason: str, *, code: ErrorCode):
        super().__init__(reason)
        self.code = code
        self.params: dict[str, object] = {}

    @property
    def expired(self) -> bool:
        return self.code == ErrorCode.ACK_LINK_EXPIRED


class _ClockSigner(TimestampSigner):
    """Signs with the injected clock's time instead of reading the system clock."""

    def __init__(self, *args: object, now: int, **kwargs: object):
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return self._now


def _serializer(key: bytes, now: datetime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=ACK_SALT, signer=_ClockSigner,
                                  signer_kwargs={"now": int(now.timestamp())})


def make_token(key: bytes, step_id: int, contact_id: int, now: datetime) -> str:
    return _serializer(key, now).dumps([step_id, contact_id])


def read_token(key: bytes, token: str, now: datetime, *, max_age: int = ACK_VALID_SECONDS) -> AckLink:
    try:
        (step_id, contact_id), signed_at = _serializer(key, now).loads(token, return_timestamp=True)
        link = AckLink(int(step_id), int(contact_id))
    except (BadSignature, ValueError, TypeError) as exc:
        raise AckLinkInvalid("this acknowledgement link is not valid", code=ErrorCode.ACK_LINK_INVALID) from exc
    if (now - signed_at).total_seconds() > max_age:
        raise AckLinkInvalid("this acknowledgement link has expired", code=ErrorCode.ACK_LINK_EXPIRED)
    return link


_EPOCH = datetime.fromtimestamp(0, UTC)
_LINK = re.compile(r"/ack/([A-Za-z0-9_\-.]+)")


def links_in(key: bytes, text: str) -> set[AckLink]:
    """The (step, contact) pairs that the acknowledgement links in ``text`` were
    signed for, however old: what a message found in a provider's log was about.
    A link signed with another key is not counted."""
    found = set()
    for token in _LINK.findall(text):
        try:
            # No max_age: the age of a link does not matter here, so no clock either.
            step_id, contact_id = _serializer(key, _EPOCH).loads(token)
            found.add(AckLink(int(step_id), int(contact_id)))
        except (BadSignature, ValueError, TypeError):
            continue
    return found


def ack_url(public_url: str, key: bytes, step_id: int, contact_id: int, now: datetime) -> str:
    return f"{public_url}/ack/{make_token(key, step_id, contact_id, now)}"


STEP_LABELS = chinese(STEP_KIND)
REGISTERED_DUTY = "事件登记通知"


@dataclass
class AckTarget:
    step: EscalationStep
    contact: Contact
    incident: Incident
    duties: list[Obligation]  # the step's obligation, or every obligation for the registered notice
    notification_id: int | None = None  # the message the link came in, once checked


async def load_target(session: AsyncSession, step_id: int, contact_id: int) -> AckTarget | None:
    step = await session.get(EscalationStep, step_id)
    contact = await session.get(Contact, contact_id)
    incident = await session.get(Incident, step.incident_id) if step else None
    if step is None or contact is None or incident is None:
        return None
    query = select(Obligation).where(Obligation.incident_id == incident.id).order_by(Obligation.due_at)
    if step.obligation_id is not None:
        query = query.where(Obligation.id == step.obligation_id)
    return AckTarget(step, contact, incident, list((await session.exec(query)).scalars()))


async def sent_notification(session: AsyncSession, step_id: int, contact_id: int) -> int | None:
    """The first message of this step that went out to this contact (on any channel),
    or None when none did: then no genuine link for the pair exists."""
    return (await session.execute(select(Notification.id).where(
        Notification.step_id == step_id, Notification.contact_id == contact_id,
        Notification.state.in_(SENT_STATES)).order_by(Notification.id).limit(1))).scalar_one_or_none()


async def acknowledge(session: AsyncSession, target: AckTarget, via: str, now: datetime,
                      notification_id: int | None = None) -> Acknowledgement | None:
    """Record that the contact has seen the step; None when they already had.

    Shared by the link and the SMS reply, so both say the same on the timeline.
    The caller commits.
    """
    # Read-then-insert: two simultaneous confirmations could both pass this
    # check; a unique (step_id, contact_id) constraint would close that, and a
    # duplicate acknowledgement is harmless meanwhile.
    if await acknowledged_at(session, target) is not None:
        return None
    step, contact = target.step, target.contact
    ack = Acknowledgement(incident_id=target.incident.id, step_id=step.id, contact_id=contact.id,
                          notification_id=notification_id, via=via, at=now)
    session.add(ack)
    await timeline.record(session, target.incident.id, TimelineKind.ACKNOWLEDGED, contact.name[:64], now, via=via,
                          recipient=contact.name, step=step.kind, obligation=step.obligation_key or None)
    log.info("acknowledged", incident_id=target.incident.id, step=step.kind, contact_id=contact.id, via=via)
    return ack


async def acknowledged_at(session: AsyncSession, target: AckTarget) -> datetime | None:
    return (await session.execute(select(Acknowledgement.at).where(
        Acknowledgement.step_id == target.step.id, Acknowledgement.contact_id == target.contact.id)
        .order_by(Acknowledgement.at).limit(1))).scalar_one_or_none()

