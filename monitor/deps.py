"""FastAPI dependencies as ``Annotated`` aliases, for the API and the pages alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.actors import Actor
from monitor.auth import actor_for_token, may, sees_department
from monitor.clock import Clock
from monitor.errors import ErrorCode, Forbidden, NotFound
from monitor.outage import is_connection_error
from monitor.runtime import Runtime

# Ids are database integers: anything outside that range is refused as a 422,
# not passed on to overflow the driver.
MAX_ID = 2_147_483_647
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]


async def get_runtime(request: Request) -> Runtime:  # async: a sync dependency runs in a thread
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_clock(runtime: RuntimeDep) -> Clock:
    return runtime.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    # Work not committed by the handler (an error, a refused request) is rolled
    # back when the session closes: nothing half-written stays.
    session = runtime.sessions()
    try:
        yield session
    finally:
        try:
            await session.close()
        except Exception as exc:
            # The database went away under this request (answered 503 already):
            # its dead connection has nothing left to roll back.
            if not is_connection_error(exc):
                raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_actor(request: Request, runtime: RuntimeDep, session: SessionDep) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    admin = runtime.settings.admin_token.get_secret_value() if runtime.settings.admin_token else None
    actor = await actor_for_token(session, token.strip(), admin)
    if actor is None:
        raise HTTPException(401, "this token is not valid", headers={"WWW-Authenticate": "Bearer"})
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def allowed(action: str):  # noqa: ANN201 - a dependency factory
    async def check(actor: CurrentActor) -> Actor:
        if not may(actor, action):
            raise Forbidden(f"the {actor.role} role may not {action}", code=ErrorCode.ROLE_FORBIDDEN,
                            params={"role": actor.role, "action": action})
        return actor

    return Depends(check)


def check_department(actor: Actor, department_id: int, incident_id: int | None = None) -> None:
    """403 for another department's incident; 404 for another district's, as if
    it did not exist, so that a scoped user learns nothing of the others' ids."""
    if incident_id is not None and not actor.in_district(department_id):
        raise NotFound(f"no incident {incident_id}", code=ErrorCode.INCIDENT_UNKNOWN,
                       params={"incident_id": incident_id})
    if not sees_department(actor, department_id):
        raise Forbidden("this incident belongs to another department", code=ErrorCode.INCIDENT_OTHER_DEPARTMENT)
