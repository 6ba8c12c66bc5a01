"""All configuration, from ``SUNCLOCK_*`` environment variables (SPEC §9).

Nothing else in Sunclock reads the environment.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, FilePath, PrivateAttr, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.channels import parse_endpoint
from rules import SHIPPED_DIR
from rules.vocabulary import SmsProvider
from rules.workdays import CALENDARS_DIR

MIN_SECRET_KEY_BYTES = 32
# Every placeholder that deploy/ has ever shown for SUNCLOCK_SECRET_KEY: a copy
# of an example file left as it was must not sign anything.
PLACEHOLDER_SECRET_KEYS = frozenset({
    "CHANGE-ME",
    "change-me-before-production",
    "replace-with-the-output-of-python3-c-import-secrets-print-secrets-token-urlsafe-32",
})

# What Alibaba Cloud SMS cannot do without; the endpoint and templates have defaults.
ALIYUN_NEEDED = ("aliyun_access_key_id", "aliyun_access_key_secret", "aliyun_sms_sign_name")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUNCLOCK_", extra="ignore")

    database_url: str = "sqlite:///sunclock.db"
    rules_dir: Path = SHIPPED_DIR
    calendars_dir: Path = CALENDARS_DIR
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    admin_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Proxies whose X-Forwarded-For names the client: comma-separated IPs or
    # CIDRs. Empty: trust none, the client is the peer that connected.
    trusted_proxies: str = ""

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_api_base: str | None = None
    twilio_timeout: float = Field(default=10.0, gt=0, le=120)
    # The voice-capable number calls come from (SPEC §15.2); TWILIO_FROM when unset.
    twilio_voice_from: str | None = None

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_from: str = "sunclock@localhost"
    # A CA file (PEM) for a relay with a private or self-signed certificate.
    smtp_ca_file: FilePath | None = None
    smtp_validate_certs: bool = True
    # Connections kept open to the relay and reused; one is reopened after an
    # error and after smtp_idle_seconds unused.
    smtp_pool_size: int = Field(default=4, ge=1, le=64)
    smtp_idle_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Alibaba Cloud SMS (SPEC §15.1): approved templates under a registered signature.
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str | None = None
    aliyun_sms_endpoint: str | None = None  # a full URL, e.g. http://127.0.0.1:9000; unset: Aliyun's
    aliyun_sms_templates: FilePath | None = None  # unset: the shipped alerts/aliyun_templates.yaml
    aliyun_timeout: float = Field(default=10.0, gt=0, le=120)
    # Declared after the providers' settings: its check reads them. Unset: Twilio
    # when its settings are present, else Alibaba Cloud when its are.
    sms_provider: SmsProvider | None = Field(default=None, validate_default=True)

    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"

    # How often the scheduler sweeps the database for due work, whatever it
    # expects: the safety net under its precise wake-ups.
    sweep_seconds: float = Field(default=1.0, gt=0, le=60)
    # How long a claimed notification stays with the replica that claimed it.
    lease_seconds: float = Field(default=60.0, ge=5, le=3600)
    send_concurrency: int = Field(default=50, ge=1, le=1000)
    # The longest wait between two tries of a failed send (the delays double up
    # to it; 8 tries in all). Shorter: a provider outage is ridden out in fewer
    # minutes, and given up (fallback to the other channel) sooner.
    retry_max_seconds: float = Field(default=600.0, ge=15, le=3600)
    # How far ahead of its time a step's messages are rendered (0: at its time).
    prepare_seconds: float = Field(default=60.0, ge=0, le=3600)
    # How far ahead of its time a step is fired: its messages are recorded and
    # leased beforehand and wait here for their moment, when they are checked
    # once more and sent (0: fired at its time). A burst of a thousand steps
    # costs the database more than its second.
    fire_ahead_seconds: float = Field(default=2.0, ge=0, le=10)

    # Generated at first start and kept in the database, when no key is set
    # (monitor.secret); put here by Runtime.build.
    _stored_key: bytes | None = PrivateAttr(default=None)

    @field_validator("secret_key", mode="before")
    @classmethod
    def _usable_key(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None  # SUNCLOCK_SECRET_KEY= : not set, the generated key is used
        if isinstance(text, str) and text.strip().casefold() in {p.casefold() for p in PLACEHOLDER_SECRET_KEYS}:
            raise ValueError("is the placeholder shipped in deploy/; leave it unset to use the key generated "
                             f"in the database, or set at least {MIN_SECRET_KEY_BYTES} random bytes")
        if isinstance(text, str) and len(text.encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_KEY_BYTES} bytes (it has {len(text.encode())}); "
                             "leave it unset to use the key generated in the database")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+", "postgresql:", "postgresql+", "postgres:")):
            raise ValueError("use sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR (e.g. 10.0.0.5, 10.0.0.0/24)") from exc
        return value

    @field_validator("aliyun_access_key_id", "aliyun_access_key_secret", "aliyun_sms_sign_name",
                     "aliyun_sms_endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("aliyun_sms_endpoint")
    @classmethod
    def _aliyun_endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            parse_endpoint(value)
        return value

    @field_validator("aliyun_sms_sign_name")
    @classmethod
    def _sign_name(cls, value: str | None) -> str | None:
        if value is not None and any(mark in value for mark in "【】[]"):
            raise ValueError("give the signature without its brackets: 斗门区应急管理局, not 【斗门区应急管理局】")
        return value.strip() if value else value

    @field_validator("sms_provider")
    @classmethod
    def _sms_provider_complete(cls, value: SmsProvider | None, info: ValidationInfo) -> SmsProvider | None:
        twilio = all(info.data.get(f"twilio_{name}") for name in ("account_sid", "auth_token", "from"))
        if value == SmsProvider.TWILIO or (value is None and twilio):
            return value
        # A setting absent from info.data failed its own check, which names it already.
        needed = {f"SUNCLOCK_{name.upper()}": info.data.get(name, "invalid") for name in ALIYUN_NEEDED}
        given = [name for name, setting in needed.items() if setting]
        if given and len(given) < len(needed):
            missing = [name for name in needed if name not in given]
            raise ValueError(f"Alibaba Cloud SMS needs {' and '.join(missing)} too ({', '.join(given)} "
                             f"{'is' if len(given) == 1 else 'are'} set)")
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def aliyun_sms_enabled(self) -> bool:
        return all(getattr(self, name) for name in ALIYUN_NEEDED)

    @property
    def sms_via(self) -> SmsProvider | None:
        """The SMS provider in use (SPEC §15.1); None: SMS goes to the outbox."""
        if self.sms_provider == SmsProvider.ALIYUN or (self.sms_provider is None and not self.sms_enabled):
            return SmsProvider.ALIYUN if self.aliyun_sms_enabled else None
        return SmsProvider.TWILIO if self.sms_enabled else None

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def voice_enabled(self) -> bool:
        """Calls go through Twilio whatever the SMS provider is (SPEC §15.2)."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and (self.twilio_voice_from or self.twilio_from))

    @property
    def signing_key(self) -> bytes:
        """Key for acknowledgement links and page sessions: ``SUNCLOCK_SECRET_KEY``,
        or else the key generated at first start and kept in the database."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self._stored_key is None:
            raise RuntimeError("no signing key: Runtime.build loads the stored one when SUNCLOCK_SECRET_KEY is unset")
        return self._stored_key

    def with_stored_key(self, key: bytes) -> Settings:
        copy = self.model_copy()
        copy._stored_key = key
        return copy
