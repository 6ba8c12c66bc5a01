"""Districts and stand-ins (SPEC §14)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from monitor import districts, standins
from monitor.actors import Actor
from monitor.api.paging import LIST_RESPONSES, Window, paging
from monitor.deps import ClockDep, SessionDep, allowed
from monitor.errors import ErrorCode, Forbidden
from monitor.schemas import Code

router = APIRouter()


@router.post("/districts", status_code=201, response_model=districts.DistrictPublic, tags=["districts"])
async def create_district(body: districts.DistrictCreate, session: SessionDep, clock: ClockDep,
                          actor: Annotated[Actor, allowed("manage")]) -> districts.DistrictPublic:
    """A new district; its departments are added with ``district`` set to its code.
    Only an admin of every district (not scoped to one) may add one."""
    if actor.district_id is not None:
        raise Forbidden("an admin scoped to a district may not add districts", field="district",
                        code=ErrorCode.DISTRICT_FORBIDDEN, params={"code": body.code})
    district = await districts.create(session, body.code, body.name, clock.now())
    await session.commit()
    return districts.DistrictPublic(code=district.code, name=district.name)


@router.get("/districts", response_model=list[districts.DistrictPublic], tags=["districts"],
            responses=LIST_RESPONSES)
async def list_districts(session: SessionDep, actor: Annotated[Actor, allowed("manage")],
                         window: Annotated[Window, paging(1000)]) -> list[districts.DistrictPublic]:
    """Every district with how many departments it has; an admin scoped to one sees that one."""
    return window.cut(await districts.list_public(session, actor))


DepartmentCode = Annotated[Code, Path()]


@router.post("/departments/{code}/standins", status_code=201, response_model=standins.StandInPublic,
             response_model_by_alias=True, tags=["departments"])
async def create_standin(code: DepartmentCode, body: standins.StandInCreate, session: SessionDep, clock: ClockDep,
                         actor: Annotated[Actor, allowed("standin")]) -> standins.StandInPublic:
    """While ``contact`` is away, from ``from`` to ``to``, their messages go to ``standin``;
    they still get the email. An admin or the department's head may set it."""
    department = await standins.department_named(session, code, actor)
    row = await standins.create(session, department, body, clock.now(), actor)
    await session.commit()
    return next(s for s in await standins.list_public(session, department, actor) if s.id == row.id)


@router.get("/departments/{code}/standins", response_model=list[standins.StandInPublic],
            response_model_by_alias=True, tags=["departments"], responses=LIST_RESPONSES)
async def list_standins(code: DepartmentCode, session: SessionDep, actor: Annotated[Actor, allowed("read")],
                        window: Annotated[Window, paging(1000)]) -> list[standins.StandInPublic]:
    """The department's stand-in periods, latest first."""
    department = await standins.department_named(session, code, actor)
    return window.cut(await standins.list_public(session, department, actor))
