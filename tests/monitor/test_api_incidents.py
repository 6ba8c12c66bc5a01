"""The incident API and the clock semantics of SPEC §4 items 1–4, 6 and 7."""

from __future__ import annotations

from datetime import datetime, timedelta

from support import DEPARTMENTS, hours, obligation, register

from tests.conftest import START


async def test_registration_shows_both_legal_deadlines(client, seeded):
    incident = await register(client, START - hours(1))
    release = obligation(incident, "authoritative_release")
    press = obligation(incident, "press_conference")
    assert datetime.fromisoformat(release["due_at"]) == START + hours(4)
    assert datetime.fromisoformat(press["due_at"]) == START + hours(23)
    assert release["state"] == press["state"] == "pending"
    assert incident["department"] == "EMB" and incident["state"] == "open"
    assert datetime.fromisoformat(incident["registered_at"]) == START


async def test_minor_incident_has_no_deadlines(client, seeded):
    incident = await register(client, START, severity="III")
    assert incident["obligations"] == []


async def test_late_registration_is_breached_at_the_deadline_not_at_registration(client, seeded):
    incident = await register(client, START - hours(6))
    release = obligation(incident, "authoritative_release")
    assert release["state"] == "breached"
    assert datetime.fromisoformat(release["breached_at"]) == START - hours(1)
    assert obligation(incident, "press_conference")["state"] == "pending"
    cases = (await client.get("/api/v1/cases")).json()
    assert [(c["obligation"], c["decision"], c["department"]) for c in cases] == [
        ("authoritative_release", "pending", "EMB")]


async def test_occurred_at_may_not_be_more_than_five_minutes_ahead(client, seeded):
    await register(client, START + timedelta(minutes=5))
    response = await client.post("/api/v1/incidents", json={
        "title": "x", "severity": "I", "department": "EMB",
        "occurred_at": (START + timedelta(minutes=5, seconds=1)).isoformat()})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "occurred_at"]


async def test_milestone_on_time_is_met_and_late_is_met_late_keeping_the_breach(client, seeded, clock):
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}/milestones"
    response = await client.post(url, json={"obligation": "authoritative_release", "at": START.isoformat(),
                                            "evidence_url": "https://gov.example.org/news/1"})
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "met"

    late = await register(client, START - hours(6))
    response = await client.post(f"/api/v1/incidents/{late['id']}/milestones",
                                 json={"obligation": "authoritative_release", "at": START.isoformat()})
    body = response.json()
    assert body["state"] == "met_late"
    assert datetime.fromisoformat(body["breached_at"]) == START - hours(1)
    assert len((await client.get("/api/v1/cases")).json()) == 1


async def test_milestone_twice_is_a_conflict(client, seeded):
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}/milestones"
    first = await client.post(url, json={"obligation": "press_conference", "at": START.isoformat()})
    assert first.status_code == 201
    again = await client.post(url, json={"obligation": "press_conference", "at": START.isoformat()})
    assert again.status_code == 409


async def test_milestone_time_bounds(client, seeded):
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}/milestones"
    future = await client.post(url, json={"obligation": "authoritative_release",
                                          "at": (START + timedelta(seconds=1)).isoformat()})
    assert future.status_code == 422 and future.json()["detail"][0]["loc"] == ["body", "at"]
    before = await client.post(url, json={"obligation": "authoritative_release",
                                          "at": (START - hours(2)).isoformat()})
    assert before.status_code == 422 and before.json()["detail"][0]["loc"] == ["body", "at"]
    unknown = await client.post(url, json={"obligation": "tea_party", "at": START.isoformat()})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "obligation"]


async def test_start_time_correction_moves_deadlines_and_breaches_at_once(client, seeded):
    incident = await register(client, START - hours(1))
    response = await client.patch(f"/api/v1/incidents/{incident['id']}", json={
        "occurred_at": (START - hours(5) - timedelta(minutes=30)).isoformat(), "reason": "值班记录更正"})
    assert response.status_code == 200, response.text
    release = obligation(response.json(), "authoritative_release")
    assert release["state"] == "breached"
    assert datetime.fromisoformat(release["breached_at"]) == START - timedelta(minutes=30)
    assert datetime.fromisoformat(obligation(response.json(), "press_conference")["due_at"]) == \
        START + hours(18.5)
    kinds = [e["kind"] for e in (await client.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()]
    assert kinds[:2] == ["registered", "steps_planned"] and "corrected" in kinds and "breached" in kinds


async def test_correction_needs_a_reason(client, seeded):
    incident = await register(client, START - hours(1))
    response = await client.patch(f"/api/v1/incidents/{incident['id']}", json={"severity": "III"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_downgrade_requests_waivers_and_keeps_every_duty_running(client, seeded):
    incident = await register(client, START - hours(6))
    response = await client.patch(f"/api/v1/incidents/{incident['id']}", json={
        "severity": "III", "reason": "经核实为一般事件"})
    assert {o["key"]: (o["state"], o["waiver"]["state"], o["waiver"]["reason"])
            for o in response.json()["obligations"]} == {
        "authoritative_release": ("breached", "requested", "经核实为一般事件"),
        "press_conference": ("pending", "requested", "经核实为一般事件")}
    assert len((await client.get("/api/v1/cases")).json()) == 1


async def test_upgrade_into_major_creates_obligations_from_the_original_start(client, seeded):
    incident = await register(client, START - hours(6), severity="III")
    response = await client.patch(f"/api/v1/incidents/{incident['id']}", json={
        "severity": "II", "reason": "伤亡人数上升"})
    release = obligation(response.json(), "authoritative_release")
    assert release["state"] == "breached"
    assert datetime.fromisoformat(release["breached_at"]) == START - hours(1)


async def test_close_requests_waivers_and_discharges_nothing(client, seeded):
    incident = await register(client, START - hours(6))
    url = f"/api/v1/incidents/{incident['id']}"
    assert (await client.post(url + "/close", json={})).status_code == 422
    response = await client.post(url + "/close", json={"reason": "处置完毕"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "closed" and body["close_reason"] == "处置完毕"
    assert {o["key"]: (o["state"], o["waiver"]["state"]) for o in body["obligations"]} == {
        "authoritative_release": ("breached", "requested"), "press_conference": ("pending", "requested")}
    assert (await client.post(url + "/close", json={"reason": "again"})).status_code == 409
    listed = (await client.get("/api/v1/incidents", params={"state": "closed"})).json()
    assert [i["id"] for i in listed] == [incident["id"]]
    assert (await client.get("/api/v1/incidents", params={"state": "open"})).json() == []


async def test_incidents_are_listed_newest_first(client, seeded, clock):
    first = await register(client, START - hours(1), title="first")
    clock.advance(minutes=1)
    second = await register(client, START - hours(1), title="second")
    assert [i["id"] for i in (await client.get("/api/v1/incidents")).json()] == [second["id"], first["id"]]


async def test_times_come_back_in_utc_whatever_offset_was_sent(client, seeded):
    sent = datetime.fromisoformat("2026-11-28T09:00:00+08:00")  # 01:00 UTC
    incident = await register(client, sent)
    assert incident["occurred_at"] == "2026-11-28T01:00:00Z"
    assert obligation(incident, "authoritative_release")["due_at"] == "2026-11-28T06:00:00Z"


async def test_departments_supervisory_is_unique_and_codes_too(client, seeded):
    head = [{"name": "钱主任", "role": "head", "mobile": "+8613800000021"}]
    again = await client.post("/api/v1/departments", json={"code": "EMB", "name": "dup", "contacts": head})
    assert again.status_code == 409
    second = await client.post("/api/v1/departments", json={"code": "OTHER", "name": "x", "supervisory": True,
                                                             "contacts": head})
    assert second.status_code == 409
    listed = (await client.get("/api/v1/departments")).json()
    assert [d["code"] for d in listed] == ["EMB", "GOV", "HEALTH"]
    assert listed[0]["contacts"][0]["role"] == "head"


async def test_replacing_contacts_after_messages_were_sent_keeps_the_record(client, seeded, runtime):
    incident = await register(client, START - hours(1))
    await runtime.scheduler.run_once()  # the registered notice to 王局长
    emb = next(d for d in DEPARTMENTS if d["code"] == "EMB")
    moved = {"name": "王局长", "role": "head", "mobile": "+8613800000011", "email": "wang@emb.example.org"}
    response = await client.put("/api/v1/departments/EMB", json=emb | {"name": "区应急管理局（新）",
                                                                        "contacts": [moved]})
    assert response.status_code == 200, response.text
    listed = next(d for d in (await client.get("/api/v1/departments")).json() if d["code"] == "EMB")
    assert listed["name"] == "区应急管理局（新）"
    assert [(c["name"], c["mobile"]) for c in listed["contacts"]] == [("王局长", "+8613800000011")]  # 李副局长 retired
    sent = (await client.get("/api/v1/notifications", params={"incident_id": incident["id"]})).json()
    assert {r["to"] for r in sent} == {"+8613800000001", "wang@emb.example.org"}  # history unchanged
    assert (await client.put("/api/v1/departments/EMB", json=emb | {"code": "OTHER"})).status_code == 422
    assert (await client.put("/api/v1/departments/NOPE", json=emb | {"code": "NOPE"})).status_code == 404
