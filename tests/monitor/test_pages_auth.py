"""Signing in to the pages: session cookie, CSRF, sign out, language (the throttle: test_signin_throttle)."""

from __future__ import annotations

import pytest
from pages_support import (
    PASSWORD,
    count,
    csrf_in,
    page_client,
    post,
    sign_in,
    signed_in,
)
from sqlalchemy import select

from monitor.auth import hash_password
from monitor.db import transaction
from monitor.models import Incident, User


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def test_a_stranger_is_sent_to_sign_in_and_comes_back_afterwards(pages):
    response = await pages.get("/incidents/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fincidents%2Fnew"
    form = await pages.get(response.headers["location"])
    assert 'name="next" value="/incidents/new"' in form.text
    signed = await pages.post("/signin", data={"csrf": csrf_in(form.text), "name": "duty", "password": PASSWORD,
                                               "next": "/incidents/new"})
    assert signed.status_code == 303 and signed.headers["location"] == "/incidents/new"


async def test_signing_in_sets_an_httponly_samesite_cookie_and_shows_the_board(pages):
    response = await sign_in(pages, "duty")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("sunclock_session=") and "httponly" in cookie and "samesite=lax" in cookie
    board = await pages.get("/")
    assert board.status_code == 200
    assert "值班看板" in board.text and "duty · 值班员" in board.text


async def test_a_wrong_password_or_unknown_name_gets_the_same_chinese_refusal(pages):
    wrong = await sign_in(pages, "duty", "not-the-password")
    unknown = await sign_in(pages, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码不正确。" in response.text
    assert (await pages.get("/")).status_code == 303


async def test_a_form_without_the_sessions_csrf_token_is_refused_and_writes_nothing(pages, runtime):
    csrf = await signed_in(pages, "duty")
    fields = {"title": "某地危化品泄漏", "severity": "I", "department": "EMB", "occurred_at": "2026-11-28T09:00"}
    for token in (None, "", csrf[:-2] + "xx"):
        data = fields | ({"csrf": token} if token is not None else {})
        response = await pages.post("/incidents/new", data=data)
        assert response.status_code == 403 and "表单已过期" in response.text
    assert await count(runtime, Incident) == 0
    assert (await post(pages, "/incidents/new", csrf, **fields)).status_code == 303


async def test_a_token_from_another_session_is_refused(pages, runtime):
    other = await pages.get("/signin")
    token_of_other_visitor = csrf_in(other.text)
    pages.cookies.clear()
    await signed_in(pages, "duty")
    response = await post(pages, "/incidents/new", token_of_other_visitor, title="x", severity="I",
                          department="EMB", occurred_at="2026-11-28T09:00")
    assert response.status_code == 403
    assert await count(runtime, Incident) == 0


async def test_signing_in_itself_needs_the_csrf_token(pages):
    await pages.get("/signin")
    response = await pages.post("/signin", data={"name": "duty", "password": PASSWORD})
    assert response.status_code == 403
    assert (await pages.get("/")).status_code == 303


async def test_a_tampered_cookie_is_no_session(pages):
    await signed_in(pages, "duty")
    value = pages.cookies["sunclock_session"]
    pages.cookies.clear()
    pages.cookies.set("sunclock_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert (await pages.get("/")).status_code == 303


async def test_sign_out_ends_the_session(pages):
    csrf = await signed_in(pages, "duty")
    response = await post(pages, "/signout", csrf)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    assert (await pages.get("/")).status_code == 303
    assert "您已退出登录" in (await pages.get(response.headers["location"])).text


async def test_a_session_ends_after_a_twelve_hour_shift(pages, clock):
    await signed_in(pages, "duty")
    clock.advance(hours=11, minutes=59)
    assert (await pages.get("/")).status_code == 200
    clock.advance(minutes=2)
    assert (await pages.get("/")).status_code == 303


async def test_sign_in_never_redirects_to_another_site(pages):
    form = await pages.get("/signin")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = await pages.post("/signin", data={"csrf": csrf_in(form.text), "name": "duty",
                                                     "password": PASSWORD, "next": target})
        assert response.headers["location"] == "/"
        pages.cookies.clear()
        form = await pages.get("/signin")


async def test_pages_speak_chinese_until_english_is_asked_for(pages):
    await signed_in(pages, "duty")
    assert "值班看板" in (await pages.get("/")).text
    english = await pages.get("/?lang=en")
    assert "<h1>Board</h1>" in english.text and 'lang="en"' in english.text
    assert "<h1>Outbox</h1>" in (await pages.get("/outbox")).text  # remembered in a cookie
    assert "<h1>发件箱</h1>" in (await pages.get("/outbox?lang=zh")).text


async def test_static_files_are_served(pages):
    css = await pages.get("/static/sunclock.css")
    js = await pages.get("/static/sunclock.js")
    assert css.status_code == js.status_code == 200
    assert ".countdown.overdue" in css.text and "data-server-now" in js.text


async def test_a_new_password_ends_sessions_signed_in_with_the_old_one(pages, runtime):
    await signed_in(pages, "duty")
    async with transaction(runtime.sessions) as session:
        user = (await session.exec(select(User).where(User.name == "duty"))).scalars().one()
        user.password_hash = hash_password("a-new-password")
    assert (await pages.get("/")).status_code == 303


async def test_a_form_posted_after_the_session_ended_leads_to_sign_in_and_writes_nothing(pages, runtime, clock):
    csrf = await signed_in(pages, "duty")
    clock.advance(hours=13)
    response = await post(pages, "/incidents/new", csrf, title="x", severity="I", department="EMB",
                          occurred_at="2026-11-28T22:00")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    assert await count(runtime, Incident) == 0
