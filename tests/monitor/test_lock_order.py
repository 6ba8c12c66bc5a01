"""Locks in one order (the incident's row first): closing right after
registering neither deadlocks with the scheduler nor loses the registered
notice, and the scheduler leaves an incident another transaction holds for its
next run instead of waiting for it or deadlocking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text
from support import hours, register

from monitor.db import transaction
from monitor.models import EscalationStep, Notification
from tests.conftest import START


async def test_an_incident_closed_at_once_still_sends_its_registered_notice(client, seeded, runtime, clock):
    incident = await register(client, START - hours(5) + timedelta(seconds=1))  # due a second from now
    closed = await client.post(f"/api/v1/incidents/{incident['id']}/close", json={"reason": "误报"})
    assert closed.status_code == 200, closed.text
    clock.set(START + timedelta(seconds=1))
    while await runtime.scheduler.run_once():
        pass
    async with runtime.sessions() as session:
        steps = {s.kind: s.state for s in (await session.exec(select(EscalationStep))).scalars()}
        sent = {(n.step, n.channel) for n in (await session.exec(select(Notification))).scalars()
                if n.state == "sent"}
    assert steps["registered"] == "fired" and steps["waiver_requested"] == "fired"
    assert {("registered", "sms"), ("registered", "email"), ("breached", "sms")} <= sent


async def test_the_scheduler_leaves_an_incident_being_changed_for_its_next_run(client, seeded, runtime, clock,
                                                                               database_url):
    if not database_url.startswith("postgresql"):
        return  # SQLite has one writer: nothing runs beside a change
    incident = await register(client, START - hours(5) + timedelta(seconds=1))
    clock.set(START + timedelta(seconds=1))
    async with transaction(runtime.sessions) as change:  # a request holding the incident, as closing does
        await change.execute(text("SELECT id FROM incident WHERE id = :id FOR NO KEY UPDATE"),
                             {"id": incident["id"]})
        assert await runtime.dispatcher.detect_breaches(clock.now()) == 0  # skipped, not waited for
        assert (await runtime.dispatcher.fire(clock.now())).due == 0
    assert await runtime.dispatcher.detect_breaches(clock.now()) == 1
    assert (await runtime.dispatcher.fire(clock.now())).due > 0
