"""Read-only board links for wall screens (issue 19).

A wall screen in the duty room shows the board day and night; a page session
ends after 12 hours and would turn it into the sign-in page unseen. A board
link is made by an admin, carries its own random token (only its hash is
stored), opens the board and nothing else, and works until it is revoked.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.auth import hash_token
from monitor.models import BoardLink

PREFIX = "sb_"
# last_seen_at is written at most this often: a board polls every 15 s.
SEEN_EVERY = timedelta(minutes=5)


async def create(session: AsyncSession, name: str, created_by: str, now: datetime) -> tuple[BoardLink, str]:
    """A new link and its token, which is shown once and never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    link = BoardLink(name=name, token_hash=hash_token(token), created_by=created_by, created_at=now)
    session.add(link)
    await session.flush()
    return link, token


async def find(session: AsyncSession, token: str, now: datetime) -> BoardLink | None:
    """The link a token opens, or None when it is unknown or revoked."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    link = (await session.exec(select(BoardLink).where(BoardLink.token_hash == hash_token(token)))).scalars().first()
    if link is None or link.revoked_at is not None:
        return None
    if link.last_seen_at is None or now - link.last_seen_at > SEEN_EVERY:
        await session.execute(update(BoardLink).where(BoardLink.id == link.id).values(last_seen_at=now))
        await session.commit()
    return link


async def listed(session: AsyncSession) -> list[BoardLink]:
    return list((await session.exec(select(BoardLink).order_by(BoardLink.id.desc()))).scalars())


async def revoke(session: AsyncSession, link_id: int, now: datetime) -> bool:
    result = await session.execute(update(BoardLink).where(BoardLink.id == link_id, BoardLink.revoked_at.is_(None))
                                   .values(revoked_at=now))
    return result.rowcount == 1
