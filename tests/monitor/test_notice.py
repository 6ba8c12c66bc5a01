"""The draft circulated notice (通报) of an accountability case (SPEC §11.6),
from the API and from the cases page."""

from __future__ import annotations

import re

import pytest
from pages_support import add_incident, page_client, sign_in
from support import bearer, hours, make_tokens, register, seed_departments

from monitor import auth
from monitor.db import transaction
from tests.conftest import START

RELEASE_DUE = "2026年11月28日 09:00"  # START − 6 h + 5 h, in Asia/Shanghai


async def _breached_case(client) -> int:
    """An I-level incident of EMB that occurred 6 hours ago: its release was due an hour ago."""
    await seed_departments(client)
    await register(client, START - hours(6), title="白蕉镇化工厂爆炸")
    cases = (await client.get("/api/v1/cases")).json()
    return next(c["id"] for c in cases if c["obligation"] == "authoritative_release")


async def test_the_notice_states_department_incident_deadline_breach_and_a_pending_decision(client):
    case_id = await _breached_case(client)
    response = await client.get(f"/api/v1/cases/{case_id}/notice")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert "关于区应急管理局未按时限发布权威信息的通报" in html
    assert "白蕉镇化工厂爆炸" in html and "特别重大（I 级）" in html
    assert "<th scope=\"row\">截止时间</th><td>" + RELEASE_DUE in html
    assert "<th scope=\"row\">超时时间</th><td>" + RELEASE_DUE in html
    assert "<th scope=\"row\">发生时间</th><td>2026年11月28日 04:00" in html
    assert "<th scope=\"row\">完成时间</th><td>尚未完成" in html
    assert "<th scope=\"row\">处理决定</th><td>待定" in html
    assert "已超时 1 小时" in html
    assert "Asia/Shanghai" not in html and "+08:00" not in html  # local time, without the zone's name
    assert "size: A4" in html and "@media print" in html
    assert "区政务公开办" in html  # the supervisory department circulates it


async def test_the_notice_shows_the_late_release_and_the_decision_with_its_reason(client, runtime):
    case_id = await _breached_case(client)
    tokens = await make_tokens(runtime)
    incident_id = (await client.get("/api/v1/cases")).json()[0]["incident_id"]
    late = await client.post(f"/api/v1/incidents/{incident_id}/milestones", json={
        "obligation": "authoritative_release", "at": (START - hours(0.5)).isoformat()})
    assert late.status_code == 201 and late.json()["state"] == "met_late", late.text
    decided = await client.post(f"/api/v1/cases/{case_id}/decision", headers=bearer(tokens["supervisor"]),
                                json={"decision": "notice", "reason": "超时 30 分钟才发布权威信息"})
    assert decided.status_code == 200, decided.text
    html = (await client.get(f"/api/v1/cases/{case_id}/notice")).text
    assert "<th scope=\"row\">完成时间</th><td>2026年11月28日 09:30（逾期完成，逾期 30 分钟）" in html
    assert "<th scope=\"row\">超时时间</th><td>" + RELEASE_DUE in html  # the breach stays on record
    assert "<th scope=\"row\">处理决定</th><td>通报批评" in html
    assert "<th scope=\"row\">理由</th><td>超时 30 分钟才发布权威信息" in html
    assert "<th scope=\"row\">决定人</th><td>supervisor" in html
    assert "<th scope=\"row\">决定时间</th><td>2026年11月28日 10:00" in html
    assert "待定" not in html


async def test_who_may_read_a_notice(client, runtime):
    case_id = await _breached_case(client)
    tokens = await make_tokens(runtime)
    async with transaction(runtime.sessions) as session:
        _, other_head = await auth.create_user(session, "health-head", "department_head", START, department="HEALTH")
    url = f"/api/v1/cases/{case_id}/notice"
    statuses = {who: (await client.get(url, headers=bearer(token))).status_code
                for who, token in (tokens | {"other department's head": other_head}).items()}
    assert statuses == {"duty_officer": 403, "department_head": 200, "supervisor": 200, "admin": 200,
                        "other department's head": 403}
    assert (await client.get(url, headers={"Authorization": ""})).status_code == 401
    assert (await client.get("/api/v1/cases/999999/notice")).status_code == 404
    assert (await client.get("/api/v1/cases/0/notice")).status_code == 422


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def _page_case(runtime, pages) -> int:
    await add_incident(runtime, START - hours(6))
    await sign_in(pages, "supervisor")
    listing = (await pages.get("/cases")).text
    found = re.findall(r'href="/cases/(\d+)/notice"', listing)
    assert found, "the cases page links no notice"
    return int(found[-1])


async def test_the_cases_page_links_a_notice_that_opens_with_the_page_session(runtime, pages):
    case_id = await _page_case(runtime, pages)
    page = await pages.get(f"/cases/{case_id}/notice")
    assert page.status_code == 200, page.text
    assert "关于区应急管理局未按时限" in page.text and RELEASE_DUE in page.text
    assert 'href="/cases"' in page.text  # back to the cases, on screen only
    assert page.headers["x-frame-options"] == "DENY"
    api_like = page.text.replace(
        '<nav class="tools" aria-label="页面操作"><a href="/cases">返回问责案件</a>'
        ' · 用浏览器的“打印”（Ctrl+P）可打印或另存为 PDF。</nav>\n', "")
    with_token = await pages.get(f"/api/v1/cases/{case_id}/notice", headers=bearer("test-admin-token-0123456789"))
    assert api_like == with_token.text  # one document, two doors


async def test_the_notice_page_refuses_other_roles_departments_and_unknown_cases(runtime, pages):
    case_id = await _page_case(runtime, pages)
    assert (await pages.get("/cases/424242/notice")).status_code == 404
    await sign_in(pages, "duty")
    assert (await pages.get(f"/cases/{case_id}/notice")).status_code == 403
    await sign_in(pages, "health-head")
    assert (await pages.get(f"/cases/{case_id}/notice")).status_code == 403
    await sign_in(pages, "emb-head")
    assert (await pages.get(f"/cases/{case_id}/notice")).status_code == 200
    pages.cookies.clear()
    signed_out = await pages.get(f"/cases/{case_id}/notice")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/signin?next=")


async def test_a_notice_after_a_correction_says_the_deadline_moved_and_is_not_yet_due(client):
    case_id = await _breached_case(client)
    incident_id = (await client.get("/api/v1/cases")).json()[0]["incident_id"]
    moved = await client.patch(f"/api/v1/incidents/{incident_id}", json={
        "occurred_at": (START - hours(2)).isoformat(), "reason": "发生时间登记有误"})
    assert moved.status_code == 200, moved.text
    html = (await client.get(f"/api/v1/cases/{case_id}/notice")).text
    assert "截至原定时限（" + RELEASE_DUE + "）未完成；经更正，截止时间改为2026年11月28日 13:00，尚未到期。" in html
    assert "<th scope=\"row\">超时时间</th><td>" + RELEASE_DUE in html  # the breach stays on the case
    assert "仍未完成" not in html
