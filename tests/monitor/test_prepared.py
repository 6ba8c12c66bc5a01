"""Messages prepared ahead of their step: used when still true, never when not.

Shortly before a step is due the scheduler renders its messages
(``preparednotification``); at the step's time they are copied into
notifications. Each test changes something between preparing and firing and
checks that what is sent is what a render at the step's time would say.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from support import DEPARTMENTS, hours, register, retire_contacts, seed_departments

from monitor.messages import Directory
from monitor.models import EscalationStep, PreparedNotification
from monitor.runtime import Runtime
from tests.conftest import START, make_settings

RELEASE_DUE = START + hours(5)
REMINDER = RELEASE_DUE - hours(2)  # the first step after registration: to the head
NEW_HEAD = {"name": "赵局长", "role": "head", "mobile": "+8613800000007", "email": "zhao@emb.example.org"}


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def prepared(runtime) -> list[PreparedNotification]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(PreparedNotification))).scalars())


async def sent(client, step: str) -> list[dict]:
    rows = (await client.get("/api/v1/notifications")).json()
    outbox = {m["id"]: m for m in (await client.get("/api/v1/outbox")).json()}
    return [r | {"body": outbox[r["id"]]["body"]} for r in rows if r["step"] == step]


async def waiting_for_a_lock(runtime) -> bool:
    async with runtime.sessions() as session:
        return bool((await session.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))).scalar())


async def registered_and_prepared(client, runtime, clock) -> dict:
    await seed_departments(client)
    incident = await register(client, START)
    await run_at(runtime, clock, REMINDER - timedelta(seconds=30))
    assert {(p.step, p.channel, p.to) for p in await prepared(runtime)} == {
        ("reminder", "sms", "+8613800000001"), ("reminder", "email", "wang@emb.example.org")}
    assert await sent(client, "reminder") == []  # prepared, not sent
    return incident


async def test_a_prepared_step_sends_what_it_would_have_said_at_its_time(client, runtime, clock):
    await registered_and_prepared(client, runtime, clock)
    bodies = {p.channel: p.body for p in await prepared(runtime)}
    await run_at(runtime, clock, REMINDER)
    rows = await sent(client, "reminder")
    assert {r["channel"]: r["body"] for r in rows} == bodies
    assert "剩余2小时" in bodies["sms"] and all(r["state"] == "sent" and not r["late"] for r in rows)
    assert await prepared(runtime) == []  # consumed
    timeline = (await client.get(f"/api/v1/incidents/{rows[0]['incident_id']}/timeline")).json()
    fired = [e for e in timeline if e["kind"] == "step_fired" and e["detail"]["step"] == "reminder"]
    assert [(e["detail"]["notifications"], e["detail"]["recipients"]) for e in fired] == [(2, ["王局长"])]


async def test_a_severity_change_after_preparing_is_in_the_message(client, runtime, clock):
    incident = await registered_and_prepared(client, runtime, clock)
    response = await client.patch(f"/api/v1/incidents/{incident['id']}",
                                  json={"severity": "II", "reason": "核实后定为较大"})
    assert response.status_code == 200, response.text
    assert await prepared(runtime) == []
    await run_at(runtime, clock, REMINDER)
    sms = next(r for r in await sent(client, "reminder") if r["channel"] == "sms")
    assert "Ⅱ级" in sms["body"] or "II级" in sms["body"], sms["body"]
    assert "（I级）" not in sms["body"] and "Ⅰ级" not in sms["body"]


async def test_a_new_head_gets_the_step_prepared_for_the_old_one(client, runtime, clock):
    await registered_and_prepared(client, runtime, clock)
    emb = next(d for d in DEPARTMENTS if d["code"] == "EMB")
    response = await client.put("/api/v1/departments/EMB", json=emb | {"contacts": [NEW_HEAD]})
    assert response.status_code == 200, response.text
    assert await prepared(runtime) == []
    await run_at(runtime, clock, REMINDER)
    rows = await sent(client, "reminder")
    assert {(r["channel"], r["to"]) for r in rows} == {("sms", "+8613800000007"), ("email", "zhao@emb.example.org")}
    assert all("赵局长" in r["body"] for r in rows if r["channel"] == "email")


async def test_a_milestone_after_preparing_sends_nothing_and_forgets_the_messages(client, runtime, clock):
    incident = await registered_and_prepared(client, runtime, clock)
    response = await client.post(f"/api/v1/incidents/{incident['id']}/milestones",
                                 json={"obligation": "authoritative_release", "at": clock.now().isoformat()})
    assert response.status_code == 201, response.text
    assert await prepared(runtime) == []
    await run_at(runtime, clock, RELEASE_DUE + hours(2))
    assert [r for r in (await client.get("/api/v1/notifications")).json()
            if r["obligation"] == "authoritative_release"] == []


async def test_a_step_fired_late_is_rendered_again_as_of_its_firing(client, runtime, clock):
    await registered_and_prepared(client, runtime, clock)
    await run_at(runtime, clock, REMINDER + timedelta(minutes=10))  # the service stalled for ten minutes
    sms = next(r for r in await sent(client, "reminder") if r["channel"] == "sms")
    assert sms["late"] and "剩余1小时50分" in sms["body"], sms["body"]
    assert await prepared(runtime) == []


async def test_steps_without_anyone_to_tell_are_prepared_once(client, seeded, runtime, clock):
    await register(client, START, department="HEALTH")
    await retire_contacts(runtime, "HEALTH")
    clock.set(REMINDER - timedelta(seconds=30))
    assert await runtime.dispatcher.prepare(clock.now()) == 1
    assert await runtime.dispatcher.prepare(clock.now()) == 0
    assert await prepared(runtime) == []


async def test_preparing_is_off_with_prepare_seconds_zero(client, seeded, database_url, clock):
    await register(client, START)
    rt = Runtime.build(make_settings(database_url, prepare_seconds=0), clock=clock, migrate_schema=False)
    try:
        clock.set(REMINDER - timedelta(seconds=30))
        assert await rt.dispatcher.prepare(clock.now()) == 0
    finally:
        await rt.close()


async def test_two_replicas_prepare_and_fire_each_message_once(client, seeded, runtime, clock, database_url):
    for n in range(30):
        await register(client, START, title=f"incident {n}")
    other = Runtime.build(make_settings(database_url), clock=clock, migrate_schema=False, channels=runtime.channels)
    try:
        await runtime.scheduler.run_once()  # the registered notices
        clock.set(REMINDER - timedelta(seconds=20))
        await asyncio.gather(runtime.scheduler.run_once(), other.scheduler.run_once())
        assert len(await prepared(runtime)) == 30 * 2
        async with runtime.sessions() as session:
            unprepared = (await session.exec(select(func.count()).select_from(EscalationStep).where(
                EscalationStep.planned_at == REMINDER, EscalationStep.prepared_at.is_(None)))).scalar()
        assert unprepared == 0
        clock.set(REMINDER)
        await asyncio.gather(runtime.scheduler.run_once(), other.scheduler.run_once())
        await runtime.scheduler.run_once()
    finally:
        await other.engine.dispose()
    rows = await sent(client, "reminder")
    assert len(rows) == 30 * 2 and all(r["state"] == "sent" for r in rows)
    assert max(Counter((r["incident_id"], r["channel"]) for r in rows).values()) == 1


async def test_a_corrected_start_time_moves_the_step_and_it_is_prepared_again(client, runtime, clock):
    incident = await registered_and_prepared(client, runtime, clock)
    earlier = START - timedelta(seconds=20)
    response = await client.patch(f"/api/v1/incidents/{incident['id']}",
                                  json={"occurred_at": earlier.isoformat(), "reason": "核实发生时间"})
    assert response.status_code == 200, response.text
    moved = REMINDER - timedelta(seconds=20)
    await run_at(runtime, clock, moved - timedelta(seconds=5))
    assert {p.planned_at for p in await prepared(runtime)} == {moved}
    await run_at(runtime, clock, moved)
    rows = await sent(client, "reminder")
    assert len(rows) == 2 and all(not r["late"] for r in rows)
    assert "剩余2小时" in next(r["body"] for r in rows if r["channel"] == "sms")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite runs one writer at a time
@pytest.mark.parametrize("edit", ["severity", "new head"])
async def test_an_edit_while_messages_are_being_prepared_is_in_the_message(client, seeded, runtime, clock, edit):
    # The edit commits while a replica is still rendering with the old facts:
    # it must wait for those messages and discard them, or they go out as
    # prepared, to the retired head or with the old severity.
    incident = await register(client, START)
    await runtime.scheduler.run_once()
    rendering, go_on = asyncio.Event(), asyncio.Event()

    async def paused(session, incident_ids):
        directory = await Directory.load(session, incident_ids)
        rendering.set()
        await go_on.wait()
        return directory

    runtime.dispatcher.load_directory = paused
    clock.set(REMINDER - timedelta(seconds=30))
    preparing = asyncio.create_task(runtime.dispatcher.prepare(clock.now()))
    await rendering.wait()
    if edit == "severity":
        request = client.patch(f"/api/v1/incidents/{incident['id']}",
                               json={"severity": "II", "reason": "核实后定为较大"})
    else:
        emb = next(d for d in DEPARTMENTS if d["code"] == "EMB")
        request = client.put("/api/v1/departments/EMB", json=emb | {"contacts": [NEW_HEAD]})
    editing = asyncio.create_task(request)
    while not editing.done() and not await waiting_for_a_lock(runtime):
        await asyncio.sleep(0.01)  # until the edit has either committed or queued behind the preparing
    go_on.set()
    assert await preparing == 1
    response = await editing
    assert response.status_code == 200, response.text
    runtime.dispatcher.load_directory = Directory.load
    await run_at(runtime, clock, REMINDER)
    sms = next(r for r in await sent(client, "reminder") if r["channel"] == "sms")
    if edit == "severity":
        assert "Ⅱ级" in sms["body"] or "II级" in sms["body"], sms["body"]
    else:
        assert sms["to"] == NEW_HEAD["mobile"], sms
