"""Users: an admin revokes a user's API tokens and page sessions (SPEC §6, §12.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from monitor import auth
from monitor.actors import Actor
from monitor.deps import SessionDep, allowed

router = APIRouter(tags=["users"])


class Revoked(BaseModel):
    name: str
    tokens_revoked: int
    sessions_revoked: int


@router.post("/users/{name}/revoke", response_model=Revoked,
             responses={404: {"description": "no such user"}})
async def revoke_user(name: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00]+$")],
                      session: SessionDep,
                      actor: Annotated[Actor, allowed("manage")]) -> Revoked:
    """End every API token and page session of the user at once; their password still signs in."""
    tokens, sessions = await auth.revoke(session, name, actor)
    await session.commit()
    return Revoked(name=name, tokens_revoked=tokens, sessions_revoked=sessions)
