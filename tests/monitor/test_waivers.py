"""SPEC §11.1–§11.4 and §4.6–§4.7: no duty escapes by closing or downgrading, a
supervisor decides waivers, a breach is never erased, a late duty never looks
on time."""

from __future__ import annotations

import shutil
from datetime import timedelta

import httpx
import pytest
from pages_support import page_client, post, signed_in
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select, text
from support import bearer, hours, make_tokens, obligation, register, seed_departments

from alerts.outbox import OutboxChannel
from monitor.api.app import create_app
from monitor.db import migrate, sync_url
from monitor.models import EscalationStep
from monitor.runtime import Runtime
from rules import SHIPPED_DIR
from tests.conftest import ADMIN_TOKEN, START, make_settings

SUPERVISOR_PHONE = "+8613800000009"


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def notifications(client, incident_id):
    return (await client.get("/api/v1/notifications", params={"incident_id": incident_id})).json()


async def sample(client, name: str, **labels: str) -> float | None:
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def waive(client, incident_id, key, decision, token, reason="经核实不属于重大事件"):
    return await client.post(f"/api/v1/incidents/{incident_id}/obligations/{key}/waiver",
                             json={"decision": decision, "reason": reason}, headers=bearer(token))


async def test_a_closed_incident_still_breaches_and_tells_the_supervisors(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}"
    assert (await client.post(url + "/close", json={"reason": "处置完毕"})).status_code == 200
    await run_at(runtime, clock, START)
    asked = [(n["step"], n["to"]) for n in await notifications(client, incident["id"])
             if n["step"] == "waiver_requested"]
    assert sorted(asked) == [("waiver_requested", SUPERVISOR_PHONE), ("waiver_requested", "chen@gov.example.org")]
    outbox = (await client.get("/api/v1/outbox", params={"incident_id": incident["id"]})).json()
    sms = next(m for m in outbox if m["step"] == "waiver_requested" and m["channel"] == "sms")
    assert "处置完毕" in sms["body"] and "发布权威信息" in sms["body"]

    await run_at(runtime, clock, START + hours(4))  # the release deadline passes after closing
    body = (await client.get(url)).json()
    release = obligation(body, "authoritative_release")
    assert body["state"] == "closed" and release["state"] == "breached"
    assert release["breached_at"].startswith((START + hours(4)).isoformat()[:19])
    assert [c["obligation"] for c in (await client.get("/api/v1/cases")).json()] == ["authoritative_release"]
    sent = {(n["step"], n["to"]) for n in await notifications(client, incident["id"])}
    assert ("breached", SUPERVISOR_PHONE) in sent
    assert await sample(client, "sunclock_deadline_remaining_seconds", incident_id=str(incident["id"]),
                        obligation="authoritative_release") == 0.0
    board = (await client.get("/metrics")).text
    assert ('sunclock_breaches_total{department="EMB",district="default",obligation="authoritative_release"} 1.0'
            in board)


async def test_only_a_supervisor_decides_a_waiver(client, seeded, runtime):
    tokens = await make_tokens(runtime)
    incident = await register(client, START - hours(1))
    for role in ("duty_officer", "department_head", "admin"):
        assert (await waive(client, incident["id"], "press_conference", "granted", tokens[role])).status_code == 403
    missing = await waive(client, incident["id"], "no_such_duty", "granted", tokens["supervisor"])
    assert missing.status_code == 404
    refused = await waive(client, incident["id"], "press_conference", "refused", tokens["supervisor"])
    assert refused.status_code == 409  # nobody asked for one
    granted = await waive(client, incident["id"], "press_conference", "granted", tokens["supervisor"])
    assert granted.status_code == 200, granted.text
    assert granted.json()["state"] == "waived"
    assert granted.json()["waiver"]["state"] == "granted" and granted.json()["waiver"]["decided_by"] == "supervisor"
    again = await waive(client, incident["id"], "press_conference", "granted", tokens["supervisor"])
    assert again.status_code == 409
    async with runtime.sessions() as session:
        planned = (await session.exec(select(EscalationStep).where(
            EscalationStep.incident_id == incident["id"], EscalationStep.obligation_key == "press_conference",
            EscalationStep.state == "planned"))).scalars().all()
    assert planned == []


async def test_a_refused_waiver_keeps_the_clock_and_a_granted_one_keeps_the_breach(client, seeded, runtime, clock):
    tokens = await make_tokens(runtime)
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}"
    await client.post(url + "/close", json={"reason": "处置完毕"})
    refused = await waive(client, incident["id"], "authoritative_release", "refused", tokens["supervisor"])
    assert refused.status_code == 200 and refused.json()["waiver"]["state"] == "refused"
    await run_at(runtime, clock, START + hours(4))
    assert obligation((await client.get(url)).json(), "authoritative_release")["state"] == "breached"
    granted = await waive(client, incident["id"], "authoritative_release", "granted", tokens["supervisor"])
    assert granted.status_code == 200
    assert granted.json()["state"] == "waived" and granted.json()["breached_at"] is not None
    assert len((await client.get("/api/v1/cases")).json()) == 1  # the breach stays on record
    # A waived duty is no longer counted down, and its overdue repeats stop.
    assert await sample(client, "sunclock_deadline_remaining_seconds", incident_id=str(incident["id"]),
                        obligation="authoritative_release") is None
    before = len(await notifications(client, incident["id"]))
    await run_at(runtime, clock, START + hours(8))
    assert [n["step"] for n in await notifications(client, incident["id"])][before:].count("overdue") == 0


async def test_overdue_repeats_stop_at_the_case_decision_not_at_closing(client, seeded, runtime, clock):
    tokens = await make_tokens(runtime)
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}"
    await run_at(runtime, clock, START + hours(4))
    await client.post(url + "/close", json={"reason": "处置完毕"})
    await run_at(runtime, clock, START + hours(5))
    overdue = [n for n in await notifications(client, incident["id"]) if n["step"] == "overdue"]
    assert {n["to"] for n in overdue} >= {SUPERVISOR_PHONE}
    case = (await client.get("/api/v1/cases")).json()[0]
    decided = await client.post(f"/api/v1/cases/{case['id']}/decision", json={"decision": "notice", "reason": "通报"},
                                headers=bearer(tokens["supervisor"]))
    assert decided.status_code == 200
    count = len(overdue)
    await run_at(runtime, clock, START + hours(9))
    assert len([n for n in await notifications(client, incident["id"]) if n["step"] == "overdue"]) == count
    # Dealt with by the supervisor: the closed incident leaves the countdown.
    assert await sample(client, "sunclock_deadline_remaining_seconds", incident_id=str(incident["id"]),
                        obligation="authoritative_release") is None


async def test_a_withdrawn_breach_keeps_its_case_and_the_counter(client, seeded, runtime):
    incident = await register(client, START - hours(6))
    url = f"/api/v1/incidents/{incident['id']}"
    labels = {"department": "EMB", "obligation": "authoritative_release"}
    assert await sample(client, "sunclock_breaches_total", **labels) == 1
    moved = await client.patch(url, json={"occurred_at": (START - hours(2)).isoformat(), "reason": "时间登记错误"})
    assert obligation(moved.json(), "authoritative_release")["state"] == "pending"
    assert await sample(client, "sunclock_breaches_total", **labels) == 1
    cases = (await client.get("/api/v1/cases")).json()
    assert [(c["obligation"], c["breach_withdrawn"]) for c in cases] == [("authoritative_release", True)]
    kinds = [e["kind"] for e in (await client.get(url + "/timeline")).json()]
    assert "breach_withdrawn" in kinds
    # Breaching again reuses the one case of the duty.
    again = await client.patch(url, json={"occurred_at": (START - hours(7)).isoformat(), "reason": "再次核实"})
    assert obligation(again.json(), "authoritative_release")["state"] == "breached"
    cases = (await client.get("/api/v1/cases")).json()
    assert [(c["obligation"], c["breach_withdrawn"]) for c in cases] == [("authoritative_release", False)]
    assert cases[0]["breached_at"].startswith((START - hours(2)).isoformat()[:19])
    assert await sample(client, "sunclock_breaches_total", **labels) == 1


async def test_an_earlier_start_makes_a_recorded_release_late_with_its_case(client, seeded):
    incident = await register(client, START - hours(4))
    url = f"/api/v1/incidents/{incident['id']}"
    recorded = await client.post(url + "/milestones", json={
        "obligation": "authoritative_release", "at": (START - timedelta(minutes=30)).isoformat()})
    assert recorded.json()["state"] == "met"
    moved = await client.patch(url, json={"occurred_at": (START - hours(6)).isoformat(), "reason": "提前了两小时"})
    release = obligation(moved.json(), "authoritative_release")
    assert release["state"] == "met_late"  # published 30 minutes after the new deadline
    assert release["breached_at"].startswith((START - hours(1)).isoformat()[:19])
    cases = (await client.get("/api/v1/cases")).json()
    assert [(c["obligation"], c["decision"]) for c in cases] == [("authoritative_release", "pending")]
    timeline = (await client.get(url + "/timeline")).json()
    regraded = next(e for e in timeline if e["kind"] == "regraded")
    assert regraded["detail"]["from_state"] == "met" and regraded["detail"]["to_state"] == "met_late"
    # Back to the first start time: on time again, the breach withdrawn, the case kept.
    back = await client.patch(url, json={"occurred_at": (START - hours(4)).isoformat(), "reason": "核实后改回"})
    assert obligation(back.json(), "authoritative_release")["state"] == "met"
    assert [c["breach_withdrawn"] for c in (await client.get("/api/v1/cases")).json()] == [True]


DISTRICT_RULE = """
id: district_general_incident
title: 一般突发事件信息报送
applies_to:
  severities: [III, IV]
registered:
  to: [head]
obligations:
  - key: initial_report
    title: 报送初步情况
    due: 12h
    ladder:
      - {step: reminder, at: -2h, to: [head]}
      - {step: breached, at: 0, to: [head, supervisors]}
"""


@pytest.fixture
async def two_rule_client(database_url, clock, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(SHIPPED_DIR / "major_emergency.yaml", rules_dir)
    (rules_dir / "district.yaml").write_text(DISTRICT_RULE, encoding="utf-8")
    runtime = Runtime.build(make_settings(database_url, rules_dir=str(rules_dir)), clock=clock, migrate_schema=False,
                            channels={"sms": OutboxChannel("sms"), "email": OutboxChannel("email")})
    app = create_app(runtime, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sunclock.test",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        yield c, runtime
    await runtime.close()


async def test_each_rule_is_judged_on_its_own_when_the_severity_changes(two_rule_client):
    client, runtime = two_rule_client
    await seed_departments(client)
    incident = await register(client, START - hours(1), severity="II")
    url = f"/api/v1/incidents/{incident['id']}"
    assert {o["key"] for o in incident["obligations"]} == {"authoritative_release", "press_conference"}
    down = (await client.patch(url, json={"severity": "III", "reason": "核实为较大以下"})).json()
    states = {o["key"]: (o["state"], o["waiver"] and o["waiver"]["state"]) for o in down["obligations"]}
    assert states == {"authoritative_release": ("pending", "requested"), "press_conference": ("pending", "requested"),
                      "initial_report": ("pending", None)}
    async with runtime.sessions() as session:
        steps = {(s.obligation_key, s.kind, s.occurrence, s.state) for s in (await session.exec(
            select(EscalationStep).where(EscalationStep.incident_id == incident["id"]))).scalars()}
    # The district rule is fully planned, with its own registered notice; the major rule's steps still run.
    assert {("initial_report", "reminder", 1, "planned"), ("initial_report", "breached", 1, "planned"),
            ("", "registered", 2, "planned"), ("authoritative_release", "breached", 1, "planned")} <= steps
    up = (await client.patch(url, json={"severity": "II", "reason": "伤亡上升"})).json()
    states = {o["key"]: (o["state"], o["waiver"] and o["waiver"]["state"]) for o in up["obligations"]}
    assert states["authoritative_release"] == ("pending", None)  # the request lapsed: back in scope
    assert states["initial_report"] == ("pending", "requested")
    kinds = [e["kind"] for e in (await client.get(url + "/timeline")).json()]
    assert kinds.count("waiver_requested") == 2 and "waiver_lapsed" in kinds


async def test_the_migration_turns_cancelled_duties_into_waivers_with_the_closing_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0002")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO department (id, code, name, supervisory, created_at) "
                          "VALUES (1, 'EMB', '应急局', 0, '2026-11-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO incident (id, title, severity, occurred_at, registered_at, department_id, state, "
            "registered_by, closed_at, close_reason) VALUES (1, 't', 'I', '2026-11-01 00:00:00', "
            "'2026-11-01 00:00:00', 1, 'closed', 'duty', '2026-11-01 01:00:00', '误报')"))
        for key, state in (("authoritative_release", "cancelled"), ("press_conference", "met")):
            conn.execute(text("INSERT INTO obligation (incident_id, rule_id, key, title, due_at, state) "
                              "VALUES (1, 'r', :key, 't', '2026-11-01 05:00:00', :state)"),
                         {"key": key, "state": state})
    migrate(url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT key, state, waiver_state, waiver_reason FROM obligation ORDER BY key")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("authoritative_release", "waived", "granted", "误报"),
                                        ("press_conference", "met", None, None)]


async def test_a_supervisor_grants_a_requested_waiver_from_the_cases_page(runtime, client):
    async with page_client(runtime) as pages:  # seeds the departments and the users
        await _grant_from_the_cases_page(pages, client)


async def _grant_from_the_cases_page(pages, client):
    incident = await register(client, START - hours(1))
    await client.post(f"/api/v1/incidents/{incident['id']}/close", json={"reason": "误报，已核实无事故"})
    csrf = await signed_in(pages, "supervisor")
    listing = (await pages.get("/cases")).text
    assert "误报，已核实无事故" in listing and f"waiver-{incident['id']}-press_conference" in listing
    refused = await post(pages, f"/incidents/{incident['id']}/obligations/press_conference/waiver", csrf,
                         decision="granted", reason=" ")
    assert refused.status_code == 422
    done = await post(pages, f"/incidents/{incident['id']}/obligations/press_conference/waiver", csrf,
                      decision="granted", reason="核实为误报")
    assert done.status_code == 303
    body = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert obligation(body, "press_conference")["state"] == "waived"
    assert obligation(body, "authoritative_release")["waiver"]["state"] == "requested"


async def test_a_milestone_recorded_late_before_the_sweep_still_opens_a_case(client, seeded, clock):
    incident = await register(client, START - hours(1))
    clock.set(START + hours(4) + timedelta(seconds=30))  # the deadline passed; no sweep has run
    recorded = await client.post(f"/api/v1/incidents/{incident['id']}/milestones", json={
        "obligation": "authoritative_release", "at": (START + hours(4) + timedelta(seconds=10)).isoformat()})
    assert recorded.json()["state"] == "met_late"
    assert recorded.json()["breached_at"].startswith((START + hours(4)).isoformat()[:19])
    assert [c["obligation"] for c in (await client.get("/api/v1/cases")).json()] == ["authoritative_release"]


async def test_a_duty_still_owed_after_closing_can_be_recorded_from_the_incident_page(runtime, client):
    async with page_client(runtime) as pages:
        incident = await register(client, START - hours(1))
        await client.post(f"/api/v1/incidents/{incident['id']}/close", json={"reason": "处置完毕"})
        csrf = await signed_in(pages, "duty")
        page = (await pages.get(f"/incidents/{incident['id']}")).text
        assert f'action="/incidents/{incident["id"]}/milestone"' in page
        assert f'action="/incidents/{incident["id"]}/close"' not in page
        done = await post(pages, f"/incidents/{incident['id']}/milestone", csrf, obligation="authoritative_release",
                          at="2026-11-28T09:50")
        assert done.status_code == 303
    release = obligation((await client.get(f"/api/v1/incidents/{incident['id']}")).json(), "authoritative_release")
    assert release["state"] == "met"
