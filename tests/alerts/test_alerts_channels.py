"""build_channels: settings in, one channel per name out."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest
from alerts_fake_smtp import smtp_server
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

from alerts.base import Message
from alerts.channels import SmtpConfig, TwilioConfig, build_channels
from alerts.email import SmtpEmailChannel
from alerts.outbox import OutboxChannel
from alerts.sms import TwilioSmsChannel
from monitor.runtime import channels_from
from monitor.settings import Settings


async def test_without_settings_every_channel_delivers_into_the_outbox():
    channels = build_channels(twilio=None, smtp=None)

    assert set(channels) == {"sms", "email", "voice"}
    for name, channel in channels.items():
        assert isinstance(channel, OutboxChannel)
        assert channel.name == name
        assert channel.provider == "outbox"
    receipt = await channels["sms"].send(Message("sms", "+8613800000001", "", "hi"))
    assert receipt.provider == "outbox"


def test_an_install_without_sms_settings_does_not_load_the_twilio_client():
    # A fifth of start-up (restart to first send is a goal of its own) on a
    # service that delivers into the outbox.
    script = ("import sys, monitor.cli, monitor.api.app; from alerts.channels import build_channels; "
              "build_channels(twilio=None, smtp=None); print(sorted({'aiohttp', 'twilio.rest'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_with_settings_each_channel_uses_its_provider():
    channels = build_channels(
        twilio=TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=FROM_NUMBER),
        smtp=SmtpConfig(host="smtp.example.org", port=587, from_addr="a@example.org", starttls=True),
    )

    assert isinstance(channels["sms"], TwilioSmsChannel)
    assert isinstance(channels["email"], SmtpEmailChannel)
    assert (channels["sms"].name, channels["sms"].provider) == ("sms", "twilio")
    assert (channels["email"].name, channels["email"].provider) == ("email", "smtp")


def test_one_provider_configured_the_other_in_the_outbox():
    channels = build_channels(
        twilio=None, smtp=SmtpConfig(host="smtp.example.org", port=25, from_addr="a@example.org")
    )

    assert channels["sms"].provider == "outbox"
    assert channels["email"].provider == "smtp"


def test_secrets_stay_out_of_config_reprs():
    twilio = TwilioConfig(account_sid=ACCOUNT_SID, auth_token="very-secret", from_=FROM_NUMBER)
    smtp = SmtpConfig(host="h", port=25, from_addr="a@b.c", username="u", password="very-secret")

    assert "very-secret" not in repr(twilio)
    assert "very-secret" not in repr(smtp)


async def test_built_sms_channel_honours_api_base(fake_twilio: FakeTwilio):
    channels = build_channels(
        twilio=TwilioConfig(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=FROM_NUMBER, api_base=fake_twilio.base_url
        ),
        smtp=None,
    )
    try:
        receipt = await channels["sms"].send(Message("sms", "+8613800000001", "", "hi"))
    finally:
        for channel in channels.values():
            await channel.aclose()

    assert receipt.provider == "twilio"
    assert receipt.provider_id.startswith("SM")
    assert len(fake_twilio.requests) == 1


# The settings that reach the channels (monitor.runtime.channels_from).


def _settings(**values):
    return Settings(_env_file=None, **values)


async def test_smtp_ca_file_setting_lets_starttls_trust_a_private_certificate(smtp_handler, tls):
    with smtp_server(smtp_handler, starttls_context=tls.server_context()) as server:
        settings = _settings(smtp_host=server.hostname, smtp_port=server.port, smtp_starttls=True,
                             smtp_ca_file=str(tls.cert), smtp_pool_size=2)
        email = channels_from(settings)["email"]
        await email.send(Message("email", "head@emb.example.org", "s", "b"))
        await email.aclose()

    assert len(smtp_handler.received) == 1
    assert email.pool._size == 2


async def test_smtp_validate_certs_false_accepts_an_untrusted_certificate(smtp_handler, tls):
    with smtp_server(smtp_handler, starttls_context=tls.server_context()) as server:
        settings = _settings(smtp_host=server.hostname, smtp_port=server.port, smtp_starttls=True,
                             smtp_validate_certs=False)
        email = channels_from(settings)["email"]
        await email.send(Message("email", "head@emb.example.org", "s", "b"))
        await email.aclose()

    assert len(smtp_handler.received) == 1


def test_a_missing_smtp_ca_file_is_refused_at_start_up(tmp_path):
    with pytest.raises(pydantic.ValidationError):
        _settings(smtp_host="h", smtp_ca_file=str(tmp_path / "missing.pem"))


def test_twilio_timeout_setting_reaches_the_sms_channel():
    settings = _settings(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_from=FROM_NUMBER,
                         twilio_timeout=3.5)

    assert channels_from(settings)["sms"].timeout == 3.5
