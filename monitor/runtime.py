"""Everything a running Sunclock holds, built in one place from settings.

Only this module wires the packages together: settings → database, rules,
channels, metrics, and the engine built from them once: a dispatcher and a
deliverer, and the scheduler that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from alerts.base import Channel
from alerts.channels import AliyunConfig, SmtpConfig, TwilioConfig, VoiceConfig, build_channels
from monitor.clock import Clock, SystemClock
from monitor.db import SessionFactory, create_engine, migrate_if_needed, session_factory
from monitor.delivery import Deliverer
from monitor.dispatch import Dispatcher
from monitor.metrics import Metrics, covered_until_timestamp
from monitor.outage import Outage
from monitor.scheduler import REQUEST_SETTLE_SECONDS, Scheduler
from monitor.secret import stored_signing_key
from monitor.settings import Settings
from rules import RuleSet, load_rules
from rules.vocabulary import SmsProvider
from rules.workdays import WorkCalendar, WorkTime, load_calendars

log = structlog.get_logger("sunclock")


def channels_from(settings: Settings) -> dict[str, Channel]:
    twilio = TwilioConfig(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.get_secret_value(),
        from_=settings.twilio_from, api_base=settings.twilio_api_base, timeout=settings.twilio_timeout,
    ) if settings.sms_via == SmsProvider.TWILIO else None
    aliyun = AliyunConfig(
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret.get_secret_value(),
        sign_name=settings.aliyun_sms_sign_name, endpoint=settings.aliyun_sms_endpoint,
        templates=settings.aliyun_sms_templates, timeout=settings.aliyun_timeout,
    ) if settings.sms_via == SmsProvider.ALIYUN else None
    smtp = SmtpConfig(
        host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls, use_tls=settings.smtp_tls, from_addr=settings.smtp_from,
        validate_certs=settings.smtp_validate_certs,
        cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        pool_size=settings.smtp_pool_size, idle_seconds=settings.smtp_idle_seconds,
    ) if settings.email_enabled else None
    return build_channels(twilio=twilio, smtp=smtp, aliyun=aliyun, voice=voice_config(settings))


def voice_config(settings: Settings) -> VoiceConfig | None:
    if not settings.voice_enabled:
        return None
    caller = settings.twilio_voice_from or settings.twilio_from
    return VoiceConfig(twilio=TwilioConfig(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.get_secret_value(),
        from_=caller, api_base=settings.twilio_api_base, timeout=settings.twilio_timeout,
    ), public_url=settings.public_url, language=settings.language)


@dataclass
class Runtime:
    settings: Settings
    rules: RuleSet
    engine: AsyncEngine
    sessions: SessionFactory
    clock: Clock
    channels: dict[str, Channel]
    metrics: Metrics
    registry: CollectorRegistry
    calendar: WorkCalendar
    dispatcher: Dispatcher = field(init=False)
    deliverer: Deliverer = field(init=False)
    scheduler: Scheduler = field(init=False)

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(sessions=self.sessions, settings=self.settings, rules=self.rules)
        self.deliverer = Deliverer(sessions=self.sessions, settings=self.settings, channels=self.channels,
                                   metrics=self.metrics, clock=self.clock)
        self.scheduler = Scheduler(dispatcher=self.dispatcher, deliverer=self.deliverer, sessions=self.sessions,
                                   clock=self.clock, metrics=self.metrics, sweep_seconds=self.settings.sweep_seconds,
                                   outage=self.deliverer.outage)

    @property
    def outage(self) -> Outage:
        """The database's absence as this process knows it (monitor/outage.py)."""
        return self.scheduler.outage

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None, rules: RuleSet | None = None,
              channels: dict[str, Channel] | None = None, migrate_schema: bool = True) -> Runtime:
        rules = rules if rules is not None else load_rules(settings.rules_dir)
        calendar = load_calendars(settings.calendars_dir)
        # Limits in working days are counted on this calendar, in local days (SPEC §13.2).
        rules = rules.counted_in(WorkTime(calendar, settings.zone))
        clock = clock or SystemClock()
        if migrate_schema:
            migrate_if_needed(settings.database_url)
        if settings.secret_key is None:
            settings = settings.with_stored_key(stored_signing_key(settings.database_url, clock.now()))
        engine = create_engine(settings.database_url)
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        metrics.calendar_covered_until.set(covered_until_timestamp(calendar, settings.zone))
        return cls(settings=settings, rules=rules, engine=engine, sessions=session_factory(engine),
                   clock=clock, channels=channels if channels is not None else channels_from(settings),
                   metrics=metrics, registry=registry, calendar=calendar)

    @property
    def outbox_channels(self) -> list[str]:
        return sorted(name for name, channel in self.channels.items() if channel.provider == "outbox")

    def poke(self) -> None:
        """Tell the scheduler something changed; a no-op when it is not running."""
        if self.scheduler.running:
            self.scheduler.poke(settle=REQUEST_SETTLE_SECONDS)

    async def close(self) -> None:
        await self.scheduler.stop()
        for channel in self.channels.values():
            await channel.aclose()
        await self.engine.dispose()
