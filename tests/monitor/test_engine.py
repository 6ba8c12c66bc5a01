"""The ladder of SPEC §3 driven by a frozen clock: on time, once, with catch-up."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update
from structlog.testing import capture_logs
from support import hours, register, seed_departments, sms_only_rules

from alerts.base import DeliveryError, Message, Receipt
from monitor.db import transaction
from monitor.dispatch import Dispatcher
from monitor.models import Notification
from monitor.runtime import Runtime
from tests.conftest import START, make_settings


async def notifications(client, incident_id: int | None = None) -> list[dict]:
    params = {"incident_id": incident_id} if incident_id else {}
    return (await client.get("/api/v1/notifications", params=params)).json()


def sent_steps(rows: list[dict]) -> Counter:
    return Counter((r["obligation"], r["step"], r["to"]) for r in rows)


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def test_registered_notice_goes_to_the_head_on_both_channels_at_once(client, seeded, runtime):
    incident = await register(client, START - hours(1))
    await runtime.scheduler.run_once()
    rows = await notifications(client, incident["id"])
    assert sorted((r["step"], r["channel"], r["to"]) for r in rows) == [
        ("registered", "email", "wang@emb.example.org"), ("registered", "sms", "+8613800000001")]
    assert all(r["state"] == "sent" and r["attempts"] == 1 and not r["late"] and r["obligation"] is None
               for r in rows)
    outbox = (await client.get("/api/v1/outbox")).json()
    sms = next(m for m in outbox if m["channel"] == "sms")
    assert "白蕉镇化工厂爆炸" in sms["body"] and "/ack/" in sms["body"]


async def test_the_whole_release_ladder_fires_on_time_to_the_right_people(client, seeded, runtime, clock):
    incident = await register(client, START)
    due = START + hours(5)
    expected = {
        due - hours(2): ("reminder", {"+8613800000001"}),
        due - hours(1): ("warning", {"+8613800000001", "+8613800000002"}),
        due - timedelta(minutes=30): ("final_warning", {"+8613800000001", "+8613800000002", "+8613800000009"}),
        due: ("breached", {"+8613800000001", "+8613800000009"}),
        due + hours(1): ("overdue", {"+8613800000001", "+8613800000009"}),
    }
    await runtime.scheduler.run_once()
    for moment, (step, mobiles) in expected.items():
        before = len(await notifications(client))
        await run_at(runtime, clock, moment - timedelta(seconds=1))
        assert len(await notifications(client)) == before, f"{step} fired early"
        await run_at(runtime, clock, moment)
        new = (await notifications(client))[before:]
        assert {r["to"] for r in new if r["channel"] == "sms"} == mobiles, step
        assert {r["step"] for r in new} == {step} and not any(r["late"] for r in new)
    shown = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    release = next(o for o in shown["obligations"] if o["key"] == "authoritative_release")
    assert release["state"] == "breached" and release["breached_at"] == "2026-11-28T07:00:00Z"
    assert [c["decision"] for c in (await client.get("/api/v1/cases")).json()] == ["pending"]


async def test_catch_up_after_downtime_sends_only_the_latest_step_marked_late(client, seeded, runtime, clock):
    incident = await register(client, START)
    await runtime.scheduler.run_once()  # the registered notice
    await run_at(runtime, clock, START + hours(7) + timedelta(minutes=10))  # down from 10:00 to 17:10 local
    rows = [r for r in await notifications(client) if r["step"] != "registered"]
    assert {(r["obligation"], r["step"]) for r in rows} == {("authoritative_release", "overdue")}
    assert all(r["late"] for r in rows)
    timeline = (await client.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()
    skipped = [(e["detail"]["step"], e["detail"]["occurrence"]) for e in timeline if e["kind"] == "step_skipped"]
    assert sorted(skipped) == [("breached", 1), ("final_warning", 1), ("overdue", 1), ("reminder", 1), ("warning", 1)]
    breach = next(e for e in timeline if e["kind"] == "breached")
    assert breach["detail"]["breached_at"] == (START + hours(5)).isoformat()


async def test_catch_up_holds_for_breaches_beyond_one_batch(client, runtime, clock):
    # After a long stop more deadlines have passed than one breach batch takes:
    # the steps of those not yet recorded wait, so that each deadline still gets
    # one catch-up message (the latest overdue repeat), not its breached notice
    # now and a repeat after the breach is recorded.
    runtime.dispatcher.breach_batch = 1
    await seed_departments(client)
    incidents = [await register(client, START) for _ in range(3)]
    await runtime.scheduler.run_once()
    await run_at(runtime, clock, START + hours(7) + timedelta(minutes=10))
    rows = [r for r in await notifications(client) if r["step"] != "registered"]
    assert Counter((r["incident_id"], r["step"], r["channel"]) for r in rows) == Counter(
        {(i["id"], "overdue", channel): 2 for i in incidents for channel in ("sms", "email")})


async def test_a_fresh_breach_is_announced_before_it_is_recorded(client, seeded, runtime, clock):
    # Recording a breach (its case, its overdue repeats) comes after the sends,
    # so a burst of breaches does not delay its own notices; its breached_at is
    # the deadline either way.
    incident = await register(client, START)
    await run_at(runtime, clock, START + hours(5) - timedelta(minutes=30))

    class Checked(Dispatcher):
        async def detect_breaches(self, now, stale=False):
            if not stale:
                assert {r["step"] for r in await notifications(client)} >= {"breached"}
            return await super().detect_breaches(now, stale)

    runtime.scheduler.dispatcher = Checked(**vars(runtime.dispatcher))
    await run_at(runtime, clock, START + hours(5) + timedelta(seconds=2))
    shown = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    release = next(o for o in shown["obligations"] if o["key"] == "authoritative_release")
    assert release["state"] == "breached" and release["breached_at"] == "2026-11-28T07:00:00Z"
    # head: SMS, email and a call; the supervisor: SMS and email
    assert [r["late"] for r in await notifications(client) if r["step"] == "breached"] == [True] * 5


async def test_no_warning_is_sent_after_its_deadline(client, seeded, runtime, clock):
    await register(client, START - hours(4) - timedelta(minutes=50))  # release due in 10 minutes
    await runtime.scheduler.run_once()
    first = [r for r in await notifications(client) if r["step"] != "registered"]
    assert {r["step"] for r in first} == {"final_warning"}
    await run_at(runtime, clock, START + timedelta(minutes=10))
    assert {r["step"] for r in await notifications(client)} == {"registered", "final_warning", "breached"}


async def test_a_milestone_before_the_deadline_cancels_the_rest_and_never_breaches(client, seeded, runtime, clock):
    incident = await register(client, START)
    await client.post(f"/api/v1/incidents/{incident['id']}/milestones",
                      json={"obligation": "authoritative_release", "at": START.isoformat()})
    await run_at(runtime, clock, START + hours(10))
    release_rows = [r for r in await notifications(client) if r["obligation"] == "authoritative_release"]
    assert release_rows == []
    assert (await client.get("/api/v1/cases")).json() == []


async def test_running_twice_or_from_two_replicas_sends_each_step_once(client, seeded, runtime, clock, database_url):
    for n in range(20):
        await register(client, START - hours(6), title=f"incident {n}")
    other = Runtime.build(make_settings(database_url), clock=clock, migrate_schema=False, channels=runtime.channels)
    try:
        await asyncio.gather(runtime.scheduler.run_once(), other.scheduler.run_once(),
                             runtime.scheduler.run_once(), other.scheduler.run_once())
        await runtime.scheduler.run_once()
    finally:
        await other.engine.dispose()
    rows = await notifications(client)
    keys = Counter((r["incident_id"], r["obligation"], r["step"], r["channel"], r["to"]) for r in rows)
    assert keys and max(keys.values()) == 1
    assert len(rows) == 20 * (2 + 4)  # registered to the head; overdue to head and supervisor; 2 channels
    assert all(r["state"] == "sent" for r in rows)
    assert len((await client.get("/api/v1/cases")).json()) == 20


class FlakyChannel:
    """A channel at the network edge that fails as told, to exercise the policy."""

    provider = "flaky"

    def __init__(self, name: str, *, permanent: bool):
        self.name, self.permanent, self.sent = name, permanent, []

    async def send(self, message: Message) -> Receipt:
        self.sent.append(message)
        raise DeliveryError("21211 invalid To number", permanent=self.permanent, code="21211")

    async def aclose(self) -> None:
        return None


async def test_a_transient_failure_is_retried_later_and_a_permanent_one_falls_back(client, runtime, clock,
                                                                                     tmp_path):
    runtime.rules = runtime.dispatcher.rules = sms_only_rules(tmp_path)  # so that the SMS has no email beside it yet
    await seed_departments(client)
    runtime.channels["sms"] = flaky = FlakyChannel("sms", permanent=False)
    await register(client, START)
    await runtime.scheduler.run_once()
    [sms] = await notifications(client)
    assert (sms["channel"], sms["state"], sms["attempts"]) == ("sms", "pending", 1)
    retry_at = await next_attempt(runtime, sms["id"])
    assert START + timedelta(seconds=3.75) <= retry_at <= START + timedelta(seconds=5)  # the first backoff

    await run_at(runtime, clock, retry_at - timedelta(milliseconds=1))
    assert len(flaky.sent) == 1  # not before its time
    await run_at(runtime, clock, retry_at)
    assert len(flaky.sent) == 2
    [sms] = await notifications(client)
    assert (sms["state"], sms["attempts"]) == ("pending", 2)

    runtime.channels["sms"] = FlakyChannel("sms", permanent=True)
    await run_at(runtime, clock, await next_attempt(runtime, sms["id"]))
    await runtime.scheduler.run_once()  # the fallback is due at once: the next pass (the wake-up) sends it
    sms, email = await notifications(client)
    assert (sms["state"], sms["attempts"]) == ("failed", 3)
    assert (email["channel"], email["to"], email["step"], email["state"]) == (
        "email", "wang@emb.example.org", "registered", "sent")
    async with runtime.sessions() as session:
        assert (await session.get(Notification, email["id"])).fallback_of == sms["id"]


async def next_attempt(runtime, notification_id: int):
    async with runtime.sessions() as session:
        return (await session.get(Notification, notification_id)).next_attempt_at


class SlowChannel:
    """A provider that takes seven seconds per message, on the frozen clock, and
    notes at each send how many messages another replica could take as abandoned."""

    provider = "slow"

    def __init__(self, name: str, clock, sessions, abandoned: list[int]):
        self.name, self.clock, self.sessions, self.abandoned = name, clock, sessions, abandoned

    async def send(self, message: Message) -> Receipt:
        async with self.sessions() as session:
            self.abandoned.append((await session.execute(select(func.count()).select_from(Notification).where(
                Notification.state == "sending", Notification.claimed_until < self.clock.now()))).scalar())
        self.clock.advance(seconds=7)
        return Receipt(provider=self.provider, provider_id=f"slow-{len(self.abandoned)}")

    async def aclose(self) -> None:
        return None


async def test_a_burst_longer_than_the_lease_keeps_its_lease(client, seeded, runtime, clock, database_url):
    for n in range(4):
        await register(client, START, title=f"incident {n}")
    abandoned: list[int] = []
    slow = Runtime.build(make_settings(database_url, lease_seconds=20, send_concurrency=1), clock=clock,
                         migrate_schema=False)
    slow.channels.update({name: SlowChannel(name, clock, slow.sessions, abandoned) for name in ("sms", "email")})
    try:
        await slow.scheduler.run_once()  # eight messages, 56 s, under a 20 s lease
    finally:
        await slow.close()
    assert len(abandoned) == 8 and set(abandoned) == {0}, abandoned
    async with runtime.sessions() as session:
        rows = (await session.exec(select(Notification))).scalars().all()
    assert len(rows) == 8 and all(r.state == "sent" and r.attempts == 1 for r in rows)


async def test_a_message_another_replica_took_after_the_lease_ran_out_is_not_sent_again(client, seeded, runtime, clock,
                                                                                       database_url):
    # The first send outlasts the whole lease and, meanwhile, a replica takes
    # both messages as abandoned. The one still waiting here is not sent twice;
    # the one in flight may be, and is logged as such.
    await register(client, START)
    stalled = Runtime.build(make_settings(database_url, lease_seconds=5, send_concurrency=1), clock=clock,
                            migrate_schema=False)

    class Stalled(SlowChannel):
        async def send(self, message: Message) -> Receipt:
            receipt = await super().send(message)
            await runtime.scheduler.run_once()  # the other replica, its lease check seven seconds on
            return receipt

    stalled.channels.update({name: Stalled(name, clock, stalled.sessions, []) for name in ("sms", "email", "voice")})
    try:
        with capture_logs() as logs:
            await stalled.scheduler.run_once()
    finally:
        await stalled.close()
    events = Counter(e["event"] for e in logs)
    assert events["notification_lease_expired"] == 2 and events["notification_duplicate_possible"] == 1
    assert [len(channel.abandoned) for channel in stalled.channels.values()].count(1) == 1  # one slow send only
    outbox = (await client.get("/api/v1/outbox")).json()
    assert len(outbox) == 2
    async with runtime.sessions() as session:
        assert {r.state for r in (await session.exec(select(Notification))).scalars()} == {"sent"}


async def test_an_expired_lease_is_claimed_again_and_logged_as_a_possible_duplicate(client, seeded, runtime, clock):
    await register(client, START)
    await runtime.scheduler.run_once()
    async with transaction(runtime.sessions) as session:  # as if a replica died mid-send
        await session.execute(update(Notification).values(
            state="sending", claimed_until=START + timedelta(seconds=60), claim_token="dead"))
    with capture_logs() as logs:
        await run_at(runtime, clock, START + timedelta(seconds=61))
    assert [e["event"] for e in logs].count("notification_lease_expired") == 2
    async with runtime.sessions() as session:
        rows = (await session.exec(select(Notification))).scalars().all()
    assert all(r.state == "sent" and r.attempts == 2 for r in rows)


class CountingChannel:
    """Counts the sends in flight at once; each send yields twice to the loop."""

    provider = "counting"

    def __init__(self, name: str, tally: dict) -> None:
        self.name, self.tally = name, tally

    async def send(self, message: Message) -> Receipt:
        self.tally["now"] += 1
        self.tally["most"] = max(self.tally["most"], self.tally["now"])
        self.tally["sent"].append(message.to)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.tally["now"] -= 1
        return Receipt(provider=self.provider, provider_id=f"c-{len(self.tally['sent'])}")

    async def aclose(self) -> None:
        return None


async def test_a_burst_is_sent_by_send_concurrency_senders_each_message_once(client, seeded, runtime, clock,
                                                                             database_url):
    for n in range(7):
        await register(client, START, title=f"incident {n}")
    tally = {"now": 0, "most": 0, "sent": []}
    narrow = Runtime.build(make_settings(database_url, send_concurrency=3), clock=clock, migrate_schema=False)
    narrow.channels.update({name: CountingChannel(name, tally) for name in ("sms", "email")})
    try:
        await narrow.scheduler.run_once()
    finally:
        await narrow.close()
    assert tally["most"] == 3
    assert len(tally["sent"]) == 14 and len(set(tally["sent"])) == 2  # seven notices, to the head on two channels
    async with runtime.sessions() as session:
        rows = (await session.exec(select(Notification))).scalars().all()
    assert len(rows) == 14 and all(r.state == "sent" and r.attempts == 1 for r in rows)


async def test_a_run_fires_a_small_first_batch_then_full_ones_until_nothing_is_due(client, seeded, runtime):
    """The first batch's messages go out while the rest is fired (monitor/scheduler.py)."""
    for _ in range(6):
        await register(client, START - hours(1))
    dispatcher = runtime.dispatcher
    dispatcher.first_batch, dispatcher.batch = 2, 3
    firings, fire = [], dispatcher.fire

    async def recorded_fire(now, limit=None):  # noqa: ANN001
        firing = await fire(now, limit)
        firings.append((limit, firing.due))
        return firing

    dispatcher.fire = recorded_fire
    await runtime.scheduler.run_once()
    assert firings == [(2, 2), (3, 3), (3, 1)]  # six registered notices: 2, then 3, then the last one
    rows = await notifications(client)
    assert len(rows) == 12 and all(r["state"] == "sent" for r in rows)
