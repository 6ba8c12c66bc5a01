"""A read-only board link for the duty room's wall screen (issue 19): made and
revoked by an admin, shows the board without a sign-in, never falls back to
the sign-in page, and opens nothing else."""

from __future__ import annotations

import re

import pytest
from pages_support import add_incident, page_client, post, signed_in

from tests.conftest import START


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def make_link(pages) -> tuple[str, str]:
    csrf = await signed_in(pages, "admin")
    created = await post(pages, "/admin/boards", csrf, name="值班室大屏")
    assert created.status_code == 200
    url = re.search(r'<code class="token" id="wall-url">([^<]+)</code>', created.text).group(1)
    return url.split("/wall/", 1)[1], csrf


async def test_a_wall_link_shows_the_board_without_signing_in_until_revoked(pages, runtime):
    await add_incident(runtime, START, title="白蕉镇化工厂爆炸")
    token, csrf = await make_link(pages)
    listed = (await pages.get("/admin/boards")).text
    assert "值班室大屏" in listed and token not in listed  # shown once only

    pages.cookies.clear()  # the wall screen: nobody signed in
    board = await pages.get(f"/wall/{token}")
    assert board.status_code == 200 and "白蕉镇化工厂爆炸" in board.text and "只读看板 · 值班室大屏" in board.text
    assert 'data-wall="1"' in board.text and "/signout" not in board.text and "登记事件" not in board.text
    fragment = await pages.get(f"/wall/{token}/fragment")
    assert fragment.status_code == 200 and "白蕉镇化工厂爆炸" in fragment.text
    # Board-only: the token opens no other page and no API.
    assert (await pages.get("/incidents/1")).status_code == 303
    assert (await pages.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})).status_code == 401

    csrf = await signed_in(pages, "admin")
    link_id = re.search(r'action="/admin/boards/(\d+)/revoke"', (await pages.get("/admin/boards")).text).group(1)
    assert (await post(pages, f"/admin/boards/{link_id}/revoke", csrf)).status_code == 303
    pages.cookies.clear()
    gone = await pages.get(f"/wall/{token}")
    assert gone.status_code == 404 and "此看板链接无效或已被撤销" in gone.text
    assert (await pages.get(f"/wall/{token}/fragment")).status_code == 410  # the script says "revoked", no sign-in


async def test_only_an_admin_makes_board_links(pages):
    csrf = await signed_in(pages, "supervisor")
    assert (await post(pages, "/admin/boards", csrf, name="大屏")).status_code == 403
    assert (await pages.get("/admin/boards")).status_code == 403
    assert (await pages.get("/wall/sb_nothing")).status_code == 404
