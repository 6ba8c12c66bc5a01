"""Calls for the last warnings (SPEC §15.2): placed with the real twilio client on
a local Twilio-compatible endpoint, acknowledged by a signed key press, failed
over to another channel when nobody answers, and stored in the outbox when
Twilio is not configured."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from support import hours, register
from twilio.request_validator import RequestValidator

from alerts.voice import TwilioVoiceChannel
from monitor.db import transaction
from monitor.models import Acknowledgement, EscalationStep, Notification
from monitor.runtime import channels_from
from tests.conftest import START, make_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio  # noqa: E402

PUBLIC = "http://sunclock.test"  # make_settings' public URL: signatures are computed over it
STATUS = "/webhooks/twilio/status"
HEAD = "+8613800000001"
FINAL_WARNING = START + hours(5) - timedelta(minutes=30)


@pytest.fixture
async def twilio():
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def calling(runtime, database_url, twilio, seeded):
    """The runtime placing real calls on the fake; the other channels stay in the outbox."""
    runtime.settings = make_settings(database_url, twilio_auth_token=AUTH_TOKEN)
    runtime.channels["voice"] = TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_url=PUBLIC,
                                                   api_base=twilio.base_url, timeout=5.0)
    return runtime


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def post_signed(client: httpx.AsyncClient, path: str, params: dict[str, str],
                      signature: str | None = "valid") -> httpx.Response:
    if signature == "valid":
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, params)
    headers = {"Authorization": ""} | ({"X-Twilio-Signature": signature} if signature else {})
    return await client.post(path, data=params, headers=headers)


async def rows(runtime, **where) -> list[Notification]:
    async with runtime.sessions() as session:
        query = select(Notification).filter_by(**where).order_by(Notification.id)
        return list((await session.exec(query)).scalars())


async def acks(runtime) -> list[Acknowledgement]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(Acknowledgement))).scalars())


async def final_warning_call(client, runtime, clock, twilio, *, voice_only: bool = False):
    """An incident whose release final warning has just called the head: (call row, its TwiML)."""
    await register(client, START)
    if voice_only:  # a district's rule that only calls at this step
        async with transaction(runtime.sessions) as session:
            await session.execute(update(EscalationStep).where(EscalationStep.kind == "final_warning")
                                  .values(channels=["voice"]))
    await run_at(runtime, clock, FINAL_WARNING)
    [call] = [r for r in twilio.requests if r.path.endswith("/Calls.json") and r.form["To"] == HEAD]
    [row] = await rows(runtime, channel="voice", to=HEAD)
    return row, ET.fromstring(call.form["Twiml"]), call.form


async def test_a_final_warning_calls_the_head_in_chinese_and_only_the_head(client, calling, clock, twilio):
    row, twiml, form = await final_warning_call(client, calling, clock, twilio)

    assert (form["To"], form["From"], form["StatusCallback"]) == (HEAD, FROM_NUMBER, PUBLIC + STATUS)
    gather = twiml.find("Gather")
    assert gather.get("numDigits") == "1" and gather.get("action").startswith(PUBLIC + "/webhooks/twilio/voice/")
    say = gather.find("Say")
    assert say.get("language") == "zh-CN"
    for words in ("白蕉镇化工厂爆炸", "发布权威信息", "剩余30分钟", "请按1"):
        assert words in say.text
    assert (row.step, row.recipient_name, row.to, row.state) == ("final_warning", "王局长", HEAD, "sent")
    assert row.provider_id.startswith("CA") and row.provider == "twilio"
    # The deputy and the supervisor get the final warning by SMS and email, not by phone.
    everyone = {(name, channel) for name in ("王局长", "李副局长", "陈主任") for channel in ("sms", "email")}
    assert {(r.recipient_name, r.channel) for r in await rows(calling, step="final_warning")} == everyone | {
        ("王局长", "voice")}


async def test_a_signed_key_press_of_1_acknowledges_once(client, calling, clock, twilio):
    row, twiml, form = await final_warning_call(client, calling, clock, twilio)
    path = urlsplit(twiml.find("Gather").get("action")).path
    clock.advance(seconds=40)

    said = []
    for _ in range(2):  # Twilio may repeat a request
        response = await post_signed(client, path, {"CallSid": row.provider_id, "Digits": "1", "To": HEAD})
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
        said.append(ET.fromstring(response.text).find("Say").text)
    assert said == ["已签收“白蕉镇化工厂爆炸”最后预警提醒，谢谢，再见。",
                    "您已签收过“白蕉镇化工厂爆炸”最后预警提醒，再见。"]
    [ack] = await acks(calling)
    assert (ack.step_id, ack.contact_id, ack.notification_id, ack.via, ack.at) == (
        row.step_id, row.contact_id, row.id, "voice", clock.now())
    timeline = (await client.get(f"/api/v1/incidents/{row.incident_id}/timeline")).json()
    assert [e["detail"]["via"] for e in timeline if e["kind"] == "acknowledged"] == ["voice"]


async def test_another_key_asks_again_and_records_nothing(client, calling, clock, twilio):
    row, twiml, _ = await final_warning_call(client, calling, clock, twilio)
    action = twiml.find("Gather").get("action")

    response = await post_signed(client, urlsplit(action).path, {"CallSid": row.provider_id, "Digits": "2"})
    assert response.status_code == 200
    assert ET.fromstring(response.text).find("Gather").get("action") == action
    assert await acks(calling) == []


@pytest.mark.parametrize("signature", [None, "forged0000000000000000000000="])
async def test_an_unsigned_or_forged_key_press_is_refused(client, calling, clock, twilio, signature):
    row, twiml, _ = await final_warning_call(client, calling, clock, twilio)
    path = urlsplit(twiml.find("Gather").get("action")).path

    response = await post_signed(client, path, {"CallSid": row.provider_id, "Digits": "1"}, signature)
    assert response.status_code == 403
    assert await acks(calling) == []


async def test_a_key_press_signed_for_another_path_or_with_a_broken_token_records_nothing(client, calling, clock,
                                                                                         twilio):
    row, twiml, _ = await final_warning_call(client, calling, clock, twilio)
    path = urlsplit(twiml.find("Gather").get("action")).path
    params = {"CallSid": row.provider_id, "Digits": "1"}
    other = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path + "x", params)

    assert (await post_signed(client, path, params, other)).status_code == 403
    response = await post_signed(client, path + "x", params)  # signed, but our token no longer verifies
    assert response.status_code == 200 and "没有找到" in response.text
    assert await acks(calling) == []


@pytest.mark.parametrize("outcome", ["no-answer", "busy", "failed", "canceled"])
async def test_an_unanswered_call_falls_back_to_sms_for_the_same_contact(client, calling, clock, twilio, outcome):
    row, _, _ = await final_warning_call(client, calling, clock, twilio, voice_only=True)

    response = await post_signed(client, STATUS, {"CallSid": row.provider_id, "CallStatus": outcome})
    assert response.status_code == 200
    [failed] = await rows(calling, channel="voice", to=HEAD)
    assert failed.state == "failed" and failed.last_error.startswith(outcome)
    [sms] = await rows(calling, channel="sms", step="final_warning")
    assert (sms.to, sms.contact_id, sms.fallback_of) == (HEAD, row.contact_id, row.id)
    await calling.scheduler.run_once()
    [sms] = await rows(calling, channel="sms", step="final_warning")
    assert sms.state == "sent"
    timeline = (await client.get(f"/api/v1/incidents/{row.incident_id}/timeline")).json()
    assert [e["detail"]["fallback"] for e in timeline if e["kind"] == "notification_failed"] == ["sms"]


async def test_an_unanswered_call_after_sms_and_email_is_recorded_without_another_message(client, calling, clock,
                                                                                           twilio):
    # The shipped rule calls the head on top of SMS and email: both were sent
    # for this step already, and one message per step, contact and channel.
    row, _, _ = await final_warning_call(client, calling, clock, twilio)
    before = len(await rows(calling))

    await post_signed(client, STATUS, {"CallSid": row.provider_id, "CallStatus": "no-answer"})
    assert len(await rows(calling)) == before
    assert (await rows(calling, channel="voice"))[0].state == "failed"
    timeline = (await client.get(f"/api/v1/incidents/{row.incident_id}/timeline")).json()
    [failed] = [e for e in timeline if e["kind"] == "notification_failed"]
    assert failed["detail"]["channel"] == "voice" and failed["detail"]["fallback"] is None


async def test_an_answered_call_is_delivered_and_ringing_changes_nothing(client, calling, clock, twilio):
    row, _, _ = await final_warning_call(client, calling, clock, twilio)

    await post_signed(client, STATUS, {"CallSid": row.provider_id, "CallStatus": "ringing"})
    assert (await rows(calling, channel="voice"))[0].state == "sent"
    await post_signed(client, STATUS, {"CallSid": row.provider_id, "CallStatus": "completed"})
    [delivered] = await rows(calling, channel="voice")
    assert delivered.state == "delivered" and delivered.delivered_at == clock.now()


async def test_without_twilio_settings_the_call_goes_to_the_outbox(client, seeded, runtime, clock):
    await register(client, START)
    await run_at(runtime, clock, FINAL_WARNING)

    [call] = [m for m in (await client.get("/api/v1/outbox")).json() if m["channel"] == "voice"]
    assert call["to"] == HEAD and "剩余30分钟" in call["body"] and "/ack/" in call["body"]
    assert "voice" in runtime.outbox_channels  # said at start-up, on /readyz and on the board


def test_calls_go_through_twilio_when_it_is_configured_from_the_voice_number(database_url):
    assert channels_from(make_settings(database_url))["voice"].provider == "outbox"
    settings = make_settings(database_url, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                             twilio_from=FROM_NUMBER, twilio_voice_from="+15005550007")
    voice = channels_from(settings)["voice"]
    assert isinstance(voice, TwilioVoiceChannel) and voice.provider == "twilio" and voice._from == "+15005550007"
