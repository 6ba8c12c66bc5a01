"""SPEC §13.4: keep publishing (持续发布). After the release, an update is due
every 24 hours while the incident is open; each occurrence is an obligation
with its own ladder, breach and case; closing ends the series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from support import bearer, hours, make_tokens, obligation, register

from monitor.models import EscalationStep
from tests.conftest import START

SUPERVISOR_PHONE = "+8613800000009"


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def record(client, incident_id, key, at):
    response = await client.post(f"/api/v1/incidents/{incident_id}/milestones",
                                 json={"obligation": key, "at": at.isoformat()})
    assert response.status_code == 201, response.text
    return response.json()


async def show(client, incident_id):
    return (await client.get(f"/api/v1/incidents/{incident_id}")).json()


def keys(incident):
    return [o["key"] for o in incident["obligations"]]


async def test_the_release_starts_the_series_and_each_update_the_next(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    assert "keep_publishing#1" not in keys(incident)  # nothing before the release
    await record(client, incident["id"], "authoritative_release", START)
    first = obligation(await show(client, incident["id"]), "keep_publishing#1")
    assert first["state"] == "pending" and first["due_at"].startswith((START + hours(24)).isoformat()[:19])
    assert first["title"] == "持续发布 #1"
    clock.set(START + hours(20))
    await record(client, incident["id"], "keep_publishing#1", START + hours(19))
    body = await show(client, incident["id"])
    assert obligation(body, "keep_publishing#1")["state"] == "met"
    second = obligation(body, "keep_publishing#2")
    assert second["due_at"].startswith((START + hours(43)).isoformat()[:19])  # 24 h after the first update
    assert "keep_publishing#3" not in keys(body)


async def test_an_occurrence_has_its_own_ladder_breach_and_case(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "press_conference", START)  # keep this test's cases to the series
    await record(client, incident["id"], "authoritative_release", START)
    await run_at(runtime, clock, START + hours(22))
    await run_at(runtime, clock, START + hours(24))
    sent = {(n["obligation"], n["step"], n["to"]) for n in (await client.get(
        "/api/v1/notifications", params={"incident_id": incident["id"]})).json()}
    assert ("keep_publishing#1", "reminder", "+8613800000001") in sent
    assert ("keep_publishing#1", "breached", SUPERVISOR_PHONE) in sent
    assert not any(o == "keep_publishing#1" and step == "reminder" and to == SUPERVISOR_PHONE for o, step, to in sent)
    first = obligation(await show(client, incident["id"]), "keep_publishing#1")
    assert first["state"] == "breached" and first["breached_at"].startswith((START + hours(24)).isoformat()[:19])
    [case] = (await client.get("/api/v1/cases")).json()
    assert case["obligation"] == "keep_publishing#1" and case["department"] == "EMB"
    outbox = (await client.get("/api/v1/outbox", params={"incident_id": incident["id"]})).json()
    assert any("持续发布 #1" in m["body"] for m in outbox if m["step"] == "breached" and m["channel"] == "sms")
    # Published late: met late, the case stays, and the next update is due 24 h after this one.
    clock.set(START + hours(26))
    late = await record(client, incident["id"], "keep_publishing#1", START + hours(25))
    assert late["state"] == "met_late"
    second = obligation(await show(client, incident["id"]), "keep_publishing#2")
    assert second["due_at"].startswith((START + hours(49)).isoformat()[:19])
    assert len((await client.get("/api/v1/cases")).json()) == 1


async def test_a_release_recorded_long_after_breaches_the_first_update_at_once(client, seeded, runtime, clock):
    incident = await register(client, START - hours(30))
    clock.set(START)
    await record(client, incident["id"], "authoritative_release", START - hours(28))
    first = obligation(await show(client, incident["id"]), "keep_publishing#1")
    assert first["state"] == "breached" and first["breached_at"].startswith((START - hours(4)).isoformat()[:19])


async def test_closing_waives_the_pending_update_and_keeps_a_breached_ones_case(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "press_conference", START)
    await record(client, incident["id"], "authoritative_release", START)
    url = f"/api/v1/incidents/{incident['id']}"
    assert (await client.post(url + "/close", json={"reason": "应急响应终止"})).status_code == 200
    first = obligation(await show(client, incident["id"]), "keep_publishing#1")
    assert first["state"] == "waived" and first["waiver"]["reason"] == "应急响应终止"
    assert first["waiver"]["state"] == "granted"
    entries = (await client.get(url + "/timeline")).json()
    [ended] = [e for e in entries if e["kind"] == "series_ended"]
    assert ended["detail"] == {"obligations": ["keep_publishing#1"], "reason": "应急响应终止"}
    assert not any(e["kind"] == "waiver_requested" for e in entries)  # nothing left for a supervisor
    async with runtime.sessions() as session:
        states = {s.state for s in (await session.exec(select(EscalationStep).where(
            EscalationStep.obligation_key == "keep_publishing#1"))).scalars()}
    assert states == {"cancelled"}
    await run_at(runtime, clock, START + hours(30))  # nothing breaches after closing
    assert obligation(await show(client, incident["id"]), "keep_publishing#1")["state"] == "waived"
    assert (await client.get("/api/v1/cases")).json() == []
    board = (await client.get("/api/v1/incidents", params={"state": "open"})).json()
    assert board == []


async def test_a_breached_update_keeps_its_case_when_the_incident_closes(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "press_conference", START)
    await record(client, incident["id"], "authoritative_release", START)
    await run_at(runtime, clock, START + hours(24))
    url = f"/api/v1/incidents/{incident['id']}"
    assert (await client.post(url + "/close", json={"reason": "应急响应终止"})).status_code == 200
    first = obligation(await show(client, incident["id"]), "keep_publishing#1")
    # Breached while the incident was open: owed like any breached duty until a supervisor decides.
    assert first["state"] == "breached" and first["waiver"]["state"] == "requested"
    [case] = (await client.get("/api/v1/cases")).json()
    assert case["obligation"] == "keep_publishing#1" and case["decision"] == "pending"
    # And no new occurrence once closed, even when the breached one is recorded.
    clock.set(START + hours(25))
    await record(client, incident["id"], "keep_publishing#1", START + hours(25))
    assert "keep_publishing#2" not in keys(await show(client, incident["id"]))


async def test_a_start_time_correction_leaves_the_updates_where_they_are(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "authoritative_release", START)
    corrected = await client.patch(f"/api/v1/incidents/{incident['id']}", json={
        "occurred_at": (START - hours(3)).isoformat(), "reason": "发生时间核实为更早"})
    assert corrected.status_code == 200
    body = corrected.json()
    assert obligation(body, "press_conference")["due_at"].startswith((START + hours(21)).isoformat()[:19])
    assert obligation(body, "keep_publishing#1")["due_at"].startswith((START + hours(24)).isoformat()[:19])


async def test_leaving_the_rules_scope_asks_a_waiver_and_coming_back_takes_the_series_up(client, seeded, runtime,
                                                                                         clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "press_conference", START)
    await record(client, incident["id"], "authoritative_release", START)
    url = f"/api/v1/incidents/{incident['id']}"
    down = (await client.patch(url, json={"severity": "III", "reason": "核实为较大"})).json()
    assert obligation(down, "keep_publishing#1")["waiver"]["state"] == "requested"
    clock.set(START + hours(10))
    await record(client, incident["id"], "keep_publishing#1", START + hours(10))
    assert "keep_publishing#2" not in keys(await show(client, incident["id"]))  # out of scope: no new duty
    up = (await client.patch(url, json={"severity": "II", "reason": "伤亡上升"})).json()
    assert obligation(up, "keep_publishing#2")["due_at"].startswith((START + hours(34)).isoformat()[:19])


async def test_metrics_count_occurrences_under_the_series_key(client, seeded, runtime, clock):
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "press_conference", START)
    await record(client, incident["id"], "authoritative_release", START)
    await run_at(runtime, clock, START + hours(24))
    clock.set(START + hours(25))
    await record(client, incident["id"], "keep_publishing#1", START + hours(25))
    samples = [s for f in text_string_to_metric_families((await client.get("/metrics")).text) for s in f.samples]
    assert not any("#" in s.labels.get("obligation", "") for s in samples)

    def value(name, **labels):
        return next(s.value for s in samples if s.name == name and all(s.labels.get(k) == v
                                                                           for k, v in labels.items()))

    assert value("sunclock_obligations", obligation="keep_publishing", state="met_late") == 1
    assert value("sunclock_obligations", obligation="keep_publishing", state="pending") == 1
    assert value("sunclock_breaches_total", department="EMB", obligation="keep_publishing") == 1
    assert value("sunclock_deadline_remaining_seconds", incident_id=str(incident["id"]),
                 obligation="keep_publishing") == hours(24).total_seconds()


async def test_a_waived_update_is_followed_by_the_next_one(client, seeded, runtime, clock):
    tokens = await make_tokens(runtime)
    incident = await register(client, START - hours(1))
    await record(client, incident["id"], "authoritative_release", START)
    granted = await client.post(f"/api/v1/incidents/{incident['id']}/obligations/keep_publishing%231/waiver",
                                json={"decision": "granted", "reason": "当日无新情况"},
                                headers=bearer(tokens["supervisor"]))
    assert granted.status_code == 200, granted.text
    assert granted.json()["state"] == "waived"
    body = await show(client, incident["id"])
    # The duty lasts while the incident is open: the next update is counted from the waived one's deadline.
    assert obligation(body, "keep_publishing#2")["due_at"].startswith((START + hours(48)).isoformat()[:19])
