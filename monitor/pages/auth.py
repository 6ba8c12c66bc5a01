"""Signing in to the pages: a signed session cookie, a CSRF token on every
form, and a throttle on failed sign-ins.

The cookie holds ``{"s": session id or None, "c": CSRF token}``, signed with
``settings.signing_key``; whether the session still counts is asked of the
server on every request (monitor.page_sessions). Every visitor gets a cookie,
so the sign-in form carries a CSRF token too; signing in or out issues a fresh one.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import math
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from monitor import accounts, districts, page_sessions, throttle
from monitor.auth import check_password, hash_password
from monitor.deps import RuntimeDep, SessionDep
from monitor.models import User
from monitor.pages.forms import unstorable_field
from monitor.pages.i18n import LANGUAGES, translator
from monitor.pages.render import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Page,
    PageExit,
    PageRoute,
    redirect,
    refusal,
    render,
    sign_in_url,
)
from monitor.runtime import Runtime
from rules.vocabulary import SignInOutcome

SESSION_SALT = "sunclock.pages.session.v2"


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so that a wrong name takes as
    long as a wrong password. Made at the first sign-in, not at start-up (scrypt)."""
    return hash_password(secrets.token_hex(8))


router = APIRouter(route_class=PageRoute)


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=SESSION_SALT)


def _issue(page: Page, session_id: str | None) -> None:
    page.csrf = secrets.token_urlsafe(24)
    payload = {"s": session_id, "c": page.csrf}
    page.cookies[SESSION_COOKIE] = _serializer(page.runtime.settings.signing_key).dumps(payload)


def _read(runtime: Runtime, cookie: str | None) -> dict | None:
    if not cookie:
        return None
    try:
        data = _serializer(runtime.settings.signing_key).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    return data


def _session_id(runtime: Runtime, request: Request) -> str | None:
    data = _read(runtime, request.cookies.get(SESSION_COOKIE))
    return data["s"] if data is not None and isinstance(data.get("s"), str) else None


def _language(request: Request, runtime: Runtime) -> tuple[str, bool]:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked, True
    stored = request.cookies.get(LANG_COOKIE)
    return (stored if stored in LANGUAGES else runtime.settings.language), False


async def page_context(request: Request, runtime: RuntimeDep, session: SessionDep) -> Page:
    lang, switched = _language(request, runtime)
    page = Page(request=request, runtime=runtime, lang=lang, t=translator(lang), csrf="")
    if switched:
        page.cookies[LANG_COOKIE] = lang
    data = _read(runtime, request.cookies.get(SESSION_COOKIE))
    if data is None:
        _issue(page, None)
        return page
    page.csrf = data["c"]
    if isinstance(data.get("s"), str):
        user = await page_sessions.user_of(session, data["s"], runtime.clock.now())
        if user is None:
            _issue(page, None)
            return page
        page.user = user
        page.actor = await districts.actor_for(session, user)
    return page


AnyPage = Annotated[Page, Depends(page_context)]


async def signed_in(page: AnyPage) -> Page:
    if page.actor is None:
        raise PageExit(redirect(page, sign_in_url(page.request)))
    return page


SignedIn = Annotated[Page, Depends(signed_in)]


async def _check_csrf(page: Page) -> None:
    """Every form passes here first: its token, then text no database column could store."""
    form = await page.request.form()
    sent = form.get("csrf")
    had_session = page.request.cookies.get(SESSION_COOKIE) is not None
    if not had_session or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), page.csrf.encode()):
        raise PageExit(refusal(page, 403, "csrf.refused"))
    if (field := unstorable_field(form)) is not None:
        raise PageExit(render(page, "error.html", status=422, message=page.t("err.characters_in", field=field)))


async def posted(page: AnyPage) -> Page:
    """A form submitted by a signed-in user, with the CSRF token of their session.
    (Someone whose shift-long session ended is sent to sign in again first.)"""
    await signed_in(page)
    await _check_csrf(page)
    return page


Posted = Annotated[Page, Depends(posted)]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@router.get("/signin")
async def sign_in_form(page: AnyPage) -> Response:
    if page.actor is not None:
        return redirect(page, _safe_next(page.request.query_params.get("next")))
    return render(page, "signin.html", next=_safe_next(page.request.query_params.get("next")), name="", error=None)


@router.post("/signin")
async def sign_in(page: AnyPage, session: SessionDep) -> Response:
    await _check_csrf(page)
    form = await page.request.form()
    name, password = str(form.get("name") or "").strip()[:64], str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    client, now = throttle.client_of(page.request), page.runtime.clock.now()
    if (until := await throttle.blocked_until(session, name, client, now)) is not None:
        accounts.record_sign_in(session, name, client, now, SignInOutcome.THROTTLED)
        await session.commit()
        seconds = max(1, math.ceil((until - now).total_seconds()))
        response = render(page, "signin.html", status=429, next=target, name=name,
                          error=page.t("signin.locked", at=page.local(until, seconds=True), seconds=seconds))
        response.headers["Retry-After"] = str(seconds)
        return response
    user = (await session.exec(select(User).where(User.name == name))).scalars().first() if name else None
    # scrypt takes tens of milliseconds: off the event loop, so the scheduler keeps its second.
    # The dummy hash for an unknown name is made there too, at the first such sign-in.
    known = user is not None
    stored = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(lambda: check_password(password, stored if known else _dummy_hash()))
    good = matches and user is not None and user.active
    accounts.record_sign_in(session, name, client, now, SignInOutcome.SUCCESS if good else SignInOutcome.REFUSED)
    await throttle.record(session, name, client, now, success=good)  # commits, the audit line with it
    if not good:
        return render(page, "signin.html", status=401, next=target, name=name, error=page.t("signin.failed"))
    if (previous := _session_id(page.runtime, page.request)) is not None:
        await page_sessions.close_session(session, previous)
    session_id = await page_sessions.open_session(session, user, page.runtime.clock.now())
    await session.commit()
    _issue(page, session_id)
    return redirect(page, target)


@router.post("/signout")
async def sign_out(page: AnyPage, session: SessionDep) -> Response:
    await _check_csrf(page)
    if (session_id := _session_id(page.runtime, page.request)) is not None:
        await page_sessions.close_session(session, session_id)
        await session.commit()
    _issue(page, None)
    return redirect(page, "/signin?signed_out=1")
