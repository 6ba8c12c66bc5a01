"""Alibaba Cloud SMS through the whole service (SPEC §15.1): channels built from
settings, the real SDK, a local dysmsapi-compatible endpoint, and the one retry
and fallback policy of every channel."""

from __future__ import annotations

import pytest
from support import register, seed_departments, sms_only_rules

from monitor.models import Notification
from monitor.runtime import channels_from
from tests.alerts.alerts_fake_aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, FakeAliyunSms, refusal
from tests.conftest import START, make_settings


@pytest.fixture
async def fake_aliyun():
    async with FakeAliyunSms() as server:
        yield server


@pytest.fixture
def aliyun_runtime(runtime, database_url, fake_aliyun):
    """The runtime with its SMS channel built from SUNCLOCK_SMS_PROVIDER=aliyun settings."""
    settings = make_settings(database_url, sms_provider="aliyun", aliyun_access_key_id=ACCESS_KEY_ID,
                             aliyun_access_key_secret=ACCESS_KEY_SECRET, aliyun_sms_sign_name=SIGN_NAME,
                             aliyun_sms_endpoint=fake_aliyun.endpoint, aliyun_timeout=2)
    runtime.channels["sms"] = channels_from(settings)["sms"]
    return runtime


async def notifications(client) -> list[dict]:
    return sorted((await client.get("/api/v1/notifications")).json(), key=lambda n: n["id"])


async def stored(runtime, notification_id: int) -> Notification:
    async with runtime.sessions() as session:
        return await session.get(Notification, notification_id)


async def test_an_sms_goes_out_as_a_signed_template_and_keeps_the_biz_id(client, aliyun_runtime, fake_aliyun):
    await seed_departments(client)
    await register(client, START)
    await aliyun_runtime.scheduler.run_once()

    [request] = fake_aliyun.requests
    assert request.signed and (request.sign_name, request.template_code) == (SIGN_NAME, "SMS_480100001")
    assert request.phone_numbers == "+8613800000001"
    params = request.template_param
    assert (params["title"], params["severity"]) == ("白蕉镇化工厂爆炸", "Ⅰ")
    assert params["duty"] == "发布权威信息、举行新闻发布会"  # the registered notice names every duty
    assert (params["due"], params["left"]) == ("11月28日 15:00", "剩余5小时")  # 5 hours after 10:00 local
    assert params["link"].startswith("ack/")
    sms = next(n for n in await notifications(client) if n["channel"] == "sms")
    assert sms["state"] == "sent"
    row = await stored(aliyun_runtime, sms["id"])
    assert (row.provider, row.provider_id) == ("aliyun", "900619746936498440^0")


async def test_a_transient_refusal_is_retried_and_then_sent(client, aliyun_runtime, fake_aliyun, clock, tmp_path):
    aliyun_runtime.rules = aliyun_runtime.dispatcher.rules = sms_only_rules(tmp_path)
    await seed_departments(client)
    fake_aliyun.script(refusal("isp.SYSTEM_ERROR", "System error"))
    await register(client, START)
    await aliyun_runtime.scheduler.run_once()
    [sms] = await notifications(client)
    assert (sms["state"], sms["attempts"]) == ("pending", 1)

    clock.set((await stored(aliyun_runtime, sms["id"])).next_attempt_at)
    while await aliyun_runtime.scheduler.run_once():
        pass

    [sms] = await notifications(client)
    assert (sms["state"], sms["attempts"]) == ("sent", 2)
    first, second = fake_aliyun.requests
    assert first.template_code == second.template_code == "SMS_480100001"
    # Rendered again before the retry, like any message: it tells the time left then.
    assert (first.template_param["left"], second.template_param["left"]) == ("剩余5小时", "剩余4小时59分")


async def test_an_illegal_number_is_not_retried_and_falls_back_to_email(client, aliyun_runtime, fake_aliyun,
                                                                        tmp_path):
    aliyun_runtime.rules = aliyun_runtime.dispatcher.rules = sms_only_rules(tmp_path)
    await seed_departments(client)
    fake_aliyun.script(refusal("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
    await register(client, START)
    await aliyun_runtime.scheduler.run_once()
    await aliyun_runtime.scheduler.run_once()  # the fallback is due at once

    sms, email = await notifications(client)
    assert (sms["channel"], sms["state"], sms["attempts"]) == ("sms", "failed", 1)
    assert (email["channel"], email["to"], email["state"]) == ("email", "wang@emb.example.org", "sent")
    assert (await stored(aliyun_runtime, email["id"])).fallback_of == sms["id"]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in (await stored(aliyun_runtime, sms["id"])).last_error
    assert len(fake_aliyun.requests) == 1  # never retried
