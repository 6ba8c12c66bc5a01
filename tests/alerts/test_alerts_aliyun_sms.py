"""AliyunSmsChannel: the official dysmsapi SDK against a local dysmsapi-compatible endpoint."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_fake_aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, HANG, SIGN_NAME, FakeAliyunSms, refusal

from alerts.aliyun_errors import ALIYUN_ERROR_CODES, classify_aliyun_error
from alerts.aliyun_sms import AliyunSmsChannel
from alerts.aliyun_templates import AliyunTemplates, Template, load_aliyun_templates
from alerts.base import DeliveryError, Message
from alerts.policy import decide, other_channel
from alerts.render import DeadlineInfo, MessageContext, render

OCCURRED = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai
ACK = "https://sunclock.example.org/ack/WzEyMzQ1Niw0MzIxXQ.axEYkQ.8KCFAkp8JTuq_2OzPgi9PXbQS3c"


def sms(step: str = "warning", *, kind: str = "emergency", title: str = "白蕉镇化工厂爆炸", to: str = "+8613800000001",
        now: datetime | None = None) -> Message:
    release = DeadlineInfo("authoritative_release", "发布权威信息", OCCURRED + timedelta(hours=5), "pending")
    context = MessageContext(
        step=step, occurrence=1, incident_id=7, incident_title=title, severity="I", department_name="区应急管理局",
        occurred_at=OCCURRED, deadlines=(release,), now=now or OCCURRED + timedelta(hours=4), ack_url=ACK,
        recipient_name="王局长", kind=kind)
    rendered = render(context, "sms")
    return Message("sms", to, rendered.subject, rendered.body, rendered.html)


@pytest.fixture
async def fake_aliyun():
    async with FakeAliyunSms() as server:
        yield server


def channel_for(fake: FakeAliyunSms, *, templates: AliyunTemplates | None = None, secret: str = ACCESS_KEY_SECRET,
                timeout: float = 2.0) -> AliyunSmsChannel:
    return AliyunSmsChannel(ACCESS_KEY_ID, secret, SIGN_NAME, templates or load_aliyun_templates(),
                            endpoint=fake.endpoint, timeout=timeout)


@pytest.fixture
def aliyun(fake_aliyun: FakeAliyunSms) -> AliyunSmsChannel:
    return channel_for(fake_aliyun)


async def test_a_signed_request_carries_signature_template_and_parameters(aliyun, fake_aliyun):
    receipt = await aliyun.send(sms("warning"))

    [request] = fake_aliyun.requests
    assert (request.action, request.access_key_id, request.signed) == ("SendSms", ACCESS_KEY_ID, True)
    assert request.sign_name == SIGN_NAME
    assert request.template_code == "SMS_480100003"  # the shipped file's warning template
    assert request.phone_numbers == "+8613800000001"
    assert request.template_param == {
        "title": "白蕉镇化工厂爆炸", "severity": "Ⅰ", "duty": "发布权威信息", "due": "11月28日 19:30",
        "left": "剩余1小时", "link": "ack/WzEyMzQ1Niw0MzIxXQ.axEYkQ.8KCFAkp8JTuq_2OzPgi9PXbQS3c"}
    assert (receipt.provider, receipt.provider_id) == ("aliyun", "900619746936498440^0")  # the BizId


async def test_overdue_time_and_each_step_its_template(aliyun, fake_aliyun):
    await aliyun.send(sms("breached", now=OCCURRED + timedelta(hours=6, minutes=30)))

    [request] = fake_aliyun.requests
    assert request.template_code == "SMS_480100005"
    assert request.template_param["left"] == "已超时1小时30分"


async def test_a_kind_of_matter_with_its_own_template_uses_it_and_others_the_default(aliyun, fake_aliyun):
    await aliyun.send(sms("breached", kind="disclosure_request"))
    await aliyun.send(sms("breached", kind="public_opinion"))

    assert [r.template_code for r in fake_aliyun.requests] == ["SMS_480100008", "SMS_480100005"]


async def test_values_are_cut_to_the_35_characters_aliyun_allows(aliyun, fake_aliyun):
    fits = "斗门区白蕉镇某精细化工厂储罐区发生爆炸并引发大面积火灾造成多人受伤事故"
    assert len(fits) == 35
    await aliyun.send(sms(title=fits))
    await aliyun.send(sms(title=fits + "续"))

    kept, cut = (r.template_param["title"] for r in fake_aliyun.requests)
    assert kept == fits
    assert cut == fits[:34] + "…" and len(cut) == 35


async def test_a_link_that_does_not_fit_fails_permanently_instead_of_being_cut(fake_aliyun):
    templates = AliyunTemplates(Path("inline.yaml"), {
        ("warning", "default"): Template(step="warning", code="SMS_1", params={"link": "ack_path"})})
    with pytest.raises(DeliveryError) as raised:
        await channel_for(fake_aliyun, templates=templates).send(sms("warning"))

    assert raised.value.permanent and raised.value.code == "param_too_long"
    assert "ack_path is 57 characters, over the 35" in raised.value.reason
    assert fake_aliyun.requests == []


@pytest.mark.parametrize(("stored", "sent"), [
    ("+8613800000001", "+8613800000001"),  # mainland: +86 is one of the forms Aliyun documents
    ("+85212345678", "85212345678"),  # elsewhere: country code and number, no "+"
])
async def test_numbers_go_in_the_form_aliyun_takes(aliyun, fake_aliyun, stored, sent):
    await aliyun.send(sms(to=stored))
    assert fake_aliyun.requests[0].phone_numbers == sent


# Answer code, HTTP status, permanent? — as the real SDK reports them from the wire.
REFUSALS = [
    ("isv.MOBILE_NUMBER_ILLEGAL", 200, True),
    ("isv.SMS_TEMPLATE_ILLEGAL", 200, True),
    ("isv.SMS_SIGNATURE_ILLEGAL", 200, True),
    ("isv.AMOUNT_NOT_ENOUGH", 200, True),
    ("isv.TEMPLATE_MISSING_PARAMETERS", 200, True),
    ("isp.SYSTEM_ERROR", 200, False),
    ("isv.BUSINESS_LIMIT_CONTROL", 200, False),
    ("Throttling.User", 400, False),
    ("ServiceUnavailable", 503, False),
    ("InvalidAccessKeyId.NotFound", 404, True),
]


@pytest.mark.parametrize(("code", "status", "permanent"), REFUSALS)
async def test_refusals_are_classified_from_the_wire(aliyun, fake_aliyun, code, status, permanent):
    fake_aliyun.script(refusal(code, f"{code} for +8613800000001", status))
    with pytest.raises(DeliveryError) as raised:
        await aliyun.send(sms())

    assert (raised.value.code, raised.value.permanent) == (code, permanent)
    assert "+8613800000001" not in raised.value.reason and "+86138****0001" in raised.value.reason


async def test_a_wrong_secret_is_refused_by_the_signature_check_and_not_retried(fake_aliyun):
    with pytest.raises(DeliveryError) as raised:
        await channel_for(fake_aliyun, secret="not-the-secret").send(sms())

    assert fake_aliyun.requests[0].signed is False
    assert (raised.value.code, raised.value.permanent) == ("SignatureDoesNotMatch", True)
    assert "SUNCLOCK_ALIYUN_ACCESS_KEY_SECRET" in raised.value.reason


async def test_no_answer_within_the_timeout_is_transient(fake_aliyun):
    fake_aliyun.script(HANG)
    with pytest.raises(DeliveryError) as raised:
        await channel_for(fake_aliyun, timeout=0.3).send(sms())

    assert (raised.value.code, raised.value.permanent) == ("timeout", False)


async def test_an_unreachable_endpoint_is_transient():
    async with FakeAliyunSms() as gone:
        endpoint = gone.endpoint
    channel = AliyunSmsChannel(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, load_aliyun_templates(),
                               endpoint=endpoint, timeout=1.0)
    with pytest.raises(DeliveryError) as raised:
        await channel.send(sms())

    assert (raised.value.code, raised.value.permanent) == ("connection", False)


async def test_a_message_rendered_without_facts_fails_permanently(aliyun, fake_aliyun):
    with pytest.raises(DeliveryError) as raised:
        await aliyun.send(Message("sms", "+8613800000001", "", "text only", None))

    assert (raised.value.code, raised.value.permanent) == ("no_facts", True)
    assert fake_aliyun.requests == []


async def test_a_transient_refusal_is_retried_by_the_policy_and_then_succeeds(aliyun, fake_aliyun):
    fake_aliyun.script(refusal("isp.SYSTEM_ERROR"))
    message = sms()
    with pytest.raises(DeliveryError) as raised:
        await aliyun.send(message)
    decision = decide(1, raised.value, OCCURRED, rng=random.Random(1))
    assert decision.action == "retry" and decision.retry_at <= OCCURRED + timedelta(seconds=5)

    receipt = await aliyun.send(message)  # the retry, with the same stored message

    assert receipt.provider_id
    assert [r.template_param for r in fake_aliyun.requests][0] == fake_aliyun.requests[1].template_param


async def test_an_illegal_number_is_not_retried_but_falls_back_to_email(aliyun, fake_aliyun):
    fake_aliyun.script(refusal("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
    with pytest.raises(DeliveryError) as raised:
        await aliyun.send(sms(to="+861380000"))

    decision = decide(1, raised.value, OCCURRED)
    assert (decision.action, decision.retry_at) == ("fallback", None)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in decision.reason
    assert other_channel(aliyun.name) == "email"


# The table itself, and what it decides for codes it does not list.
CLASSIFIED = [
    ("isv.MOBILE_NUMBER_ILLEGAL", 200, True),
    ("isv.SOMETHING_NEW", 200, True),  # the caller's side: retrying the same request cannot help
    ("isp.SOMETHING_NEW", 200, False),  # Aliyun's side
    ("Throttling.Whatever", 400, False),
    ("UnknownError", 500, False),
    ("UnknownError", 429, False),
    ("UnknownError", 403, True),
    (None, None, False),
]


@pytest.mark.parametrize(("code", "status", "permanent"), CLASSIFIED)
def test_classification(code, status, permanent):
    assert classify_aliyun_error(code, status)[0] is permanent


def test_the_table_knows_the_codes_the_spec_names():
    assert ALIYUN_ERROR_CODES["isv.MOBILE_NUMBER_ILLEGAL"][0] is True
    assert ALIYUN_ERROR_CODES["isp.SYSTEM_ERROR"][0] is False
    assert ALIYUN_ERROR_CODES["isv.BUSINESS_LIMIT_CONTROL"][0] is False
    for code in ("isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.AMOUNT_NOT_ENOUGH"):
        assert ALIYUN_ERROR_CODES[code][0] is True, code
