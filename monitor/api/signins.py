"""Sign-in throttle, admin side: let a user whose name was being guessed in again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from monitor import throttle
from monitor.actors import Actor
from monitor.deps import SessionDep, allowed

router = APIRouter()


class Unlocked(BaseModel):
    name: str
    cleared: int  # throttle rows removed: the name's, and its clients' counts over all names


@router.post("/users/{name}/unlock", response_model=Unlocked, tags=["users"])
async def unlock(name: Annotated[str, Path(min_length=1, max_length=64)], session: SessionDep,
                 actor: Annotated[Actor, allowed("manage")]) -> Unlocked:
    """Forget the failed sign-ins of this user name, from every client."""
    cleared = await throttle.unlock(session, name)
    await session.commit()
    return Unlocked(name=name, cleared=cleared)
