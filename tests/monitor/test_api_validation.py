"""Bad input: a 422 naming the field, never a 500, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support import hours, register, seed_departments

from monitor.models import Department, Incident, TimelineEntry
from tests.conftest import START

GOOD = {"title": "化工厂爆炸", "severity": "I", "department": "EMB", "occurred_at": START.isoformat()}


@pytest.mark.parametrize(("change", "field"), [
    ({"occurred_at": "2026-11-28T10:00:00"}, "occurred_at"),  # naive
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2026-13-40T10:00:00+08:00"}, "occurred_at"),
    ({"severity": "V"}, "severity"),
    ({"severity": None}, "severity"),
    ({"department": "NOPE"}, "department"),
    ({"department": "'; DROP TABLE incident;--"}, "department"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"location": "x" * 201}, "location"),
    ({"description": "x" * 4001}, "description"),
    ({"unexpected": 1}, "unexpected"),
    ({"title": 12}, "title"),
])
async def test_a_bad_incident_is_a_422_naming_the_field(client, runtime, change, field):
    await seed_departments(client)
    response = await client.post("/api/v1/incidents", json=GOOD | change)
    assert response.status_code == 422, response.text
    assert field in [loc for error in response.json()["detail"] for loc in error["loc"]]
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Incident))).scalar() == 0
        assert (await session.execute(select(func.count()).select_from(TimelineEntry))).scalar() == 0


@pytest.mark.parametrize(("contact", "field"), [
    ({"name": "王", "role": "head", "mobile": "13800000001", "email": "w@emb.example.org"}, "mobile"),
    ({"name": "王", "role": "head", "mobile": "+86138000000", "email": "w@emb.example.org"}, "mobile"),
    ({"name": "王", "role": "head", "mobile": "+86 138 0000 0001", "email": "w@emb.example.org"}, "mobile"),
    ({"name": "王", "role": "head", "mobile": "+8613800000001", "email": "not-an-email"}, "email"),
    ({"name": "王", "role": "chief", "mobile": "+8613800000001"}, "role"),
    ({"name": "", "role": "head", "mobile": "+8613800000001"}, "name"),
])
async def test_bad_contacts_are_refused_and_no_department_is_half_made(client, runtime, contact, field):
    response = await client.post("/api/v1/departments", json={"code": "EMB", "name": "应急", "contacts": [contact]})
    assert response.status_code == 422, response.text
    assert field in [loc for error in response.json()["detail"] for loc in error["loc"]]
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Department))).scalar() == 0


DEPUTY = {"name": "李副局长", "role": "deputy", "mobile": "+8613800000002"}


@pytest.mark.parametrize("body", [
    {"code": "EMB", "name": "应急"},
    {"code": "EMB", "name": "应急", "contacts": []},
    {"code": "EMB", "name": "应急", "contacts": [DEPUTY]},
    {"code": "GOV", "name": "政务公开办", "supervisory": True, "contacts": []},
])
async def test_a_department_nobody_can_be_reached_at_is_refused(client, runtime, body):
    response = await client.post("/api/v1/departments", json=body)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "contacts"]]
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Department))).scalar() == 0


async def test_a_department_cannot_be_updated_to_lose_its_head(client, runtime):
    await seed_departments(client)
    response = await client.put("/api/v1/departments/EMB", json={"code": "EMB", "name": "区应急管理局",
                                                                "contacts": [DEPUTY]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "contacts"]
    listed = next(d for d in (await client.get("/api/v1/departments")).json() if d["code"] == "EMB")
    assert [c["name"] for c in listed["contacts"]] == ["王局长", "李副局长"]


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'{"title": "\xff"}', b"", b'"string"'])
async def test_malformed_json_is_a_422(client, raw):
    response = await client.post("/api/v1/incidents", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/incidents/999", None),
    ("GET", "/api/v1/incidents/abc", None),
    ("GET", "/api/v1/incidents/99999999999999999999999", None),
    ("GET", "/api/v1/incidents?state=weird", None),
    ("GET", "/api/v1/incidents?limit=0", None),
    ("PATCH", "/api/v1/incidents/1", {"reason": "r"}),
    ("PATCH", "/api/v1/incidents/1", {"occurred_at": "2026-11-28T01:00:00", "reason": "r"}),
    ("POST", "/api/v1/incidents/1/milestones", {"obligation": "authoritative_release", "at": "now"}),
    ("POST", "/api/v1/incidents/1/milestones", {"obligation": "authoritative_release", "at": START.isoformat(),
                                                "evidence_url": "javascript:alert(1)"}),
    ("POST", "/api/v1/cases/1/decision", {"decision": "fire", "reason": "x"}),
    ("POST", "/api/v1/cases/999/decision", {"decision": "notice", "reason": "x"}),
    ("GET", "/api/v1/notifications?incident_id=x", None),
])
async def test_odd_requests_get_a_4xx_never_a_500(client, method, path, body):
    await seed_departments(client)
    await register(client, START - hours(6))
    response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


async def test_a_case_is_decided_once_with_a_reason(client, runtime):
    await seed_departments(client)
    await register(client, START - hours(6))
    from support import bearer, make_tokens
    tokens = await make_tokens(runtime)
    case = (await client.get("/api/v1/cases", params={"state": "pending"})).json()[0]
    url = f"/api/v1/cases/{case['id']}/decision"
    headers = bearer(tokens["supervisor"])
    assert (await client.post(url, json={"decision": "waived"}, headers=headers)).status_code == 422
    decided = await client.post(url, json={"decision": "summons", "reason": "逾期1小时未发布"}, headers=headers)
    assert decided.status_code == 200 and decided.json()["decision"] == "summons"
    assert decided.json()["decided_by"] == "supervisor"
    assert (await client.post(url, json={"decision": "waived", "reason": "x"}, headers=headers)).status_code == 409
    assert (await client.get("/api/v1/cases", params={"state": "pending"})).json() == []
    timeline = (await client.get(f"/api/v1/incidents/{case['incident_id']}/timeline")).json()
    assert timeline[-1]["kind"] == "case_decided" and timeline[-1]["actor"] == "supervisor"
