"""Users, API tokens, passwords and what each role may do (SPEC §1, §6)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import structlog
from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.masking import mask
from monitor import districts, passwords
from monitor.actors import Actor
from monitor.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound
from monitor.incidents import department_by_code
from monitor.models import ApiToken, User
from monitor.page_sessions import end_sessions_of
from monitor.schemas import ROLES
from rules.vocabulary import Role

log = structlog.get_logger("sunclock.auth")

TOKEN_PREFIX = "sc_"
ADMIN_TOKEN_ACTOR = Actor(name="admin-token", role=Role.ADMIN)

# What each role may do; the API checks every route against this one table.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),
    "register": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "correct": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "close": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "milestone": frozenset({Role.DUTY_OFFICER, Role.DEPARTMENT_HEAD, Role.ADMIN}),
    "manage": frozenset({Role.ADMIN}),
    "cases": frozenset({Role.SUPERVISOR, Role.ADMIN, Role.DEPARTMENT_HEAD}),
    "decide": frozenset({Role.SUPERVISOR}),
    "waive": frozenset({Role.SUPERVISOR}),
    "extend": frozenset({Role.DUTY_OFFICER, Role.ADMIN}),
    "report": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "withdraw": frozenset({Role.SUPERVISOR}),  # a milestone recorded by mistake (issue 19)
    # and for their own department only (monitor.standins.may_set)
    "standin": frozenset({Role.ADMIN, Role.DEPARTMENT_HEAD}),
}


def may(actor: Actor, action: str) -> bool:
    return actor.role in PERMISSIONS[action]


def sees_department(actor: Actor, department_id: int) -> bool:
    """A department head sees and acts on their own department's incidents only,
    a user scoped to a district on that district's (SPEC §14.1)."""
    return actor.in_district(department_id) and (
        actor.role != Role.DEPARTMENT_HEAD or actor.department_id == department_id)


def sees_contacts(actor: Actor, department_id: int) -> bool:
    """A department head reads their own department's numbers and addresses only;
    the others' are listed without them, or masked where a message names one."""
    return sees_department(actor, department_id)


def scoped(query, actor: Actor, department_column):  # noqa: ANN001, ANN201 - a query in, the same narrowed out
    """``query`` narrowed to the departments ``actor`` sees: a head's own, a scoped user's district's."""
    if actor.role == Role.DEPARTMENT_HEAD:
        query = query.where(department_column == actor.department_id)
    if actor.district_departments is not None:
        query = query.where(department_column.in_(actor.district_departments or {-1}))
    return query


def shown_address(actor: Actor, department_id: int, address: str) -> str:
    """A message's ``to`` as this actor may read it."""
    return address if sees_contacts(actor, department_id) else mask(address)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$", 2)
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


async def create_user(session: AsyncSession, name: str, role: str, now: datetime, *, department: str | None = None,
                      password: str | None = None, district: str | None = None) -> tuple[User, str]:
    """A user and a fresh API token for them (the token is shown once, stored hashed)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Invalid("a user name has 1 to 64 characters", field="name", code=ErrorCode.USER_NAME_LENGTH)
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role", code=ErrorCode.ROLE_UNKNOWN,
                      params={"role": role, "roles": ", ".join(ROLES)})
    if role == Role.DEPARTMENT_HEAD and not department:
        raise Invalid("a department_head needs --department CODE", field="department",
                      code=ErrorCode.HEAD_NEEDS_DEPARTMENT)
    if password is not None:
        passwords.check(password, name)
    if (await session.exec(select(User).where(User.name == name))).scalars().first() is not None:
        raise Conflict(f"user {name!r} exists already", field="name", code=ErrorCode.USER_EXISTS, params={"name": name})
    found = await department_by_code(session, department) if department else None
    district_id = (await districts.by_code(session, district)).id if district else None
    if found is not None and district_id is not None and found.district_id != district_id:
        raise Invalid(f"department {found.code} is not in district {district}", field="department",
                      code=ErrorCode.DISTRICT_FORBIDDEN, params={"code": district})
    user = User(name=name, role=role, department_id=found.id if found else None, district_id=district_id,
                created_at=now,
                password_hash=hash_password(password) if password is not None else None)
    session.add(user)
    await session.flush()
    return user, issue_token(session, user, now)


def issue_token(session: AsyncSession, user: User, now: datetime) -> str:
    """A fresh API token for ``user``: shown once, stored hashed. The caller commits."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now))
    return token


async def user_named(session: AsyncSession, name: str) -> User:
    user = (await session.exec(select(User).where(User.name == name))).scalars().first()
    if user is None:
        raise NotFound(f"no user {name!r}", field="name", code=ErrorCode.USER_UNKNOWN, params={"name": name})
    return user


async def actor_for_token(session: AsyncSession, token: str, admin_token: str | None) -> Actor | None:
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return ADMIN_TOKEN_ACTOR
    row = (await session.execute(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), User.active.is_(True)))).scalars().first()
    return await districts.actor_for(session, row) if row is not None else None


async def revoke(session: AsyncSession, name: str, actor: Actor) -> tuple[int, int]:
    """End every API token and page session of the user ``name`` (SPEC §12.2): how many
    of each. The account stays: its password signs in again. The caller commits."""
    user = await user_named(session, name)
    if actor.district_id is not None and user.district_id != actor.district_id:
        raise Forbidden(f"user {name!r} is not of your district", field="name", code=ErrorCode.DISTRICT_FORBIDDEN,
                        params={"code": name})
    tokens = (await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))).rowcount
    sessions = await end_sessions_of(session, user.id)
    # Not on a timeline: those belong to incidents, and a revocation to none.
    log.info("user_revoked", user=user.name, actor=actor.name, tokens=tokens, sessions=sessions)
    return tokens, sessions
