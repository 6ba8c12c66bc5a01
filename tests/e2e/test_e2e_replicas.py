"""Real processes on one PostgreSQL: several replicas send each step once, and a
replica killed with SIGKILL mid-burst loses nothing when it comes back.

Deadlines are real: incidents are backdated so that they fall due seconds after
registration, and the test waits for the processes to act on them.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from e2e_peers import ThreadedTwilio
from e2e_processes import start_sunclock, stop, wait_until
from sqlalchemy import create_engine, select, update

from monitor.db import sync_url
from monitor.models import EscalationStep, Obligation
from tests.conftest import drop_pg_database, recreate_pg_database

ADMIN = "e2e-admin-token"
DEPARTMENTS = [
    {"code": "GOV", "name": "区政务公开办", "supervisory": True,
     "contacts": [{"name": "陈主任", "role": "head", "mobile": "+8613800000009"}]},
    {"code": "EMB", "name": "区应急管理局", "contacts": [
        {"name": "王局长", "role": "head", "mobile": "+8613800000001"},
        {"name": "李副局长", "role": "deputy", "mobile": "+8613800000002"}]},
]

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url():
    name = f"sunclock_e2e_{os.getpid()}"
    url = recreate_pg_database(name)
    yield url
    drop_pg_database(name)


@pytest.fixture
def twilio():
    with ThreadedTwilio() as peer:
        yield peer


def api(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)


def replica(tmp_path, name: str, pg_url: str, twilio: ThreadedTwilio, **env: str):
    workdir = tmp_path / name
    workdir.mkdir(exist_ok=True)
    return start_sunclock(workdir, env={"SUNCLOCK_DATABASE_URL": pg_url, "SUNCLOCK_ADMIN_TOKEN": ADMIN,
                                        **twilio.env(), **env})


def register_due_soon(clients: list[httpx.Client], count: int, seconds: float) -> datetime:
    """``count`` major incidents whose 5-hour release deadline falls ``seconds`` from now."""
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    occurred = (due - timedelta(hours=5)).isoformat()
    for n in range(count):
        clients[n % len(clients)].post("/api/v1/incidents", json={
            "title": f"燃气爆炸 {n}", "severity": "I", "department": "EMB", "occurred_at": occurred,
        }).raise_for_status()
    return due


def all_notifications(client: httpx.Client) -> list[dict]:
    """Every notification, a page of 1000 at a time, as many as X-Total-Count says."""
    rows: list[dict] = []
    while True:
        page = client.get("/api/v1/notifications", params={"limit": 1000, "offset": len(rows)})
        page.raise_for_status()
        rows += page.json()
        if not page.json() or len(rows) >= int(page.headers["X-Total-Count"]):
            return rows


def sms_rows(client: httpx.Client, step: str) -> list[dict]:
    return [r for r in all_notifications(client) if r["channel"] == "sms" and r["step"] == step]


def test_two_replicas_send_every_step_exactly_once(tmp_path, pg_url, twilio):
    first, base_a = replica(tmp_path, "a", pg_url, twilio)
    second, base_b = replica(tmp_path, "b", pg_url, twilio)
    try:
        with api(base_a) as a, api(base_b) as b:
            for department in DEPARTMENTS:
                a.post("/api/v1/departments", json=department).raise_for_status()
            incidents = 30
            register_due_soon([a, b], incidents, seconds=6)
            # registered → head; catch-up final_warning → head, deputy, supervisor; breached → head, supervisor.
            # An incident whose final warning fired only after its deadline (a slow machine: registered
            # late, or the sweep came after the deadline) has none (catch-up), so count what was planned.
            wait_until(lambda: len([r for r in sms_rows(a, "breached") if r["state"] == "sent"]) == incidents * 2,
                       60, "the breach messages of both replicas")
            rows = [r for r in all_notifications(a) if r["channel"] == "sms"]
            per_incident = Counter((r["incident_id"], r["step"]) for r in rows)
            assert {n for (_, step), n in per_incident.items() if step == "final_warning"} <= {3}
            assert [per_incident[(i, "registered")] for i in {r["incident_id"] for r in rows}] == [1] * incidents
            received = twilio.received()
            assert all(r["state"] == "sent" for r in rows)
            assert sum(received.values()) == len(rows) >= incidents * 3, "a step was sent twice or not at all"
            assert set(received.values()) == {1}

            # One replica may still be committing the breaches it detected while the
            # other has already sent the breach messages: the states converge at once.
            def release_states() -> set[str]:
                return {o["state"] for i in a.get("/api/v1/incidents").json() for o in i["obligations"]
                        if o["key"] == "authoritative_release"}

            wait_until(lambda: release_states() == {"breached"}, 30, "every release marked breached")
            assert len(b.get("/api/v1/cases").json()) == incidents
    finally:
        stop(first)
        stop(second)


def test_a_replica_killed_mid_burst_loses_nothing(tmp_path, pg_url, twilio):
    twilio.fake.latency = 0.05  # a slow carrier, so the kill lands while messages are in flight
    slow = {"SUNCLOCK_SEND_CONCURRENCY": "4", "SUNCLOCK_LEASE_SECONDS": "5"}
    victim, base = replica(tmp_path, "victim", pg_url, twilio, **slow)
    try:
        with api(base) as client:
            for department in DEPARTMENTS:
                client.post("/api/v1/departments", json=department).raise_for_status()
            incidents = 60
            before = sum(twilio.received().values())  # before registering: the first notices go out at once
            register_due_soon([client], incidents, seconds=8)
            burst = incidents * 2  # breached → head and supervisor
            wait_until(lambda: sum(twilio.received().values()) - before >= incidents * 4 + burst // 4, 90,
                       "the breach burst to start")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        sent_before_kill = sum(twilio.received().values())
        restarted, base = replica(tmp_path, "victim", pg_url, twilio, **slow)
        victim = restarted
        with api(base) as client:
            wait_until(lambda: len([r for r in sms_rows(client, "breached") if r["state"] == "sent"]) == burst,
                       90, "every breach message after the restart")
            rows = all_notifications(client)
        assert all(r["state"] == "sent" for r in rows if r["channel"] == "sms")
        received = twilio.received()
        assert len(received) == len([r for r in rows if r["channel"] == "sms"]), "a message was lost"
        duplicates = sum(received.values()) - len(received)
        # Only messages accepted by the carrier but not yet recorded when the
        # process died can go out twice: what finished during one commit plus the sends in flight.
        assert duplicates <= 25 + 4, duplicates
        print(f"sent before the kill: {sent_before_kill}, duplicates after restart: {duplicates}")
    finally:
        stop(victim)


def test_deadlines_that_pass_while_down_breach_at_the_deadline_on_restart(tmp_path, pg_url, twilio):
    server, base = replica(tmp_path, "a", pg_url, twilio)
    try:
        with api(base) as client:
            for department in DEPARTMENTS:
                client.post("/api/v1/departments", json=department).raise_for_status()
            incident = client.post("/api/v1/incidents", json={
                "title": "水库溃坝", "severity": "I", "department": "EMB",
                "occurred_at": datetime.now(UTC).isoformat()}).json()
            wait_until(lambda: len(sms_rows(client, "registered")) == 1, 30, "the registered notice")
    finally:
        stop(server)
    # While it is down, the release deadline passes by 90 minutes.
    shift = timedelta(hours=6, minutes=30)
    engine = create_engine(sync_url(pg_url))
    with engine.begin() as db:
        due = db.execute(select(Obligation.due_at).where(Obligation.key == "authoritative_release")).scalar_one()
        db.execute(update(Obligation).where(Obligation.key == "authoritative_release").values(due_at=due - shift))
        for step_id, planned in db.execute(select(EscalationStep.id, EscalationStep.planned_at).where(
                EscalationStep.obligation_key == "authoritative_release")).all():
            db.execute(update(EscalationStep).where(EscalationStep.id == step_id).values(planned_at=planned - shift))
    engine.dispose()
    server, base = replica(tmp_path, "a", pg_url, twilio)
    try:
        with api(base) as client:
            wait_until(lambda: any(r["state"] == "sent" for r in sms_rows(client, "overdue")), 30,
                       "the overdue step after the restart")
            shown = client.get(f"/api/v1/incidents/{incident['id']}").json()
            release = next(o for o in shown["obligations"] if o["key"] == "authoritative_release")
            assert release["state"] == "breached"
            assert datetime.fromisoformat(release["breached_at"]) == due - shift
            sent = {r["step"] for r in client.get("/api/v1/notifications").json() if r["obligation"]}
            assert sent == {"overdue"}, "only the latest overdue step is sent; the rest are skipped"
            assert all(r["late"] for r in sms_rows(client, "overdue"))
            kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{incident['id']}/timeline").json()]
            # reminder, warning, final_warning and breached were all due at once; overdue #1 went out
            assert kinds.count("step_skipped") == 4 and "breached" in kinds
    finally:
        stop(server)
