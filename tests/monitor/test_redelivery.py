"""A message that goes out late — a retry, a fallback, a reclaimed lease — is
checked again just before it is sent (§4.5, issue 12 item 7): still true, it is
rendered as of that moment; no longer true, it is skipped with its reason."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from structlog.testing import capture_logs
from support import hours, register, seed_departments, sms_only_rules

from alerts.base import DeliveryError, Message, Receipt
from alerts.outbox import OutboxChannel
from monitor.db import transaction
from monitor.models import Notification, TimelineEntry
from tests.conftest import START

RELEASE_DUE = START + hours(5)
REMINDER = RELEASE_DUE - hours(2)


class Refusing:
    """A provider at the network edge that refuses every message, after taking
    ``takes`` of (frozen) time to answer."""

    provider = "refusing"

    def __init__(self, clock, *, permanent: bool, takes: timedelta = timedelta(0)):
        self.clock, self.permanent, self.takes, self.sent = clock, permanent, takes, []

    async def send(self, message: Message) -> Receipt:
        self.sent.append(message)
        self.clock.advance(seconds=self.takes.total_seconds())
        raise DeliveryError("503 service unavailable" if not self.permanent else "21211 invalid To number",
                            permanent=self.permanent, code=None if not self.permanent else "21211")

    async def aclose(self) -> None:
        return None


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def rows(runtime, step: str, channel: str = "sms") -> list[Notification]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(Notification).where(
            Notification.step == step, Notification.channel == channel).order_by(Notification.id))).scalars())


async def skipped_entries(runtime) -> list[dict]:
    async with runtime.sessions() as session:
        return [e.detail for e in (await session.exec(select(TimelineEntry).where(
            TimelineEntry.kind == "notification_skipped").order_by(TimelineEntry.id))).scalars()]


async def test_a_final_warning_that_failed_is_not_delivered_after_its_deadline(client, seeded, runtime, clock):
    runtime.channels["sms"] = Refusing(clock, permanent=False)
    await register(client, START - hours(5) + timedelta(minutes=20))  # the release is due in 20 minutes
    await runtime.scheduler.run_once()  # the registered notice and, at once, the final warning: SMS fail
    assert {(r.recipient_name, r.state, r.attempts) for r in await rows(runtime, "final_warning")} == {
        ("王局长", "pending", 1), ("李副局长", "pending", 1), ("陈主任", "pending", 1)}

    runtime.channels["sms"] = OutboxChannel("sms")  # the provider is back, but only after the deadline
    await run_at(runtime, clock, START + timedelta(minutes=21))
    warnings = await rows(runtime, "final_warning")
    assert {(r.state, r.attempts, r.sent_at) for r in warnings} == {("skipped", 1, None)}
    assert {r.last_error for r in warnings} == {"skipped: its deadline has passed"}
    assert [(e["step"], e["why"], e["recipient"]) for e in await skipped_entries(runtime)] == [
        ("final_warning", "its deadline has passed", "王局长, 李副局长, 陈主任")]
    [registered] = await rows(runtime, "registered")  # an incident-wide notice is still true: sent
    assert (registered.state, registered.attempts) == ("sent", 2)
    skipped = (await client.get("/api/v1/notifications")).json()
    # sent: three emails and the call to the head
    assert sorted(r["state"] for r in skipped if r["step"] == "final_warning") == ["sent"] * 4 + ["skipped"] * 3


async def test_a_reminder_whose_milestone_was_recorded_before_its_retry_is_skipped(client, seeded, runtime, clock):
    incident = await register(client, START)
    await runtime.scheduler.run_once()
    runtime.channels["sms"] = Refusing(clock, permanent=False)
    await run_at(runtime, clock, REMINDER)
    [reminder] = await rows(runtime, "reminder")
    assert (reminder.state, reminder.attempts) == ("pending", 1)
    runtime.channels["sms"] = OutboxChannel("sms")
    response = await client.post(f"/api/v1/incidents/{incident['id']}/milestones",
                                 json={"obligation": "authoritative_release", "at": REMINDER.isoformat()})
    assert response.status_code == 201, response.text
    await run_at(runtime, clock, REMINDER + timedelta(minutes=1))
    [reminder] = await rows(runtime, "reminder")
    assert (reminder.state, reminder.sent_at) == ("skipped", None)
    assert reminder.last_error == "skipped: its obligation is met"
    assert [(e["step"], e["why"]) for e in await skipped_entries(runtime)] == [("reminder", "its obligation is met")]


async def test_a_retried_message_tells_the_time_left_when_it_goes_out(client, seeded, runtime, clock):
    await register(client, START)
    await runtime.scheduler.run_once()
    runtime.channels["sms"] = Refusing(clock, permanent=False)
    await run_at(runtime, clock, REMINDER)
    [reminder] = await rows(runtime, "reminder")
    assert "剩余2小时" in reminder.body
    runtime.channels["sms"] = OutboxChannel("sms")
    await run_at(runtime, clock, REMINDER + timedelta(minutes=10))  # the service was down for ten minutes
    [reminder] = await rows(runtime, "reminder")
    assert (reminder.state, reminder.attempts) == ("sent", 2)
    assert "剩余1小时50分" in reminder.body and "剩余2小时" not in reminder.body, reminder.body
    outbox = [m for m in (await client.get("/api/v1/outbox")).json() if m["id"] == reminder.id]
    assert "剩余1小时50分" in outbox[0]["body"]


async def test_a_fallback_after_the_deadline_is_checked_too(client, runtime, clock, tmp_path):
    runtime.rules = runtime.dispatcher.rules = sms_only_rules(tmp_path)
    await seed_departments(client)
    # Twilio takes 15 s to refuse each number for good; meanwhile the deadline passes.
    runtime.channels["sms"] = Refusing(clock, permanent=True, takes=timedelta(seconds=15))
    await register(client, START - hours(5) + timedelta(seconds=10))
    await run_at(runtime, clock, START)
    await runtime.scheduler.run_once()  # the fallbacks, due at once
    assert {(r.recipient_name, r.state) for r in await rows(runtime, "final_warning")} == {
        ("王局长", "failed"), ("李副局长", "failed"), ("陈主任", "failed")}
    emails = await rows(runtime, "final_warning", "email")
    assert {(r.recipient_name, r.state, r.fallback_of is not None) for r in emails} == {
        ("王局长", "skipped", True), ("李副局长", "skipped", True), ("陈主任", "skipped", True)}
    [registered] = await rows(runtime, "registered", "email")  # still true: the fallback goes out
    assert (registered.state, registered.fallback_of is not None) == ("sent", True)


async def test_a_reclaimed_lease_is_checked_before_sending_again(client, seeded, runtime, clock):
    incident = await register(client, START)
    await run_at(runtime, clock, REMINDER)
    async with transaction(runtime.sessions) as session:  # as if the replica died while sending the reminder
        await session.execute(update(Notification).where(Notification.step == "reminder").values(
            state="sending", claimed_until=REMINDER + timedelta(seconds=60), claim_token="dead", sent_at=None))
    await client.post(f"/api/v1/incidents/{incident['id']}/milestones",
                      json={"obligation": "authoritative_release", "at": REMINDER.isoformat()})
    with capture_logs() as logs:
        await run_at(runtime, clock, REMINDER + timedelta(seconds=61))
    events = [e["event"] for e in logs]
    assert events.count("notification_lease_expired") == 2 and events.count("notification_skipped") == 2
    assert {(r.channel, r.state, r.attempts) for r in await rows(runtime, "reminder")
            + await rows(runtime, "reminder", "email")} == {("sms", "skipped", 1), ("email", "skipped", 1)}
