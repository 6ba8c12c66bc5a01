"""Builds the channels from settings: the one place where a channel plugs in.

``monitor`` turns its settings into these small configs and calls
:func:`build_channels` once at start-up. A channel without a config delivers
into the outbox, so a fresh install works end to end; check
``channel.provider == "outbox"`` to say so at start-up and on the board.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.base import Channel, ChannelName
from alerts.email import SmtpEmailChannel
from alerts.outbox import OutboxChannel


@dataclass(frozen=True, kw_only=True)
class TwilioConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    from_: str
    api_base: str | None = None  # e.g. "http://127.0.0.1:4010"; None = Twilio itself
    timeout: float = 10.0


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    host: str
    port: int
    from_addr: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    use_tls: bool = False  # implicit TLS (usually port 465)
    timeout: float = 10.0
    validate_certs: bool = True
    cert_bundle: str | None = None  # CA file for a private or self-signed server certificate
    pool_size: int = 4  # connections kept open and reused
    idle_seconds: float = 30.0  # an unused connection is reopened after this


@dataclass(frozen=True, kw_only=True)
class VoiceConfig:
    """Twilio calls: the account's credentials, a voice-capable number, and the
    service's public URL, where the key presses and call outcomes come back."""

    twilio: TwilioConfig
    public_url: str
    language: str = "zh"


def build_channels(
    *, twilio: TwilioConfig | None, smtp: SmtpConfig | None, voice: VoiceConfig | None = None
) -> dict[ChannelName, Channel]:
    sms: Channel
    if twilio is None:
        sms = OutboxChannel(ChannelName.SMS)
    else:
        # Loaded only here: the Twilio client and aiohttp take a noticeable part
        # of start-up, which an install delivering into the outbox can skip.
        from alerts.sms import TwilioSmsChannel

        sms = TwilioSmsChannel(
            twilio.account_sid,
            twilio.auth_token,
            twilio.from_,
            api_base=twilio.api_base,
            timeout=twilio.timeout,
        )
    email: Channel
    if smtp is None:
        email = OutboxChannel(ChannelName.EMAIL)
    else:
        email = SmtpEmailChannel(
            smtp.host,
            smtp.port,
            from_addr=smtp.from_addr,
            username=smtp.username,
            password=smtp.password,
            starttls=smtp.starttls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout,
            validate_certs=smtp.validate_certs,
            cert_bundle=smtp.cert_bundle,
            pool_size=smtp.pool_size,
            idle_seconds=smtp.idle_seconds,
        )
    return {ChannelName.SMS: sms, ChannelName.EMAIL: email, ChannelName.VOICE: _voice(voice)}


def _voice(config: VoiceConfig | None) -> Channel:
    if config is None:
        return OutboxChannel(ChannelName.VOICE)
    from alerts.voice import TwilioVoiceChannel  # loaded only here, like the SMS client

    return TwilioVoiceChannel(
        config.twilio.account_sid,
        config.twilio.auth_token,
        config.twilio.from_,
        public_url=config.public_url,
        language=config.language,
        api_base=config.twilio.api_base,
        timeout=config.twilio.timeout,
    )
