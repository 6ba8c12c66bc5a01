"""Forms that protect the legal clock (issue 19): the register form asks when
it happened and asks again when that is more than an hour ago; the timeline
records a late registration as such."""

from __future__ import annotations

import re

import pytest
from pages_support import error_of, page_client, post, signed_in
from sqlalchemy import select

from monitor.models import Incident, TimelineEntry

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
