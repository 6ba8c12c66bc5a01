"""TwilioVoiceChannel: the real twilio client placing calls on a local Twilio-compatible endpoint."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, HANG, FakeTwilio, twilio_error

from alerts.base import DeliveryError, Message
from alerts.channels import TwilioConfig, VoiceConfig, build_channels
from alerts.outbox import OutboxChannel
from alerts.voice import TwilioVoiceChannel, call_twiml, reply_twiml, split_ack_link

PUBLIC = "https://sunclock.example.org"
CALLBACK = PUBLIC + "/webhooks/twilio/status"
SPOKEN = ("这里是Sunclock最后预警。区应急管理局，白蕉镇化工厂爆炸，一级突发事件，"
          "“发布权威信息”于11月28日 15:00截止，剩余30分钟。确认收到请按1。")
TOKEN = "WzEsMl0.aXsZ.sig"


def call_message(body: str = f"{SPOKEN}\n{PUBLIC}/ack/{TOKEN}", **changes) -> Message:
    return Message(**{"channel": "voice", "to": "+8613800000001", "subject": "", "body": body,
                      "status_callback": CALLBACK} | changes)


@pytest.fixture
async def voice(fake_twilio: FakeTwilio):
    channel = TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_url=PUBLIC,
                                 api_base=fake_twilio.base_url, timeout=2.0)
    yield channel
    await channel.aclose()


async def test_a_call_says_the_text_in_chinese_and_asks_for_1_on_the_key_press_webhook(voice, fake_twilio):
    receipt = await voice.send(call_message())

    assert receipt.provider == "twilio" and receipt.provider_id.startswith("CA") and len(receipt.provider_id) == 34
    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json" and request.authorized
    assert (request.form["To"], request.form["From"]) == ("+8613800000001", FROM_NUMBER)
    assert (request.form["StatusCallback"], request.form["StatusCallbackMethod"]) == (CALLBACK, "POST")
    assert "Url" not in request.form  # the TwiML goes inline
    twiml = ET.fromstring(request.form["Twiml"])
    gathers = twiml.findall("Gather")
    assert len(gathers) == 2  # said again when no key came
    for gather in gathers:
        assert gather.get("numDigits") == "1" and gather.get("method") == "POST"
        assert gather.get("action") == f"{PUBLIC}/webhooks/twilio/voice/{TOKEN}"
        [say] = gather.findall("Say")
        assert say.get("language") == "zh-CN" and say.text == SPOKEN


async def test_english_calls_speak_english(fake_twilio):
    channel = TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_url=PUBLIC, language="en",
                                 api_base=fake_twilio.base_url)
    try:
        await channel.send(call_message(body=f"Press 1 to acknowledge.\n{PUBLIC}/ack/{TOKEN}"))
    finally:
        await channel.aclose()
    assert ET.fromstring(fake_twilio.requests[0].form["Twiml"]).find("Gather/Say").get("language") == "en-US"


async def test_an_invalid_number_is_permanent_and_a_server_error_transient(voice, fake_twilio):
    fake_twilio.script(twilio_error(400, 21211, "The 'To' number +8613800000001 is not a valid phone number."),
                       twilio_error(503, 20503, "Service unavailable"))
    with pytest.raises(DeliveryError) as invalid:
        await voice.send(call_message())
    with pytest.raises(DeliveryError) as unavailable:
        await voice.send(call_message())

    assert (invalid.value.permanent, invalid.value.code) == (True, "21211")
    assert "+8613800000001" not in invalid.value.reason  # masked: the timeline is read by other departments
    assert (unavailable.value.permanent, unavailable.value.code) == (False, "20503")


async def test_a_hanging_api_times_out_as_transient(fake_twilio):
    fake_twilio.script(HANG)
    channel = TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_url=PUBLIC,
                                 api_base=fake_twilio.base_url, timeout=0.3)
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(call_message())
    finally:
        await channel.aclose()
    assert (caught.value.permanent, caught.value.code) == (False, "timeout")


async def test_a_body_without_its_link_is_refused_before_calling(voice, fake_twilio):
    with pytest.raises(DeliveryError) as caught:
        await voice.send(call_message(body=SPOKEN))
    assert caught.value.permanent and fake_twilio.requests == []


async def test_refuses_an_sms_message(voice):
    with pytest.raises(ValueError):
        await voice.send(call_message(channel="sms"))


def test_split_ack_link_takes_the_token_of_the_last_line():
    assert split_ack_link(f"第一行\n第二行\n{PUBLIC}/ack/{TOKEN}\n") == ("第一行\n第二行", TOKEN)


def test_a_text_too_long_for_two_readings_is_read_once_and_a_huge_one_refused():
    once = call_twiml("很" * 2500, action=f"{PUBLIC}/webhooks/twilio/voice/t", language="zh")
    assert len(ET.fromstring(once).findall("Gather")) == 1
    with pytest.raises(DeliveryError):
        call_twiml("很" * 4000, action=f"{PUBLIC}/webhooks/twilio/voice/t", language="zh")


def test_a_reply_either_hangs_up_or_asks_again():
    done = ET.fromstring(reply_twiml("已签收，谢谢。", language="zh"))
    assert [child.tag for child in done] == ["Say", "Hangup"] and done.find("Say").get("language") == "zh-CN"
    again = ET.fromstring(reply_twiml("请按1。", language="zh", again=f"{PUBLIC}/webhooks/twilio/voice/t"))
    assert again.find("Gather").get("action") == f"{PUBLIC}/webhooks/twilio/voice/t"


def test_without_twilio_settings_calls_go_to_the_outbox_and_with_them_through_twilio():
    assert isinstance(build_channels(twilio=None, smtp=None)["voice"], OutboxChannel)
    twilio = TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=FROM_NUMBER)
    channel = build_channels(twilio=None, smtp=None, voice=VoiceConfig(twilio=twilio, public_url=PUBLIC))["voice"]
    assert isinstance(channel, TwilioVoiceChannel) and (channel.name, channel.provider) == ("voice", "twilio")


@pytest.mark.parametrize("bad", [{"language": "fr"}, {"public_url": "sunclock.example.org"}])
def test_bad_settings_fail_at_construction(bad):
    with pytest.raises(ValueError):
        TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, **({"public_url": PUBLIC} | bad))
