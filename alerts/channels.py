"""Builds the channels from settings: the one place where a channel plugs in.

``monitor`` turns its settings into these small configs and calls
:func:`build_channels` once at start-up. A channel without a config delivers
into the outbox, so a fresh install works end to end; check
``channel.provider == "outbox"`` to say so at start-up and on the board.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
class AliyunConfig:
    """Alibaba Cloud SMS (SPEC §15.1), used instead of Twilio when given."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    sign_name: str
    endpoint: str | None = None  # e.g. "http://127.0.0.1:9000"; None = Aliyun itself
    templates: Path | None = None  # the template file; None = the shipped alerts/aliyun_templates.yaml
    timeout: float = 10.0


def parse_endpoint(endpoint: str) -> tuple[str, str]:
    """An Aliyun endpoint URL, ``http(s)://host[:port]``, as the SDK's Config takes
    it: (protocol, host[:port]). Settings check it with this at start-up."""
    parts = urlsplit(endpoint.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ValueError(f"must look like https://host[:port] (no path), got {endpoint!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError as exc:
        raise ValueError(f"has a bad port: {endpoint!r}") from exc
    return parts.scheme, parts.netloc


@dataclass(frozen=True, kw_only=True)
class VoiceConfig:
    """Twilio calls: the account's credentials, a voice-capable number, and the
    service's public URL, where the key presses and call outcomes come back."""

    twilio: TwilioConfig
    public_url: str
    language: str = "zh"


def build_channels(
    *, twilio: TwilioConfig | None, smtp: SmtpConfig | None, aliyun: AliyunConfig | None = None,
    voice: VoiceConfig | None = None,
) -> dict[ChannelName, Channel]:
    """Raises :class:`rules.RulesInvalid` (file, line, field) for a bad Aliyun template file."""
    sms: Channel
    if aliyun is not None:
        sms = _aliyun_channel(aliyun)
    elif twilio is None:
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


def _aliyun_channel(config: AliyunConfig) -> Channel:
    # Loaded only here, like the Twilio client: the SDK is slow to import.
    from alerts.aliyun_sms import AliyunSmsChannel
    from alerts.aliyun_templates import load_aliyun_templates

    return AliyunSmsChannel(
        config.access_key_id,
        config.access_key_secret,
        config.sign_name,
        load_aliyun_templates(config.templates),
        endpoint=config.endpoint,
        timeout=config.timeout,
    )


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
