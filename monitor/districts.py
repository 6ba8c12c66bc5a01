"""Districts (区/县, SPEC §14.1): one deployment serves a city, each department
belongs to one district, and users may be scoped to one.

A one-district install never names a district: everything it creates goes into
the built-in ``default``, created by migration 0009 (and again here, should a
database have lost it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.actors import Actor
from monitor.errors import Conflict, ErrorCode, Forbidden, Invalid
from monitor.models import DEFAULT_DISTRICT, Department, District, User
from monitor.schemas import Code, Text, _Body

DEFAULT_CODE = DEFAULT_DISTRICT
DEFAULT_NAME = "本辖区"


class DistrictCreate(_Body):
    code: Code
    name: Annotated[Text, StringConstraints(max_length=200)]


class DistrictPublic(BaseModel):
    code: str
    name: str
    departments: int = 0


async def default_district(session: AsyncSession, now: datetime) -> District:
    found = (await session.exec(select(District).where(District.code == DEFAULT_CODE))).scalars().first()
    if found is None:
        found = District(code=DEFAULT_CODE, name=DEFAULT_NAME, created_at=now)
        session.add(found)
        await session.flush()
    return found


async def by_code(session: AsyncSession, code: str, field: str = "district", where: str = "body") -> District:
    found = (await session.exec(select(District).where(func.upper(District.code) == code.upper()))).scalars().first()
    if found is None:
        raise Invalid(f"no district with code {code!r}; list them with `sunclock district list`", field=field,
                      where=where, code=ErrorCode.DISTRICT_UNKNOWN, params={"code": code})
    return found


async def resolve(session: AsyncSession, code: str | None, now: datetime, field: str = "district") -> District:
    """The district named by ``code``; ``default`` when none is named."""
    return await by_code(session, code, field) if code else await default_district(session, now)


async def create(session: AsyncSession, code: str, name: str, now: datetime) -> District:
    existing = (await session.exec(select(District).where(func.upper(District.code) == code.upper()))).scalars().first()
    if existing is not None:
        raise Conflict(f"district {existing.code} exists already", field="code", code=ErrorCode.DISTRICT_EXISTS,
                       params={"code": existing.code})
    district = District(code=code, name=name, created_at=now)
    session.add(district)
    await session.flush()
    return district


async def list_public(session: AsyncSession, actor: Actor | None = None) -> list[DistrictPublic]:
    counts = dict((await session.execute(
        select(Department.district_id, func.count()).group_by(Department.district_id))).all())
    query = select(District).order_by(District.id)
    if actor is not None and actor.district_id is not None:
        query = query.where(District.id == actor.district_id)
    return [DistrictPublic(code=d.code, name=d.name, departments=counts.get(d.id, 0))
            for d in (await session.exec(query)).scalars()]


async def codes(session: AsyncSession) -> dict[int, str]:
    """District codes by id."""
    return dict((await session.execute(select(District.id, District.code))).all())


async def department_districts(session: AsyncSession) -> dict[int, str]:
    """Each department's district code, by department id (``default`` where none is stored)."""
    rows = (await session.execute(select(Department.id, District.code)
                                  .outerjoin(District, District.id == Department.district_id))).all()
    return {department_id: code or DEFAULT_CODE for department_id, code in rows}


async def many(session: AsyncSession) -> bool:
    """More than one district: only then do pages name them."""
    return (await session.execute(select(func.count()).select_from(District))).scalar_one() > 1


async def actor_for(session: AsyncSession, user: User) -> Actor:
    """The actor a user acts as, with their district's departments when scoped."""
    departments = None
    if user.district_id is not None:
        departments = frozenset((await session.execute(
            select(Department.id).where(Department.district_id == user.district_id))).scalars())
    return Actor(name=user.name, role=user.role, department_id=user.department_id, district_id=user.district_id,
                 district_departments=departments)


def check_district(actor: Actor, district: District) -> None:
    """A scoped user acts on their own district only: naming another is refused (403)."""
    if actor.district_id is not None and actor.district_id != district.id:
        raise Forbidden(f"you act for another district than {district.code}", field="district",
                        code=ErrorCode.DISTRICT_FORBIDDEN, params={"code": district.code})


async def report_scope(session: AsyncSession, actor: Actor, code: str | None,
                       where: str = "query") -> District | None:
    """The district a report is asked for: ``code`` (422 if unknown, 403 for a
    scoped user naming another), else a scoped user's own, else all (None)."""
    if code:
        district = await by_code(session, code, where=where)
        check_district(actor, district)
        return district
    return await session.get(District, actor.district_id) if actor.district_id is not None else None
