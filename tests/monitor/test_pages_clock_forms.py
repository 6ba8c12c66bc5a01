"""Forms that protect the legal clock (issue 19): the register form asks when
it happened and asks again when that is more than an hour ago; the timeline
records a late registration as such."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pages_support import add_incident, error_of, page_client, post, signed_in
from sqlalchemy import select

from monitor.models import Incident, TimelineEntry
from tests.conftest import START

FIELDS = {"title": "白蕉镇化工厂爆炸", "severity": "I", "department": "EMB"}  # START is 10:00 local


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def test_the_form_says_why_the_time_it_happened_matters(pages):
    await signed_in(pages, "duty")
    form = (await pages.get("/incidents/new")).text
    assert "法定时限从发生时起算" in form
    assert 'id="late-check"' in form and re.search(r'id="late-check"[^>]*hidden', form)


async def test_a_time_more_than_an_hour_ago_is_asked_about_then_recorded_as_a_late_registration(pages, runtime):
    csrf = await signed_in(pages, "duty")
    asked = await post(pages, "/incidents/new", csrf, **FIELDS, occurred_at="2026-11-28T07:15")
    assert asked.status_code == 422
    assert error_of(asked.text, "occurred_at") == "发生时间在 2 小时 45 分钟前，请核对后勾选下方确认再登记。"
    assert not re.search(r'id="late-check"[^>]*hidden', asked.text)  # the confirmation is shown
    async with runtime.sessions() as session:
        assert (await session.exec(select(Incident))).scalars().first() is None

    done = await post(pages, "/incidents/new", csrf, **FIELDS, occurred_at="2026-11-28T07:15", late_ok="1")
    assert done.status_code == 303, done.text
    async with runtime.sessions() as session:
        entry = (await session.exec(select(TimelineEntry).where(TimelineEntry.kind == "registered"))).scalars().one()
    assert entry.detail["late_registration"] is True and entry.detail["late_by"] == 2 * 3600 + 45 * 60
    page = " ".join((await pages.get(done.headers["location"])).text.split())
    assert "发生 2 小时 45 分钟后才登记，属延迟登记" in page


async def test_within_the_hour_no_question_is_asked(pages, runtime):
    csrf = await signed_in(pages, "duty")
    done = await post(pages, "/incidents/new", csrf, **FIELDS, occurred_at="2026-11-28T09:10")
    assert done.status_code == 303
    async with runtime.sessions() as session:
        entry = (await session.exec(select(TimelineEntry).where(TimelineEntry.kind == "registered"))).scalars().one()
    assert "late_registration" not in entry.detail


async def test_a_supervisor_withdraws_a_milestone_from_the_incident_page(pages, runtime, clock):
    incident_id = await add_incident(runtime, START)
    csrf = await signed_in(pages, "duty")
    clock.advance(timedelta(hours=1))
    recorded = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
                          at="2026-11-28T10:30")
    assert recorded.status_code == 303
    assert 'id="withdraw"' not in (await pages.get(f"/incidents/{incident_id}")).text  # not for a duty officer

    csrf = await signed_in(pages, "supervisor")
    page = (await pages.get(f"/incidents/{incident_id}")).text
    assert "撤回误记的完成记录" in page
    refused = await post(pages, f"/incidents/{incident_id}/withdraw", csrf, obligation="authoritative_release")
    assert refused.status_code == 422 and error_of(refused.text, "withdraw-reason") == "此项必填。"
    done = await post(pages, f"/incidents/{incident_id}/withdraw", csrf, obligation="authoritative_release",
                      reason="误记，实际尚未发布")
    assert done.status_code == 303 and done.headers["location"].endswith("saved=withdrawn")
    text = " ".join((await pages.get(done.headers["location"])).text.split())
    assert "完成记录已撤回，时限恢复计算。" in text
    assert "撤回「发布权威信息」于 2026-11-28 10:30 的完成记录，恢复为进行中。原因：误记，实际尚未发布" in text
