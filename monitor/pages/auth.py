"""Signing in to the pages: a signed session cookie, a CSRF token on every
form, and a throttle on failed sign-ins.

The cookie holds ``{"u": user id or None, "p": password fingerprint, "c": CSRF
token, "i": issued at}``, signed with ``settings.signing_key``. Every visitor gets one, so the sign-in
form carries a CSRF token too; signing in or out issues a fresh one.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from monitor.api.deps import RuntimeDep, SessionDep
from monitor.auth import check_password, hash_password
from monitor.clock import Clock
from monitor.incidents import Actor
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

SESSION_SALT = "sunclock.pages.session.v1"
SESSION_HOURS = 12  # a long duty shift; then sign in again
FAILURES_ALLOWED = {"name": 5, "client": 20}  # an office shares one address: allow it more
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=5)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so that a wrong name takes as
    long as a wrong password. Made at the first sign-in, not at start-up (scrypt)."""
    return hash_password(secrets.token_hex(8))


router = APIRouter(route_class=PageRoute)


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=SESSION_SALT)


def _fingerprint(user: User) -> str:
    """Part of the session: a new password ends every session signed in with the old one."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def _issue(page: Page, user: User | None) -> None:
    page.csrf = secrets.token_urlsafe(24)
    payload = {"u": user.id if user else None, "p": _fingerprint(user) if user else None, "c": page.csrf,
               "i": int(page.runtime.clock.now().timestamp())}
    page.cookies[SESSION_COOKIE] = _serializer(page.runtime.settings.signing_key).dumps(payload)


def _read(runtime: Runtime, cookie: str | None) -> dict | None:
    if not cookie:
        return None
    try:
        data = _serializer(runtime.settings.signing_key).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not isinstance(data.get("i"), int):
        return None
    return data


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
    issued = datetime.fromtimestamp(data["i"], UTC)
    if isinstance(data.get("u"), int):
        user = await session.get(User, data["u"])
        if (user is None or not user.active or data.get("p") != _fingerprint(user)
                or runtime.clock.now() - issued > timedelta(hours=SESSION_HOURS)):
            _issue(page, None)
            return page
        page.user = user
        page.actor = Actor(name=user.name, role=user.role, department_id=user.department_id)
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


class SignInThrottle:
    """Failed sign-ins per user name and per client address; too many within
    the window lock that name (or address) out for a while. Time comes from
    the runtime's clock, so tests advance a frozen clock instead of waiting.
    It lives in this process: each replica counts on its own."""

    MAX_KEYS = 10_000

    def __init__(self, clock: Clock):
        self.clock = clock
        self.failures: dict[tuple[str, str], deque[datetime]] = {}
        self.locked_until: dict[tuple[str, str], datetime] = {}

    def _keys(self, name: str, client: str) -> list[tuple[str, str]]:
        return [("name", name.strip().casefold()), ("client", client)]

    def locked_for(self, name: str, client: str) -> timedelta | None:
        now = self.clock.now()
        waits = [until - now for key in self._keys(name, client)
                 if (until := self.locked_until.get(key)) is not None and until > now]
        return max(waits) if waits else None

    def failed(self, name: str, client: str) -> None:
        now = self.clock.now()
        if len(self.failures) > self.MAX_KEYS:
            self._forget_old(now)
        for key in self._keys(name, client):
            times = self.failures.setdefault(key, deque())
            times.append(now)
            while times and now - times[0] > FAILURE_WINDOW:
                times.popleft()
            if len(times) >= FAILURES_ALLOWED[key[0]]:
                self.locked_until[key] = now + LOCKOUT
                times.clear()

    def succeeded(self, name: str) -> None:
        self.failures.pop(("name", name.strip().casefold()), None)

    def _forget_old(self, now: datetime) -> None:
        for key in [k for k, times in self.failures.items() if not times or now - times[-1] > FAILURE_WINDOW]:
            del self.failures[key]
        for key in [k for k, until in self.locked_until.items() if until <= now]:
            del self.locked_until[key]
        if len(self.failures) > self.MAX_KEYS:  # a flood of fresh names: keep the most recent half
            recent = sorted(self.failures.items(), key=lambda item: item[1][-1])[-self.MAX_KEYS // 2:]
            self.failures = dict(recent)


def throttle(request: Request, runtime: RuntimeDep) -> SignInThrottle:
    app_state = request.app.state
    if getattr(app_state, "sign_in_throttle", None) is None:
        app_state.sign_in_throttle = SignInThrottle(runtime.clock)
    return app_state.sign_in_throttle


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
async def sign_in(page: AnyPage, session: SessionDep,
                  limiter: Annotated[SignInThrottle, Depends(throttle)]) -> Response:
    await _check_csrf(page)
    form = await page.request.form()
    name, password = str(form.get("name") or "").strip()[:64], str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    client = page.request.client.host if page.request.client else "unknown"
    wait = limiter.locked_for(name, client)
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        return render(page, "signin.html", status=429, next=target, name=name,
                      error=page.t("signin.locked", minutes=minutes))
    user = (await session.exec(select(User).where(User.name == name))).scalars().first() if name else None
    # scrypt takes tens of milliseconds: off the event loop, so the scheduler keeps its second.
    # The dummy hash for an unknown name is made there too, at the first such sign-in.
    known = user is not None
    stored = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(lambda: check_password(password, stored if known else _dummy_hash()))
    good = matches and user is not None and user.active
    if not good:
        limiter.failed(name, client)
        return render(page, "signin.html", status=401, next=target, name=name, error=page.t("signin.failed"))
    limiter.succeeded(name)
    _issue(page, user)
    return redirect(page, target)


@router.post("/signout")
async def sign_out(page: AnyPage) -> Response:
    await _check_csrf(page)
    _issue(page, None)
    return redirect(page, "/signin?signed_out=1")
