"""The acknowledgement page behind the signed link in every message."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from support import register, seed_departments

from monitor.acks import make_token
from monitor.db import transaction
from monitor.models import Acknowledgement, Contact, EscalationStep, Notification
from tests.conftest import START


async def registered_notice(client, runtime, title: str = "白蕉镇化工厂爆炸") -> tuple[Notification, str]:
    await seed_departments(client)
    await register(client, START, title=title)
    await runtime.scheduler.run_once()
    async with runtime.sessions() as session:
        sms = (await session.exec(select(Notification).where(Notification.channel == "sms"))).scalars().first()
    return sms, make_token(runtime.settings.signing_key, sms.step_id, sms.contact_id, START)


async def acks(runtime) -> list[Acknowledgement]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(Acknowledgement))).scalars())


async def test_the_page_names_incident_duty_deadlines_and_recipient_with_a_form(client, runtime):
    sms, token = await registered_notice(client, runtime)
    page = await client.get(f"/ack/{token}", headers={"Authorization": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "白蕉镇化工厂爆炸" in text and f"编号 {sms.incident_id}" in text and "事件登记通知" in text
    assert "王局长" in text and "未签收" in text
    # Due times in Asia/Shanghai: occurred 10:00 local, release by 15:00, press conference by 10:00 next day.
    assert "2026-11-28 15:00" in text and "2026-11-29 10:00" in text
    assert f'<form method="post" action="/ack/{token}">' in text
    assert await acks(runtime) == []  # looking is not acknowledging


async def test_a_step_of_one_obligation_names_that_obligation(client, seeded, runtime, clock):
    await register(client, START)
    clock.set(START.replace(hour=5))  # 13:00 local: the release reminder (due - 2h) is due
    await runtime.scheduler.run_once()
    async with runtime.sessions() as session:
        step = (await session.exec(select(EscalationStep).where(EscalationStep.kind == "reminder",
                                                                EscalationStep.state == "fired"))).scalars().one()
        contact = (await session.exec(select(Contact).where(Contact.name == "王局长"))).scalars().one()
    page = await client.get(f"/ack/{make_token(runtime.settings.signing_key, step.id, contact.id, START)}")
    assert "发布权威信息" in page.text and "提醒" in page.text and "事件登记通知" not in page.text


async def test_confirming_records_once_and_goes_on_the_timeline(client, runtime, clock):
    sms, token = await registered_notice(client, runtime)
    first = await client.post(f"/ack/{token}", headers={"Authorization": ""})
    assert first.status_code == 200 and "签收成功" in first.text and "已签收（2026-11-28 10:00）" in first.text
    clock.advance(minutes=5)
    second = await client.post(f"/ack/{token}")
    assert second.status_code == 200 and "已签收过" in second.text
    assert [(a.step_id, a.contact_id, a.via, a.at) for a in await acks(runtime)] == [
        (sms.step_id, sms.contact_id, "link", START)]
    timeline = (await client.get(f"/api/v1/incidents/{sms.incident_id}/timeline")).json()
    acknowledged = [e for e in timeline if e["kind"] == "acknowledged"]
    assert len(acknowledged) == 1 and acknowledged[0]["detail"]["recipient"] == "王局长"
    page = await client.get(f"/ack/{token}")
    assert "已签收" in page.text and "<form" not in page.text
    shown = (await client.get(f"/api/v1/incidents/{sms.incident_id}")).json()
    assert all(o["state"] == "pending" for o in shown["obligations"])


async def test_everything_shown_is_escaped(client, runtime):
    _, token = await registered_notice(client, runtime, title="<script>alert(1)</script>")
    page = await client.get(f"/ack/{token}")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_tampered_link_gets_the_invalid_page_for_both_methods(client, runtime):
    _, token = await registered_notice(client, runtime)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for method in ("GET", "POST"):
        response = await client.request(method, f"/ack/{forged}")
        assert response.status_code == 400 and "链接无效" in response.text
    other_key = make_token(b"another-deployment", 1, 1, START)
    assert (await client.get(f"/ack/{other_key}")).status_code == 400
    assert await acks(runtime) == []


async def test_an_expired_link_gets_the_expired_page(client, runtime, clock):
    sms, token = await registered_notice(client, runtime)
    clock.advance(timedelta(days=7))
    assert (await client.get(f"/ack/{token}")).status_code == 200  # valid for exactly seven days
    clock.advance(timedelta(seconds=1))
    for method in ("GET", "POST"):
        response = await client.request(method, f"/ack/{token}")
        assert response.status_code == 410 and "链接已过期" in response.text
    assert await acks(runtime) == []


async def test_a_link_to_a_step_or_contact_that_no_longer_exists_is_not_found(client, runtime):
    sms, _ = await registered_notice(client, runtime)
    key = runtime.settings.signing_key
    assert (await client.get(f"/ack/{make_token(key, 999_999, sms.contact_id, START)}")).status_code == 404
    missing = await client.post(f"/ack/{make_token(key, sms.step_id, 999_999, START)}")
    assert missing.status_code == 404 and "不存在" in missing.text
    assert await acks(runtime) == []


async def test_a_signed_link_for_a_message_never_sent_to_that_contact_is_refused(client, runtime):
    """The registered notice went to the head only; links for the deputy, the supervisor, or a
    reminder not yet sent were never in anyone's message, however well signed."""
    sms, token = await registered_notice(client, runtime)
    key = runtime.settings.signing_key
    async with runtime.sessions() as session:
        contacts = {c.name: c.id for c in (await session.exec(select(Contact))).scalars()}
        reminder = (await session.exec(select(EscalationStep).where(
            EscalationStep.kind == "reminder", EscalationStep.state == "planned"))).scalars().first()
    never_sent = [(sms.step_id, contacts["李副局长"]), (sms.step_id, contacts["陈主任"]),
                  (reminder.id, contacts["王局长"])]
    for step_id, contact_id in never_sent:
        forged = make_token(key, step_id, contact_id, START)
        for method in ("GET", "POST"):
            response = await client.request(method, f"/ack/{forged}")
            assert response.status_code == 404 and "未发送" in response.text, (step_id, contact_id)
    assert await acks(runtime) == []
    sent = await client.post(f"/ack/{token}")
    assert sent.status_code == 200 and "签收成功" in sent.text
    assert [(a.step_id, a.contact_id, a.notification_id is not None) for a in await acks(runtime)] == [
        (sms.step_id, sms.contact_id, True)]


async def test_a_link_for_a_message_that_failed_for_good_is_refused(client, runtime):
    sms, token = await registered_notice(client, runtime)
    async with transaction(runtime.sessions) as session:
        for row in (await session.exec(select(Notification).where(
                Notification.step_id == sms.step_id, Notification.contact_id == sms.contact_id))).scalars():
            row.state = "failed"
    assert (await client.get(f"/ack/{token}")).status_code == 404
    assert await acks(runtime) == []
