"""Page sessions kept on the server (SPEC §12.2).

The cookie carries a random session id; the database keeps its hash, its user,
when it ends and a fingerprint of the user's password hash at sign-in. A
session counts only while its row exists, it has not expired, its user is
active and the password is the one it was opened with. Signing out and
revoking delete rows, so a copied cookie stops working with them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.models import PageSession, User

SESSION_HOURS = 12  # a long duty shift; then sign in again


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(user: User) -> str | None:
    """Of the password hash (salted, so never shared by two users); None without
    a password: such a user cannot sign in to the pages and has no session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest() if user.password_hash else None


async def open_session(session: AsyncSession, user: User, now: datetime) -> str:
    """A new session for ``user``; returns the id for the cookie. The caller commits."""
    mark = fingerprint(user)
    if mark is None:
        raise ValueError(f"user {user.name!r} has no password and cannot sign in to the pages")
    await session.execute(delete(PageSession).where(PageSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(PageSession(id_hash=_hash(session_id), user_id=user.id, created_at=now,
                            expires_at=now + timedelta(hours=SESSION_HOURS), password_fingerprint=mark))
    await session.flush()
    return session_id


async def user_of(session: AsyncSession, session_id: str, now: datetime) -> User | None:
    """The user signed in with this id, or None when the session does not count (any more)."""
    row = (await session.execute(select(PageSession, User).join(User, User.id == PageSession.user_id)
                                 .where(PageSession.id_hash == _hash(session_id)))).first()
    if row is None:
        return None
    stored, user = row
    if now >= stored.expires_at or not user.active or fingerprint(user) != stored.password_fingerprint:
        return None
    return user


async def close_session(session: AsyncSession, session_id: str) -> None:
    """Sign-out: the session ends on the server. The caller commits."""
    await session.execute(delete(PageSession).where(PageSession.id_hash == _hash(session_id)))


async def end_sessions_of(session: AsyncSession, user_id: int) -> int:
    """Every session of one user (revocation); how many there were. The caller commits."""
    result = await session.execute(delete(PageSession).where(PageSession.user_id == user_id))
    return result.rowcount
