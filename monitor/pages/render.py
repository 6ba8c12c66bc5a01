"""Rendering pages: the Jinja environment, what every template knows, and
how a dependency ends a request early with a page of its own."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from monitor.actors import Actor
from monitor.auth import may
from monitor.models import User
from monitor.pages.i18n import Translator
from monitor.runtime import Runtime
from rules.vocabulary import Language

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "sunclock_session"
LANG_COOKIE = "sunclock_lang"

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)


@dataclass
class Page:
    """One request to a page: who is signed in, in which language, and the
    session cookie to (re)write with the response."""

    request: Request
    runtime: Runtime
    lang: str
    t: Translator
    csrf: str
    user: User | None = None
    actor: Actor | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def may(self, action: str) -> bool:
        return self.actor is not None and may(self.actor, action)

    def local(self, at: datetime | None, seconds: bool = False) -> str:
        if at is None:
            return ""
        return at.astimezone(self.runtime.settings.zone).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))

    def short(self, at: datetime | None) -> str:
        """Month, day and time: enough on the board, and it fits a phone."""
        return at.astimezone(self.runtime.settings.zone).strftime("%m-%d %H:%M") if at is not None else ""

    def detail(self, detail: dict[str, Any]) -> list[tuple[str, str]]:
        """A timeline entry's details for reading: times in the local zone, long lists counted."""
        shown = []
        for key, value in detail.items():
            if value in (None, "", [], {}):
                continue
            if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
                try:
                    value = self.local(datetime.fromisoformat(value), seconds=True)
                except ValueError:
                    pass
            elif key == "stand_ins" and isinstance(value, list):  # who stood in for whom (SPEC §14.3)
                value = "、".join(self.t("standins.for", standin=s.get("standin"), contact=s.get("contact"))
                                 for s in value if isinstance(s, dict))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                value = f"× {len(value)}"
            elif isinstance(value, list):
                value = "、".join(map(str, value))
            text = str(value)
            shown.append((key, text if len(text) <= 120 else text[:119] + "…"))
        return shown

    def local_input(self, at: datetime) -> str:
        """The value of a ``datetime-local`` field."""
        return at.astimezone(self.runtime.settings.zone).strftime("%Y-%m-%dT%H:%M")


class PageExit(Exception):
    """Raised by a dependency to answer with this response instead of the page."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except PageExit as exit_:
                return exit_.response

        return run


def countdown(due: datetime, now: datetime) -> tuple[str, str]:
    """``H:MM:SS`` left (or overdue, with a +) and the class the board colours it with;
    static/sunclock.js computes the same thing every second in the browser."""
    seconds = int((due - now).total_seconds())
    overdue = seconds < 0
    seconds = abs(seconds)
    text = f"{'+' if overdue else ''}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return text, "overdue" if overdue else ("soon" if seconds < 3600 else "ok")


def _lang_href(page: Page) -> str:
    """The same page in the other language; after a form was posted, the board."""
    other = Language.EN if page.lang == Language.ZH else Language.ZH
    request = page.request
    if request.method != "GET":
        return f"/?lang={other}"
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "saved")]
    return request.url.path + "?" + urlencode([*query, ("lang", other)])


def _finish(page: Page, response: Response) -> Response:
    """Session and language cookies, and no framing by other sites (clickjacking)."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"
    secure = page.runtime.settings.public_url.startswith("https://")
    for name, value in page.cookies.items():
        response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure, path="/",
                            max_age=365 * 24 * 3600 if name == LANG_COOKIE else None)
    return response


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    now = page.runtime.clock.now()
    html = env.get_template(template).render(
        page=page, t=page.t, lang=page.lang, actor=page.actor, csrf=page.csrf, now=now, server_now=now.isoformat(),
        countdown=lambda due: countdown(due, now), zone=page.runtime.settings.timezone,
        outbox_channels=page.runtime.outbox_channels, path=page.request.url.path, lang_href=_lang_href(page),
        **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    return _finish(page, response)


def redirect(page: Page, url: str) -> Response:
    return _finish(page, RedirectResponse(url, status_code=303))


def refusal(page: Page, status: int, message_key: str) -> HTMLResponse:
    return render(page, "error.html", status=status, message=page.t(message_key))


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?next=" + quote(target, safe="")
