"""A reclaimed SMS is looked up in Twilio's message log before it is sent again
(monitor/reconcile.py): the real twilio client against the local
Twilio-compatible endpoint, with its message log."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs
from support import register

from alerts.sms import TwilioSmsChannel
from monitor.db import transaction
from monitor.models import Notification
from tests.conftest import START

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))

from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, twilio_error  # noqa: E402


@pytest.fixture
async def twilio(runtime):
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=fake.base_url)
        runtime.channels["sms"] = channel
        yield fake
        await channel.aclose()


async def die_after_sending(runtime, clock) -> None:
    """The registered notice goes out, then the replica dies before recording it."""
    await runtime.scheduler.run_once()
    async with transaction(runtime.sessions) as session:
        await session.execute(update(Notification).values(
            state="sending", claimed_until=START + timedelta(seconds=60), claim_token="dead", provider_id=None))
    clock.set(START + timedelta(seconds=61))


async def stored(runtime) -> dict[str, Notification]:
    async with runtime.sessions() as session:
        return {n.channel: n for n in (await session.exec(select(Notification))).scalars()}


def sample(runtime, name: str) -> float:
    return runtime.registry.get_sample_value(name, {"channel": "sms"}) or 0.0


async def test_a_reclaimed_sms_found_in_twilios_log_is_recorded_not_sent_again(client, seeded, runtime, clock,
                                                                               twilio):
    await register(client, START)
    await die_after_sending(runtime, clock)
    [accepted] = twilio.log
    with capture_logs() as logs:
        await runtime.scheduler.run_once()
    assert len(twilio.requests) == 1, "the SMS was sent twice"
    rows = await stored(runtime)
    assert rows["sms"].state == "sent" and rows["sms"].provider_id == accepted["sid"]
    assert rows["email"].state == "sent" and rows["email"].attempts == 2  # no log to ask: sent again
    events = [e["event"] for e in logs]
    assert events.count("notification_lease_expired") == 2 and events.count("notification_reconciled") == 1
    assert twilio.log_requests[0]["To"] == "+8613800000001"
    assert sample(runtime, "sunclock_notifications_reconciled_total") == 1
    timeline = (await client.get(f"/api/v1/incidents/{rows['sms'].incident_id}/timeline")).json()
    assert any(e["kind"] == "notification_sent" and e["detail"].get("reconciled") for e in timeline)


async def test_a_reclaimed_sms_missing_from_the_log_is_sent_again(client, seeded, runtime, clock, twilio):
    await register(client, START)
    await die_after_sending(runtime, clock)
    twilio.log.clear()  # Twilio never accepted it: the replica died before the answer
    with capture_logs() as logs:
        await runtime.scheduler.run_once()
    assert len(twilio.requests) == 2
    assert (await stored(runtime))["sms"].state == "sent"
    assert "notification_reconciled" not in [e["event"] for e in logs]
    assert sample(runtime, "sunclock_notifications_reconciled_total") == 0


async def test_a_log_that_cannot_be_read_means_sending_again(client, seeded, runtime, clock, twilio):
    await register(client, START)
    await die_after_sending(runtime, clock)
    twilio.outage = twilio_error(500, 20500, "Internal Server Error")
    with capture_logs() as logs:
        await runtime.scheduler.run_once()
    events = [e["event"] for e in logs]
    assert "notification_reconcile_failed" in events and "notification_retry" in events
    assert (await stored(runtime))["sms"].state == "pending"  # retried later, never given up
