"""The board on a wall screen, by a read-only link (issue 19), and the admin
page that makes and revokes such links. The link opens the board and its
fragment only; a revoked or unknown link says so, and never falls back to the
sign-in page: nobody is at the wall to sign in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from monitor import board_links
from monitor.actors import Actor
from monitor.deps import MAX_ID, SessionDep
from monitor.models import BoardLink
from monitor.pages import overview
from monitor.pages.auth import AnyPage, Posted, SignedIn
from monitor.pages.board import REFRESH_SECONDS, titles
from monitor.pages.forms import text
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render
from rules.vocabulary import Role

router = APIRouter(route_class=PageRoute)
NAME_MAX = 100


def _wall_actor(link: BoardLink) -> Actor:
    # Reads what a supervisor reads; it can do nothing, for it has no page session.
    return Actor(name=f"board:{link.name}"[:64], role=Role.SUPERVISOR)


async def _link(page: Page, session: SessionDep, token: str, status: int) -> BoardLink:
    link = await board_links.find(session, token, page.runtime.clock.now())
    if link is None:
        raise PageExit(refusal(page, status, "wall.invalid"))
    return link


@router.get("/wall/{token}")
async def wall(token: str, page: AnyPage, session: SessionDep) -> Response:
    link = await _link(page, session, token, 404)
    rows = await overview.board(session, _wall_actor(link))
    return render(page, "wall.html", rows=rows, refresh=REFRESH_SECONDS, title_of=titles(page), link=link,
                  fragment_url=f"/wall/{token}/fragment")


@router.get("/wall/{token}/fragment")
async def wall_fragment(token: str, page: AnyPage, session: SessionDep) -> Response:
    link = await _link(page, session, token, 410)  # the board's script shows a revoked link as such
    rows = await overview.board(session, _wall_actor(link))
    return render(page, "_board.html", rows=rows, title_of=titles(page))


def _admin(page: Page) -> None:
    if not page.may("manage"):
        raise PageExit(refusal(page, 403, "error.forbidden"))


async def _links_page(page: Page, session: SessionDep, *, status: int = 200, token: str | None = None,
                      error: str | None = None, name: str = "") -> Response:
    base = str(page.runtime.settings.public_url).rstrip("/") or str(page.request.base_url).rstrip("/")
    return render(page, "boards.html", status=status, links=await board_links.listed(session), token=token,
                  wall_url=f"{base}/wall/{token}" if token else None, error=error, name=name)


@router.get("/admin/boards")
async def links(page: SignedIn, session: SessionDep) -> Response:
    _admin(page)
    return await _links_page(page, session)


@router.post("/admin/boards")
async def create_link(page: Posted, session: SessionDep) -> Response:
    _admin(page)
    assert page.actor is not None
    name = text(await page.request.form(), "name")
    if not name or len(name) > NAME_MAX:
        error = page.t("err.required") if not name else page.t("err.too_long", max=NAME_MAX)
        return await _links_page(page, session, status=422, error=error, name=name)
    _, token = await board_links.create(session, name, page.actor.name, page.runtime.clock.now())
    await session.commit()
    return await _links_page(page, session, token=token)


@router.post("/admin/boards/{link_id}/revoke")
async def revoke_link(link_id: int, page: Posted, session: SessionDep) -> Response:
    _admin(page)
    if not (0 < link_id <= MAX_ID and await board_links.revoke(session, link_id, page.runtime.clock.now())):
        return refusal(page, 404, "error.not_found")
    await session.commit()
    return redirect(page, "/admin/boards")
