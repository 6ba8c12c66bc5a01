"""Page sessions live on the server (SPEC §12.2): a cookie copied from a browser
stops working at sign-out, after the 12-hour shift, and with a new password;
knowing the signing key alone makes no session."""

from __future__ import annotations

import hashlib

import pytest
from itsdangerous import URLSafeSerializer
from pages_support import count, page_client, post, sign_in, signed_in
from sqlalchemy import select

from monitor.auth import hash_password
from monitor.db import transaction
from monitor.models import User

PROTECTED = ("/", "/admin/users", "/admin/departments", "/outbox", "/cases")


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


def copy_of(pages) -> str:
    return pages.cookies["sunclock_session"]


async def reaches(pages, cookie: str, path: str = "/admin/users") -> bool:
    """Whether a request carrying only this cookie gets the page (not sent to sign in)."""
    pages.cookies.clear()
    pages.cookies.set("sunclock_session", cookie)
    response = await pages.get(path)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


async def user_named(runtime, name: str) -> User:
    async with runtime.sessions() as session:
        return (await session.exec(select(User).where(User.name == name))).scalars().one()


async def test_a_cookie_copied_before_sign_out_is_refused_after_it(pages):
    csrf = await signed_in(pages, "admin")
    copied = copy_of(pages)
    assert await reaches(pages, copied)
    assert (await post(pages, "/signout", csrf)).status_code == 303
    assert not await reaches(pages, copied)
    assert not await reaches(pages, copied, "/")


async def test_signing_out_ends_only_that_session(pages):
    await signed_in(pages, "admin")
    office = copy_of(pages)
    csrf = await signed_in(pages, "admin")  # the same person on a second computer
    await post(pages, "/signout", csrf)
    assert await reaches(pages, office)


async def test_a_copied_cookie_is_refused_once_the_twelve_hour_shift_is_over(pages, clock):
    await signed_in(pages, "admin")
    copied = copy_of(pages)
    clock.advance(hours=11, minutes=59)
    assert await reaches(pages, copied)
    clock.advance(minutes=1)
    assert not await reaches(pages, copied)


async def test_after_a_password_change_the_old_session_is_refused(pages, runtime):
    await signed_in(pages, "admin")
    copied = copy_of(pages)
    async with transaction(runtime.sessions) as session:
        admin = (await session.exec(select(User).where(User.name == "admin"))).scalars().one()
        admin.password_hash = hash_password("a-new-password")
    assert not await reaches(pages, copied)
    assert (await sign_in(pages, "admin", "a-new-password")).status_code == 303
    assert await reaches(pages, copy_of(pages))


async def test_a_switched_off_user_has_no_session(pages, runtime):
    await signed_in(pages, "duty")
    duty = copy_of(pages)
    csrf = await signed_in(pages, "admin")
    duty_id = (await user_named(runtime, "duty")).id
    assert (await post(pages, f"/admin/users/{duty_id}/active", csrf)).status_code == 303
    assert not await reaches(pages, duty, "/")


async def test_a_cookie_signed_with_the_real_key_but_no_session_behind_it_reaches_nothing(pages, runtime, clock):
    """If the key leaked, a cookie made with it still names no session on the server."""
    admin = await user_named(runtime, "admin")
    key = runtime.settings.signing_key
    old_style = URLSafeSerializer(key, salt="sunclock.pages.session.v1").dumps(
        {"u": admin.id, "p": hashlib.sha256(admin.password_hash.encode()).hexdigest()[:16], "c": "x",
         "i": int(clock.now().timestamp())})
    made_up = URLSafeSerializer(key, salt="sunclock.pages.session.v2").dumps({"s": "made-up-session", "c": "x"})
    for cookie in (old_style, made_up):
        for path in PROTECTED:
            assert not await reaches(pages, cookie, path)
        pages.cookies.set("sunclock_session", cookie)
        created = await post(pages, "/admin/users", "x", name="intruder", role="admin", password="intruder-2026")
        assert created.status_code == 303
    assert await count(runtime, User) == 5
