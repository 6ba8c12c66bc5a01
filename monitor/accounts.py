"""The account chores of an office (issue 19): change my password, an admin's
reset (a new password shown once), the list of users, and the sign-in audit log.

A password change ends the user's page sessions on its own: sessions are bound
to the password they were opened with (monitor/page_sessions.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import passwords
from monitor.auth import check_password, hash_password, user_named
from monitor.errors import ErrorCode, Invalid
from monitor.models import Department, SignInEvent, User
from rules.vocabulary import SignInOutcome

log = structlog.get_logger("sunclock.accounts")
EVENTS_SHOWN = 500


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """Check the rules and store the new password's hash. The caller commits."""
    passwords.check(password, user.name)
    # scrypt takes tens of milliseconds: off the event loop, so the scheduler keeps its second.
    user.password_hash = await asyncio.to_thread(hash_password, password)
    log.info("password_set", user=user.name)


async def change_own(session: AsyncSession, user: User, current: str, new: str, repeated: str) -> None:
    """A signed-in user changes their own password: the current one first."""
    if not await asyncio.to_thread(check_password, current, user.password_hash):
        raise Invalid("the current password is wrong", field="current", code=ErrorCode.PASSWORD_WRONG)
    if new != repeated:
        raise Invalid("the two new passwords differ", field="repeat", code=ErrorCode.PASSWORD_MISMATCH)
    await set_password(session, user, new)


async def reset(session: AsyncSession, name: str) -> str:
    """A new password for ``name``, generated to the rules and returned once. The caller commits."""
    user = await user_named(session, name)
    password = passwords.generate()
    await set_password(session, user, password)
    return password


class UserPublic(BaseModel):
    """A user as the user list shows it: in the API, on the users page and in ``sunclock user list``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "duty", "role": "duty_officer", "department": None, "active": True, "has_password": True,
         "created_at": "2026-11-28T02:00:00Z"}]})
    name: str
    role: str
    department: str | None
    active: bool
    has_password: bool
    created_at: datetime


async def users(session: AsyncSession) -> list[UserPublic]:
    found = (await session.execute(select(User, Department.code).outerjoin(
        Department, Department.id == User.department_id).order_by(User.name))).all()
    return [UserPublic(name=u.name, role=u.role, department=code, active=u.active,
                       has_password=u.password_hash is not None, created_at=u.created_at) for u, code in found]


def record_sign_in(session: AsyncSession, name: str, client: str, now: datetime, outcome: SignInOutcome) -> None:
    """One line of the sign-in audit log: who, when, from where, and how it ended. The caller commits."""
    session.add(SignInEvent(at=now, name=name[:64], client=client[:64], success=outcome == SignInOutcome.SUCCESS,
                            outcome=outcome))


async def sign_ins(session: AsyncSession, name: str = "", limit: int = EVENTS_SHOWN) -> list[SignInEvent]:
    query = select(SignInEvent).order_by(SignInEvent.id.desc()).limit(limit)
    if name:
        query = query.where(SignInEvent.name == name)
    return list((await session.exec(query)).scalars())
