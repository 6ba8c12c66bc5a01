"""The board (值班看板) with live countdowns, and the outbox."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from monitor.deps import MAX_ID, SessionDep
from monitor.models import Incident, Notification
from monitor.pages import overview
from monitor.pages.auth import SignedIn
from monitor.pages.render import Page, PageRoute, render
from monitor.schemas import ObligationPublic

router = APIRouter(route_class=PageRoute)
REFRESH_SECONDS = 15


@router.get("/")
async def board(page: SignedIn, session: SessionDep) -> Response:
    assert page.actor is not None
    rows = await overview.board(session, page.actor)
    return render(page, "board.html", rows=rows, refresh=REFRESH_SECONDS, title_of=titles(page))


@router.get("/board/fragment")
async def board_fragment(page: SignedIn, session: SessionDep) -> Response:
    """The board's table alone, fetched by the board every few seconds."""
    assert page.actor is not None
    rows = await overview.board(session, page.actor)
    return render(page, "_board.html", rows=rows, title_of=titles(page))


def titles(page: Page) -> Callable[[ObligationPublic], str]:
    return lambda o: overview.obligation_title(page.runtime.rules, o.key, o.title, page.lang)


@router.get("/outbox")
async def outbox(page: SignedIn, session: SessionDep) -> Response:
    """Messages stored because their channel has no provider settings (SPEC §5)."""
    assert page.actor is not None
    query = overview.own_contacts(overview.visible(
        select(Notification, Incident.title).join(Incident, Incident.id == Notification.incident_id)
        .where(Notification.provider == "outbox"), page.actor), page.actor)
    incident_id = page.request.query_params.get("incident_id", "")
    if incident_id.isascii() and incident_id.isdigit() and 0 < int(incident_id) <= MAX_ID:
        query = query.where(Notification.incident_id == int(incident_id))
    rows = (await session.execute(query.order_by(Notification.id.desc()).limit(300))).all()
    return render(page, "outbox.html", rows=rows)
