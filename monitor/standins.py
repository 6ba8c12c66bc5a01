"""Stand-ins (代理, SPEC §14.3): while a head or deputy is away, the messages
meant for them go to the person standing in, for a period; the absent contact
still gets the email. Who is told is decided when a step fires
(monitor.standin_periods), so a message planned before the period and sent
during it goes to the stand-in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.masking import mask
from monitor import prepared
from monitor.actors import Actor
from monitor.auth import sees_contacts
from monitor.errors import ErrorCode, Forbidden, Invalid, InvalidValue, NotFound
from monitor.models import Contact, Department, StandIn
from monitor.schemas import Mobile, Reason, Text, UtcTime, _Body
from rules.vocabulary import ContactRole, Role

log = structlog.get_logger("sunclock.standins")


class StandInPerson(_Body):
    name: Annotated[Text, StringConstraints(max_length=100)]
    mobile: Mobile | None = None
    email: EmailStr | None = Field(default=None, max_length=254)

    @model_validator(mode="after")
    def _reachable(self) -> StandInPerson:
        if not self.mobile and not self.email:
            raise InvalidValue("a stand-in needs a mobile number or an email address",
                               code=ErrorCode.CONTACT_UNREACHABLE)
        return self


class StandInCreate(_Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    contact: Annotated[Text, StringConstraints(max_length=100)]  # the name of the absent contact
    standin: StandInPerson
    start: UtcTime = Field(alias="from")
    end: UtcTime = Field(alias="to")
    reason: Reason


class StandInPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    department: str
    contact: str
    standin: dict[str, str | None]
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    reason: str
    created_by: str
    created_at: datetime


async def department_named(session: AsyncSession, code: str, actor: Actor) -> Department:
    """The department of the address; another district's is as unknown as a missing one."""
    query = select(Department).where(func.upper(Department.code) == code.upper())
    found = (await session.exec(query)).scalars().first()
    if found is None or not actor.in_district(found.id):
        raise NotFound(f"no department {code!r}", code=ErrorCode.DEPARTMENT_UNKNOWN, params={"code": code})
    return found


def may_set(actor: Actor, department: Department) -> bool:
    """An admin (of the department's district, when scoped), or that department's head."""
    if actor.role == Role.ADMIN:
        return actor.in_district(department.id)
    return actor.role == Role.DEPARTMENT_HEAD and actor.department_id == department.id


async def create(session: AsyncSession, department: Department, body: StandInCreate, now: datetime,
                 actor: Actor) -> StandIn:
    """Record a stand-in period; the caller commits. 422 naming the field for an
    unknown contact, a reversed period or one overlapping another of the contact's."""
    if not may_set(actor, department):
        raise Forbidden("only an admin or the department's head may set a stand-in", code=ErrorCode.STANDIN_FORBIDDEN)
    contact = (await session.exec(select(Contact).where(
        Contact.department_id == department.id, Contact.name == body.contact, Contact.retired_at.is_(None),
        Contact.role.in_((ContactRole.HEAD, ContactRole.DEPUTY))).with_for_update())).scalars().first()
    if contact is None:
        raise Invalid(f"{department.code} has no contact named {body.contact!r}", field="contact",
                      code=ErrorCode.STANDIN_CONTACT_UNKNOWN, params={"contact": body.contact})
    if body.end <= body.start:
        raise Invalid("'to' must be after 'from'", field="to", code=ErrorCode.STANDIN_PERIOD_REVERSED)
    clash = (await session.exec(select(StandIn).where(
        StandIn.contact_id == contact.id, StandIn.starts_at < body.end,
        StandIn.ends_at > body.start))).scalars().first()
    if clash is not None:
        raise Invalid(f"{contact.name} has a stand-in from {clash.starts_at.isoformat()} to {clash.ends_at.isoformat()}"
                      " already; periods may not overlap", field="from", code=ErrorCode.STANDIN_OVERLAP,
                      params={"contact": contact.name, "start": clash.starts_at.isoformat(),
                              "end": clash.ends_at.isoformat()})
    # Retired from the start: a stand-in is nobody's head or deputy, and no roster lists them.
    person = Contact(department_id=department.id, name=body.standin.name, role=ContactRole.STANDIN,
                     mobile=body.standin.mobile, email=body.standin.email, retired_at=now)
    session.add(person)
    await session.flush()
    row = StandIn(department_id=department.id, contact_id=contact.id, standin_contact_id=person.id,
                  starts_at=body.start, ends_at=body.end, reason=body.reason, created_by=actor.name, created_at=now)
    session.add(row)
    await session.flush()
    # Messages prepared ahead name the absent contact.
    await prepared.invalidate(session)
    log.info("standin_set", department=department.code, contact=contact.name, standin=person.name,
             start=body.start.isoformat(), end=body.end.isoformat(), actor=actor.name)
    return row


async def list_public(session: AsyncSession, department: Department, actor: Actor) -> list[StandInPublic]:
    """The department's stand-in periods, latest first; addresses masked for whoever may not read them."""
    absent = Contact.__table__.alias("absent")
    rows = (await session.execute(
        select(StandIn, Contact, absent.c.name).join(Contact, Contact.id == StandIn.standin_contact_id)
        .join(absent, absent.c.id == StandIn.contact_id).where(StandIn.department_id == department.id)
        .order_by(StandIn.starts_at.desc(), StandIn.id.desc()))).all()
    open_ = sees_contacts(actor, department.id)

    def shown(value: str | None) -> str | None:
        return value if open_ or value is None else mask(value)

    return [StandInPublic(id=row.id, department=department.code, contact=absent_name,
                          standin={"name": person.name, "mobile": shown(person.mobile), "email": shown(person.email)},
                          start=row.starts_at, end=row.ends_at, reason=row.reason, created_by=row.created_by,
                          created_at=row.created_at) for row, person, absent_name in rows]
