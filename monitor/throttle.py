"""The sign-in throttle: failed sign-ins counted per (user name, client address).

A lock by name alone would let anyone lock the duty officers out during an
incident by typing their names; here a client's failures slow down that
client only. After ``FREE_FAILURES`` failures of one name from one client,
each further attempt from there waits twice as long as the last (2 s, 4 s,
… at most 5 minutes). A client's failures over all names count too (a
guesser trying many names), with more allowed, since an office shares one
address. Nothing sleeps: a blocked attempt is refused at once with the time
it may come back. The counts live in the database so every replica agrees,
and time comes from the injected clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import case, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from monitor.bulk import on_postgresql
from monitor.errors import ErrorCode, NotFound
from monitor.models import SignInFailure, User

log = structlog.get_logger("sunclock.signin")

FREE_FAILURES = 5  # of one name from one client
FREE_CLIENT_FAILURES = 20  # of any names from one client
MAX_WAIT = timedelta(minutes=5)
FORGET_AFTER = timedelta(hours=1)  # a client quiet this long starts from nothing again
ALL_NAMES = ""  # the ``name`` of a client's row over all names
PURGE_BATCH = 100
_T = SignInFailure.__table__.c


def client_of(request: Request) -> str:
    """The direct peer, or the client a trusted proxy named (``SUNCLOCK_TRUSTED_PROXIES``)."""
    return (request.client.host if request.client else "unknown")[:64]


def name_key(name: str) -> str:
    return name.strip().casefold()[:64]


def wait_after(failures: int, free: int = FREE_FAILURES) -> timedelta | None:
    """How long the next attempt must wait after this many failures in a row."""
    if failures < free:
        return None
    return min(timedelta(seconds=2 ** min(failures - free + 1, 16)), MAX_WAIT)


def _keys(name: str) -> list[tuple[str, int]]:
    keys = [(ALL_NAMES, FREE_CLIENT_FAILURES)]
    if key := name_key(name):
        keys.append((key, FREE_FAILURES))
    return keys


async def blocked_until(session: AsyncSession, name: str, client: str, now: datetime) -> datetime | None:
    """When this client may try this name again; None when it may now. A refused
    attempt is logged like a checked one, but not counted."""
    names = [key for key, _ in _keys(name)]
    until = (await session.execute(select(func.max(_T.blocked_until)).where(
        _T.client == client, _T.name.in_(names), _T.blocked_until > now))).scalar_one()
    if until is not None:
        log.info("signin", user=name, client=client, success=False, refused_until=until.isoformat())
    return until


async def _count_failure(session: AsyncSession, key: str, client: str, now: datetime) -> int:
    """One more failure (or the first after a quiet hour), counted in one statement
    so that two replicas failing at once both count."""
    insert = (postgresql.insert if on_postgresql(session) else sqlite.insert)(SignInFailure)
    statement = insert.values(name=key, client=client, failures=1, last_failed_at=now).on_conflict_do_update(
        index_elements=[_T.name, _T.client],
        set_={"failures": case((_T.last_failed_at < now - FORGET_AFTER, 1), else_=_T.failures + 1),
              "last_failed_at": now},
    ).returning(_T.failures)
    return (await session.execute(statement)).scalar_one()


async def record(session: AsyncSession, name: str, client: str, now: datetime, *, success: bool) -> None:
    """Log and count a sign-in attempt whose password was checked, and commit."""
    log.info("signin", user=name, client=client, success=success)
    if success:
        await session.execute(delete(SignInFailure).where(_T.name == name_key(name), _T.client == client))
        await session.commit()
        return
    fresh = False
    for key, free in _keys(name):
        failures = await _count_failure(session, key, client, now)
        fresh = fresh or failures == 1
        if (wait := wait_after(failures, free)) is not None:
            await session.execute(update(SignInFailure).where(_T.name == key, _T.client == client)
                                  .values(blocked_until=now + wait))
    if fresh:  # a new row: time to forget some long-quiet ones
        await _forget_quiet(session, now)
    await session.commit()


async def _forget_quiet(session: AsyncSession, now: datetime) -> None:
    """Last, and skipping rows another sign-in holds: it never waits, so two
    sign-ins on two replicas cannot wait for each other."""
    quiet = (select(_T.name, _T.client).where(_T.last_failed_at < now - FORGET_AFTER)
             .limit(PURGE_BATCH).with_for_update(skip_locked=True))
    await session.execute(delete(SignInFailure).where(tuple_(_T.name, _T.client).in_(quiet)))


async def unlock(session: AsyncSession, name: str) -> int:
    """Forget a user's failures, and the all-names count of the clients they came
    from, so that they can sign in at once. Returns the rows removed; the caller
    commits."""
    if (await session.execute(select(User.id).where(User.name == name))).first() is None:
        raise NotFound(f"no user {name!r}", field="name", code=ErrorCode.USER_UNKNOWN, params={"name": name})
    key = name_key(name)
    clients = list((await session.execute(select(_T.client).where(_T.name == key))).scalars())
    result = await session.execute(delete(SignInFailure).where(or_(
        _T.name == key, (_T.name == ALL_NAMES) & _T.client.in_(clients))))
    return result.rowcount


async def blocked_names(session: AsyncSession, now: datetime) -> dict[str, datetime]:
    """Names some client must wait for now, with the latest time it may try again."""
    rows = await session.execute(select(_T.name, func.max(_T.blocked_until)).where(
        _T.name != ALL_NAMES, _T.blocked_until > now).group_by(_T.name))
    return dict(rows.all())
