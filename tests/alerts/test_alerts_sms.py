"""TwilioSmsChannel: the real twilio client against a local Twilio-compatible endpoint."""

from __future__ import annotations

import time

import pytest
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, HANG, FakeTwilio, Reply, twilio_error

from alerts.base import DeliveryError, Message, Receipt
from alerts.sms import TwilioSmsChannel
from alerts.twilio_errors import TWILIO_ERROR_CODES, classify_twilio_error

CALLBACK = "https://sunclock.example.org/webhooks/twilio/status"


def sms_message(to: str = "+8613800000001", callback: str | None = CALLBACK) -> Message:
    return Message(
        channel="sms",
        to=to,
        subject="",
        body="【Sunclock】提醒：测试事件（Ⅰ级）「发布权威信息」截止11月28日 19:30，剩余2小时。回复1确认收到\nhttps://x/ack/t",
        status_callback=callback,
    )


async def test_send_returns_the_message_sid(sms: TwilioSmsChannel, fake_twilio: FakeTwilio):
    receipt = await sms.send(sms_message())

    assert isinstance(receipt, Receipt)
    assert receipt.provider == "twilio"
    assert receipt.provider_id is not None and receipt.provider_id.startswith("SM")
    assert len(receipt.provider_id) == 34


async def test_request_carries_to_from_body_and_status_callback(sms, fake_twilio: FakeTwilio):
    message = sms_message()
    await sms.send(message)

    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorized
    assert request.form == {
        "To": message.to,
        "From": FROM_NUMBER,
        "Body": message.body,
        "StatusCallback": CALLBACK,
    }


async def test_status_callback_is_left_out_when_the_message_has_none(sms, fake_twilio: FakeTwilio):
    await sms.send(sms_message(callback=None))

    assert "StatusCallback" not in fake_twilio.requests[0].form


async def test_api_base_with_a_path_prefix_is_kept(fake_twilio: FakeTwilio):
    # A reverse proxy may publish the endpoint under a path; the prefix must
    # survive the rebasing. The fake serves at the root, so expect a 404 there.
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=fake_twilio.base_url + "/proxy/")
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(sms_message())
    finally:
        await channel.aclose()
    assert caught.value.code == "404"
    assert fake_twilio.requests == []


async def test_wrong_auth_token_is_permanent(fake_twilio: FakeTwilio):
    channel = TwilioSmsChannel(ACCOUNT_SID, "wrong-token", FROM_NUMBER, api_base=fake_twilio.base_url)
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(sms_message())
    finally:
        await channel.aclose()
    assert caught.value.permanent
    assert caught.value.code == "20003"


async def test_invalid_number_21211_is_permanent_with_its_code(sms, fake_twilio: FakeTwilio):
    fake_twilio.script(twilio_error(400, 21211, "The 'To' number +8613800000001 is not a valid phone number."))

    with pytest.raises(DeliveryError) as caught:
        await sms.send(sms_message())

    assert caught.value.permanent
    assert caught.value.code == "21211"
    assert "invalid 'To' number" in caught.value.reason
    assert "+8613800000001" not in caught.value.reason  # numbers are masked in reasons,
    assert "+86138****0001" in caught.value.reason  # the same way as in the logs


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (twilio_error(500, 20500, "Internal Server Error"), "20500"),
        (Reply(500, {"message": "oops"}), "500"),
        (Reply(503, {"status": 503}), "503"),
        (twilio_error(429, 20429, "Too Many Requests"), "20429"),
        (Reply(429, {"message": "Too Many Requests", "status": 429}), "429"),
    ],
    ids=["500-with-code", "500-without-code", "503", "429-with-code", "429-without-code"],
)
async def test_server_errors_and_rate_limits_are_transient(sms, fake_twilio: FakeTwilio, reply, code):
    fake_twilio.script(reply)

    with pytest.raises(DeliveryError) as caught:
        await sms.send(sms_message())

    assert not caught.value.permanent
    assert caught.value.code == code


async def test_a_retry_after_a_transient_error_goes_through(sms, fake_twilio: FakeTwilio):
    fake_twilio.script(Reply(503, {"status": 503}))
    with pytest.raises(DeliveryError):
        await sms.send(sms_message())

    receipt = await sms.send(sms_message())

    assert receipt.provider_id.startswith("SM")
    assert len(fake_twilio.requests) == 2


async def test_hanging_server_times_out_as_transient(fake_twilio: FakeTwilio):
    fake_twilio.script(HANG)
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=fake_twilio.base_url, timeout=0.3)
    started = time.monotonic()  # measures the test's own duration, not domain time
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(sms_message())
    finally:
        await channel.aclose()

    assert not caught.value.permanent
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 2.0


async def test_connection_refused_is_transient(fake_twilio: FakeTwilio):
    base = fake_twilio.base_url
    await fake_twilio.close()  # nothing listens on that port any more
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=base, timeout=2.0)
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(sms_message())
    finally:
        await channel.aclose()

    assert not caught.value.permanent
    assert caught.value.code == "connection"


async def test_channel_can_send_again_after_aclose(sms, fake_twilio: FakeTwilio):
    await sms.send(sms_message())
    await sms.aclose()

    await sms.send(sms_message())

    assert len(fake_twilio.requests) == 2


@pytest.mark.parametrize("api_base", ["127.0.0.1:4010", "ftp://host", "http://", "http://h/?q=1"])
def test_malformed_api_base_fails_at_construction(api_base):
    with pytest.raises(ValueError):
        TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=api_base)


async def test_refuses_an_email_message(sms):
    with pytest.raises(ValueError):
        await sms.send(Message(channel="email", to="a@b.c", subject="s", body="b"))


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),  # invalid To
        (400, 21614, True),  # not a mobile number
        (400, 21610, True),  # unsubscribed
        (400, 21408, True),  # region not enabled
        (400, 21606, True),  # From cannot send SMS
        (400, 21612, True),  # To unreachable from this From
        (None, 30003, True),  # delivery errors, from status callbacks
        (None, 30004, True),
        (None, 30005, True),
        (None, 30006, True),
        (None, 30007, True),
        (None, 30008, True),
        (None, 30001, False),  # queue overflow
        (401, 20003, True),  # bad credentials
        (429, 20429, False),
        (429, None, False),
        (500, None, False),
        (502, None, False),
        (503, 20503, False),
        (400, 99999, True),  # unknown code on a 4xx
        (404, None, True),
        (422, None, True),
        (500, 99999, False),  # unknown code on a 5xx
        (None, 99999, False),  # unknown delivery error: do not give up on SMS
    ],
)
def test_classification_table(status, code, permanent):
    assert classify_twilio_error(status, code)[0] is permanent


def test_every_listed_code_has_a_reason():
    assert all(reason for _, reason in TWILIO_ERROR_CODES.values())


@pytest.mark.parametrize(("text", "masked"), [
    ("The 'To' number 8613800000001 is not valid", "The 'To' number 86138****0001 is not valid"),
    ("call 13800000001 now", "call 138****0001 now"),
    ("sid SM0123456789abcdef at 1764400000", "sid SM0123456789abcdef at 1764400000"),
])
def test_a_number_without_its_plus_is_masked_but_ids_and_timestamps_are_not(text, masked):
    from alerts.masking import mask

    assert mask(text) == masked


async def test_the_message_log_lists_what_went_to_a_number_since_a_time_across_pages(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio):
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(seconds=5)
    sent = [await sms.send(sms_message()) for _ in range(3)]
    await sms.send(sms_message(to="+8613800000002"))
    fake_twilio.log[0]["_sent"] = since - timedelta(days=1)  # the first went out the day before

    import alerts.sms
    alerts.sms.LOG_PAGE, page = 1, alerts.sms.LOG_PAGE  # one message a page: the client must follow next_page_uri
    try:
        found = await sms.sent_since("+8613800000001", since)
    finally:
        alerts.sms.LOG_PAGE = page

    assert {m.provider_id for m in found} == {r.provider_id for r in sent[1:]}
    assert all(m.body == sms_message().body and m.sent_at is not None for m in found)
    first = fake_twilio.log_requests[0]
    assert first["To"] == "+8613800000001" and first["DateSent>"] == since.date().isoformat()
    assert len(fake_twilio.log_requests) == 2  # a page for each message, the last without a next page


async def test_a_log_that_cannot_be_read_is_a_transient_error(sms: TwilioSmsChannel, fake_twilio: FakeTwilio):
    from datetime import UTC, datetime

    fake_twilio.outage = twilio_error(500, 20500, "Internal Server Error")
    with pytest.raises(DeliveryError) as raised:
        await sms.sent_since("+8613800000001", datetime.now(UTC))
    assert not raised.value.permanent
