"""Keep publishing on the pages (SPEC §13.4): the board shows the next update
due, the incident page lists every occurrence and records them."""

from __future__ import annotations

import pytest
from pages_support import add_incident, page_client, post, signed_in
from support import hours

from tests.conftest import START  # 10:00 in Asia/Shanghai


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def test_the_board_shows_the_next_update_and_the_page_records_each_one(pages, runtime, clock):
    incident_id = await add_incident(runtime, START - hours(2))
    csrf = await signed_in(pages, "duty")
    board = (await pages.get("/board/fragment")).text
    assert "下次更新" not in board  # no series before the release
    released = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
                          at="2026-11-28T09:45")
    assert released.status_code == 303
    board = (await pages.get("/board/fragment")).text
    update = board.split('class="next-update"', 1)[1].split("</p>", 1)[0]
    assert "下次更新" in update and "持续发布 #1" in update and "11-29 09:45" in update and "countdown" in update

    clock.set(START + hours(10))  # within the 12-hour page session
    page = (await pages.get(f"/incidents/{incident_id}")).text
    assert 'id="obligation-keep_publishing#1"' in page
    assert '<option value="keep_publishing#1"' in page  # the milestone form offers the update
    done = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="keep_publishing#1",
                      at="2026-11-28T19:30", evidence_url="https://www.doumen.gov.cn/release/2")
    assert done.status_code == 303
    page = (await pages.get(f"/incidents/{incident_id}")).text
    first = page.split('id="obligation-keep_publishing#1"', 1)[1].split("</tr>", 1)[0]
    assert "按时完成" in first
    assert 'id="obligation-keep_publishing#2"' in page
    board = (await pages.get("/board/fragment")).text
    assert "持续发布 #2" in board.split('class="next-update"', 1)[1] and "持续发布 #1" not in board
    english = (await pages.get(f"/incidents/{incident_id}?lang=en")).text
    assert "Keep publishing #2" in english and "Publish authoritative information" in english


async def test_closing_from_the_page_ends_the_series(pages, runtime):
    incident_id = await add_incident(runtime, START - hours(2))
    csrf = await signed_in(pages, "duty")
    await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="press_conference",
               at="2026-11-28T09:50")
    await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
               at="2026-11-28T09:45")
    closed = await post(pages, f"/incidents/{incident_id}/close", csrf, reason="应急响应终止")
    assert closed.status_code == 303
    page = (await pages.get(f"/incidents/{incident_id}")).text
    row = page.split('id="obligation-keep_publishing#1"', 1)[1].split("</tr>", 1)[0]
    assert "已免除" in row and "应急响应终止" in row
    assert "持续发布随事件结束而终止" in page
    assert f'href="/incidents/{incident_id}"' not in (await pages.get("/board/fragment")).text
