"""Account chores over the API (issue 19): the users, an admin's password reset
(the new password in the answer, once) and the sign-in audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from monitor import accounts
from monitor.actors import Actor
from monitor.deps import SessionDep, allowed

router = APIRouter(tags=["users"])
UserName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]


class PasswordReset(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "duty", "password": "7Yfk-3Cwm-JWpg-muqC"}]})
    name: str
    password: str  # shown once; stored only as a hash


class SignInEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [
        {"at": "2026-11-28T02:00:00Z", "name": "duty", "client": "10.0.0.7", "success": False,
         "outcome": "refused"}]})
    at: datetime
    name: str
    client: str
    success: bool
    outcome: str  # a SignInOutcome


@router.get("/users", response_model=list[accounts.UserPublic])
async def users(session: SessionDep, actor: Annotated[Actor, allowed("manage")]) -> list[accounts.UserPublic]:
    """Every user, by name (admins)."""
    return await accounts.users(session)


@router.post("/users/{name}/password", response_model=PasswordReset, responses={404: {"description": "no such user"}})
async def reset_password(name: UserName, session: SessionDep,
                         actor: Annotated[Actor, allowed("manage")]) -> PasswordReset:
    """A new page password for the user, generated to the password rules and returned this once; the old
    password and the user's page sessions stop working."""
    password = await accounts.reset(session, name)
    await session.commit()
    return PasswordReset(name=name, password=password)


@router.get("/signins", response_model=list[SignInEventPublic])
async def sign_ins(session: SessionDep, actor: Annotated[Actor, allowed("manage")],
                   name: Annotated[str, Query(max_length=64, description="Only this user name's attempts")] = "",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[SignInEventPublic]:
    """The sign-in audit log, newest first: who tried, when, from where, and how it ended."""
    return [SignInEventPublic.model_validate(e) for e in await accounts.sign_ins(session, name, limit)]
