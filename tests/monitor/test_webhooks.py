"""Twilio status callbacks and SMS replies: signed, idempotent, never regressing."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, update
from support import register, seed_departments
from twilio.request_validator import RequestValidator

from monitor.db import transaction
from monitor.models import Acknowledgement, EscalationStep, Notification
from tests.conftest import START, make_settings

AUTH_TOKEN = "twilio-test-auth-token"
STATUS = "/webhooks/twilio/status"
SMS = "/webhooks/twilio/sms"
HEAD = "+8613800000001"


@pytest.fixture
def runtime(runtime, database_url):
    # The shared runtime has no Twilio token; callbacks need one to be checked.
    runtime.settings = make_settings(database_url, twilio_auth_token=AUTH_TOKEN)
    return runtime


async def post_signed(client: httpx.AsyncClient, path: str, params: dict[str, str],
                      signature: str | None = "valid") -> httpx.Response:
    if signature == "valid":
        signature = RequestValidator(AUTH_TOKEN).compute_signature("http://sunclock.test" + path, params)
    headers = {"Authorization": ""} | ({"X-Twilio-Signature": signature} if signature else {})
    return await client.post(path, data=params, headers=headers)


async def sent_incident(client, runtime, *, sms_only: bool = False) -> list[Notification]:
    """A registered incident whose notice went out; SMS rows get a Twilio SID."""
    await seed_departments(client)
    incident = await register(client, START)
    if sms_only:  # a step planned on SMS alone, as a district's rule may do
        async with transaction(runtime.sessions) as session:
            await session.execute(update(EscalationStep).values(channels=["sms"]))
    await runtime.scheduler.run_once()
    async with transaction(runtime.sessions) as session:  # the outbox's ids, as Twilio's would look
        for row in await rows(runtime, incident["id"]):
            if row.channel == "sms":
                await session.execute(update(Notification).where(Notification.id == row.id)
                                      .values(provider_id=f"SM{row.id:032d}"))
    return await rows(runtime, incident["id"])


async def rows(runtime, incident_id: int | None = None) -> list[Notification]:
    async with runtime.sessions() as session:
        query = select(Notification).order_by(Notification.id)
        if incident_id is not None:
            query = query.where(Notification.incident_id == incident_id)
        return list((await session.exec(query)).scalars())


async def timeline_kinds(client, incident_id: int) -> list[dict]:
    return (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()


def outcome(runtime, name: str) -> float:
    registry: CollectorRegistry = runtime.registry
    return registry.get_sample_value("sunclock_notifications_total", {"channel": "sms", "outcome": name}) or 0.0


async def test_callbacks_are_refused_without_a_configured_twilio_token(client, runtime, database_url):
    runtime.settings = make_settings(database_url)
    response = await post_signed(client, STATUS, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert response.status_code == 404 and "TWILIO_AUTH_TOKEN" in response.text


@pytest.mark.parametrize("signature", [None, "forged0000000000000000000000="])
async def test_a_missing_or_forged_signature_is_refused_and_changes_nothing(client, runtime, signature):
    sms = next(r for r in await sent_incident(client, runtime) if r.channel == "sms")
    for path, params in ((STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "delivered"}),
                         (SMS, {"From": HEAD, "Body": "1"})):
        response = await post_signed(client, path, params, signature)
        assert response.status_code == 403
    assert next(r for r in await rows(runtime) if r.id == sms.id).state == "sent"
    async with runtime.sessions() as session:
        assert (await session.exec(select(Acknowledgement))).scalars().all() == []


async def test_a_signature_over_other_fields_is_refused(client, runtime):
    sms = next(r for r in await sent_incident(client, runtime) if r.channel == "sms")
    signed = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://sunclock.test" + STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "sent"})
    response = await post_signed(client, STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "delivered"}, signed)
    assert response.status_code == 403


async def test_delivered_callback_marks_the_sms_delivered_once(client, runtime, clock):
    sms = next(r for r in await sent_incident(client, runtime) if r.channel == "sms")
    clock.advance(seconds=5)
    for _ in range(2):  # Twilio may repeat a callback
        response = await post_signed(client, STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "delivered"})
        assert response.status_code == 200
    row = next(r for r in await rows(runtime) if r.id == sms.id)
    assert row.state == "delivered" and row.delivered_at == clock.now()
    assert outcome(runtime, "delivered") == 1
    assert [e["kind"] for e in await timeline_kinds(client, sms.incident_id)].count("notification_delivered") == 1

    # A late "sent" or "failed" never moves a delivered message back.
    for status in ("sent", "failed"):
        await post_signed(client, STATUS,
                          {"MessageSid": sms.provider_id, "MessageStatus": status, "ErrorCode": "30003"})
    assert next(r for r in await rows(runtime) if r.id == sms.id).state == "delivered"


async def test_unknown_sid_and_intermediate_statuses_are_answered_and_ignored(client, runtime):
    before = await sent_incident(client, runtime)
    sms = next(r for r in before if r.channel == "sms")
    for params in ({"MessageSid": "SMunknown", "MessageStatus": "delivered"},
                   {"MessageSid": sms.provider_id, "MessageStatus": "queued"},
                   {"MessageSid": sms.provider_id, "MessageStatus": "sent"}):
        assert (await post_signed(client, STATUS, params)).status_code == 200
    assert [r.state for r in await rows(runtime)] == [r.state for r in before]


async def test_a_transient_carrier_failure_is_recorded_without_fallback(client, runtime):
    before = await sent_incident(client, runtime, sms_only=True)
    sms = before[0]
    response = await post_signed(client, STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "undelivered",
                                                  "ErrorCode": "30001"})
    assert response.status_code == 200
    after = await rows(runtime)
    assert len(after) == len(before) and after[0].state == "failed" and "queue overflow" in after[0].last_error
    assert outcome(runtime, "failed") == 1
    failed = [e for e in await timeline_kinds(client, sms.incident_id) if e["kind"] == "notification_failed"]
    assert failed[0]["detail"]["fallback"] is None


async def test_a_permanent_failure_falls_back_to_email_for_the_same_contact(client, runtime):
    [sms] = await sent_incident(client, runtime, sms_only=True)
    response = await post_signed(client, STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "failed",
                                                  "ErrorCode": "21211"})
    assert response.status_code == 200
    failed, email = await rows(runtime)
    assert failed.state == "failed" and "21211" in failed.last_error
    assert (email.channel, email.to, email.fallback_of, email.step_id, email.contact_id) == (
        "email", "wang@emb.example.org", sms.id, sms.step_id, sms.contact_id)
    await runtime.scheduler.run_once()
    assert (await rows(runtime))[1].state == "sent"
    failed_entry = next(e for e in await timeline_kinds(client, sms.incident_id) if e["kind"] == "notification_failed")
    assert failed_entry["detail"]["fallback"] == "email"


async def test_a_permanent_failure_never_duplicates_an_email_the_step_already_sent(client, runtime):
    before = await sent_incident(client, runtime)
    sms = next(r for r in before if r.channel == "sms")
    await post_signed(client, STATUS, {"MessageSid": sms.provider_id, "MessageStatus": "failed", "ErrorCode": "21211"})
    after = await rows(runtime)
    assert len(after) == len(before) and [r.channel for r in after].count("email") == 1


@pytest.mark.parametrize("word", ["1", " 收到 \n"])
async def test_replying_acknowledges_the_latest_message_to_that_number(client, runtime, clock, word):
    sent = await sent_incident(client, runtime)
    sms = next(r for r in sent if r.channel == "sms")
    response = await post_signed(client, SMS, {"From": HEAD, "Body": word, "MessageSid": "SMreply"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>" in response.text and "已签收" in response.text and "白蕉镇化工厂爆炸" in response.text
    again = await post_signed(client, SMS, {"From": HEAD, "Body": "1"})
    assert "已签收过" in again.text
    async with runtime.sessions() as session:
        acks = (await session.exec(select(Acknowledgement))).scalars().all()
    assert [(a.step_id, a.contact_id, a.notification_id, a.via) for a in acks] == [
        (sms.step_id, sms.contact_id, sms.id, "sms")]
    entries = [e for e in await timeline_kinds(client, sms.incident_id) if e["kind"] == "acknowledged"]
    assert len(entries) == 1 and entries[0]["detail"]["recipient"] == "王局长" and entries[0]["detail"]["via"] == "sms"
    shown = (await client.get(f"/api/v1/incidents/{sms.incident_id}")).json()
    assert all(o["state"] == "pending" for o in shown["obligations"])  # the clock keeps running


async def test_a_reply_picks_the_newest_message_among_several(client, runtime):
    await sent_incident(client, runtime)
    second = await register(client, START, title="第二起事件")
    await runtime.scheduler.run_once()
    newest = next(r for r in await rows(runtime, second["id"]) if r.channel == "sms")
    async with transaction(runtime.sessions) as session:  # sent a moment later than the first incident's notice
        await session.execute(update(Notification).where(Notification.id == newest.id)
                              .values(sent_at=START.replace(minute=1)))
    response = await post_signed(client, SMS, {"From": HEAD, "Body": "1"})
    assert "第二起事件" in response.text
    async with runtime.sessions() as session:
        [ack] = (await session.exec(select(Acknowledgement))).scalars().all()
    assert ack.notification_id == newest.id


async def test_other_replies_and_unknown_numbers_get_instructions(client, runtime):
    await sent_incident(client, runtime)
    other = await post_signed(client, SMS, {"From": HEAD, "Body": "好的"})
    assert other.status_code == 200 and "回复 1" in other.text
    stranger = await post_signed(client, SMS, {"From": "+8613900000000", "Body": "1"})
    assert stranger.status_code == 200 and "没有找到" in stranger.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(Acknowledgement))).scalars().all() == []
