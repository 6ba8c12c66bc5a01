"""Words, not keys (issue 19): every Chinese page, the acknowledgement page and
every message template name duties, steps, states and departments in words,
and times in local time without the zone's name. The incidents below go
through every state a duty officer meets in a night, then each page is read as
a person reads it (its text, not its markup) for any internal key."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from pages_support import page_client, signed_in
from sqlalchemy import select
from support import bearer

from alerts.render import DeadlineInfo, MessageContext, render
from monitor import auth
from monitor.acks import make_token
from monitor.db import transaction
from monitor.models import AccountabilityCase, Notification
from rules.vocabulary import (
    Channel,
    Decision,
    IncidentState,
    Language,
    NotificationState,
    ObligationState,
    StepKind,
    TimelineKind,
    WaiverState,
)
from tests.conftest import ADMIN_TOKEN, START

API = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ZONE_NAME = "Asia/Shanghai"


def internal_keys(runtime) -> set[str]:
    keys = {o.key for rule in runtime.rules.rules for o in rule.obligations}
    for enum in (StepKind, ObligationState, IncidentState, NotificationState, Decision, TimelineKind, WaiverState,
                 Channel):
        keys |= {member.value for member in enum}
    return keys


def visible_text(page: str) -> str:
    """What a person reads: no scripts, styles or markup, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def keys_in(text: str, keys: set[str]) -> list[str]:
    # Addresses (e-mail, links) are data, not words the service chose.
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)
    return sorted(k for k in keys if re.search(rf"(?<![A-Za-z_#]){re.escape(k)}(?![A-Za-z_])", text))


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def a_night_of_incidents(pages, runtime, clock) -> list[int]:
    """One breached at registration, one met, one met late, one closed with a
    waiver asked, refused and a case decided, one below the rule's severity."""
    made = []
    for title, severity, hours_ago in (("白蕉镇化工厂爆炸", "I", 6), ("台风致城区严重内涝", "II", 1),
                                       ("学校食堂集体食物中毒", "II", 3), ("国道货车侧翻", "III", 0.5)):
        response = await pages.post("/api/v1/incidents", headers=API, json={
            "title": title, "severity": severity, "department": "EMB",
            "occurred_at": (START - timedelta(hours=hours_ago)).isoformat()})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    while await runtime.scheduler.run_once():
        pass
    first, second, third, _ = made
    await pages.post(f"/api/v1/incidents/{second}/milestones", headers=API,
                     json={"obligation": "authoritative_release", "at": START.isoformat(), "note": "已发布"})
    clock.advance(timedelta(hours=3))
    await pages.post(f"/api/v1/incidents/{third}/milestones", headers=API,
                     json={"obligation": "authoritative_release", "at": clock.now().isoformat()})
    await pages.post(f"/api/v1/incidents/{first}/close", headers=API, json={"reason": "现场处置完毕"})
    async with transaction(runtime.sessions) as session:
        supervisor = bearer((await auth.create_user(session, "supervisor-api", "supervisor", clock.now()))[1])
    refused = await pages.post(f"/api/v1/incidents/{first}/obligations/press_conference/waiver", headers=supervisor,
                               json={"decision": "refused", "reason": "仍须召开发布会"})
    assert refused.status_code == 200, refused.text
    async with runtime.sessions() as session:
        case = (await session.exec(select(AccountabilityCase))).scalars().first()
    decided = await pages.post(f"/api/v1/cases/{case.id}/decision", headers=supervisor,
                               json={"decision": "notice", "reason": "通报"})
    assert decided.status_code == 200, decided.text
    while await runtime.scheduler.run_once():
        pass
    return made


async def test_no_page_in_chinese_shows_an_internal_key_or_the_zone_name(pages, runtime, clock):
    made = await a_night_of_incidents(pages, runtime, clock)
    keys = internal_keys(runtime)
    urls = ["/", "/board/fragment", "/incidents/new", "/outbox", "/cases", "/reports",
            *(f"/incidents/{i}" for i in made)]
    for user, more in (("duty", []), ("supervisor", []), ("admin", ["/admin/departments", "/admin/users"])):
        await signed_in(pages, user)
        for url in urls + more:
            response = await pages.get(url)
            if response.status_code == 403:  # the page is not for this role; its refusal is read all the same
                assert "无权" in response.text
            else:
                assert response.status_code == 200, (user, url, response.status_code)
            text = visible_text(response.text)
            assert keys_in(text, keys) == [], (user, url, keys_in(text, keys))
            assert ZONE_NAME not in text, (user, url)


async def test_the_timeline_reads_as_sentences(pages, runtime, clock):
    made = await a_night_of_incidents(pages, runtime, clock)
    await signed_in(pages, "supervisor")
    text = " ".join(visible_text((await pages.get(f"/incidents/{made[0]}")).text).split())
    assert "「发布权威信息」到 2026-11-28 09:00 仍未完成，记为超时。" in text, text
    assert "结束事件。原因：现场处置完毕" in text
    assert "驳回「举行新闻发布会」的免除申请" in text
    assert "obligation:" not in text and "step:" not in text


async def test_the_ack_page_says_the_time_left_or_that_the_duty_is_met(pages, runtime, clock):
    made = await a_night_of_incidents(pages, runtime, clock)
    keys = internal_keys(runtime)
    async with runtime.sessions() as session:
        sent = list((await session.exec(select(Notification).where(
            Notification.incident_id.in_(made), Notification.channel == "sms"))).scalars())
    assert sent
    seen = set()
    for notification in sent:
        token = make_token(runtime.settings.signing_key, notification.step_id, notification.contact_id, clock.now())
        response = await pages.get(f"/ack/{token}")
        assert response.status_code == 200
        text = visible_text(response.text)
        assert keys_in(text, keys) == [] and ZONE_NAME not in text, text
        seen |= {word for word in ("剩余", "已超时", "按时完成", "逾期完成") if word in text}
    assert {"剩余", "已超时", "按时完成"} <= seen


@pytest.mark.parametrize("step", list(StepKind))
@pytest.mark.parametrize("channel", ["sms", "email", "voice"])
def test_every_chinese_message_names_duties_in_words_and_local_time(step, channel, runtime):
    keys = internal_keys(runtime)
    deadlines = (DeadlineInfo("authoritative_release", "发布权威信息", START + timedelta(hours=5), "pending",
                              waiver_reason="现场处置完毕"),
                 DeadlineInfo("press_conference", "举行新闻发布会", START + timedelta(hours=24), "met"))
    context = MessageContext(step=step, occurrence=2, incident_id=7, incident_title="白蕉镇化工厂爆炸", severity="I",
                             department_name="区应急管理局", occurred_at=START, deadlines=deadlines,
                             now=START + timedelta(hours=4, minutes=47), ack_url="http://sunclock.test/ack/x",
                             recipient_name="王局长")
    message = render(context, channel, language=Language.ZH)
    # An SMS's html slot holds its facts for a templated provider (alerts/render.py), never shown as such.
    shown = (message.subject, message.body) + ((visible_text(message.html or ""),) if channel == "email" else ())
    for part in shown:
        assert keys_in(part, keys) == [] and ZONE_NAME not in part, part
    assert "发布权威信息" in message.body
    if step in (StepKind.REGISTERED, StepKind.REMINDER, StepKind.WARNING, StepKind.FINAL_WARNING):
        assert "剩余13分钟" in message.body
    if channel == "email":
        assert "以上时间均为北京时间" in message.body
