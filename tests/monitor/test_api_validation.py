"""Bad input: a 422 naming the field, never a 500, nothing half-written."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from support import bearer, hours, make_tokens, register

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
async def test_a_bad_incident_is_a_422_naming_the_field(client, seeded, runtime, change, field):
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


async def test_a_department_cannot_be_updated_to_lose_its_head(client, seeded, runtime):
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
async def test_odd_requests_get_a_4xx_never_a_500(client, seeded, method, path, body):
    await register(client, START - hours(6))
    response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


async def test_a_case_is_decided_once_with_a_reason(client, seeded, runtime):
    await register(client, START - hours(6))
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


def _fields(response) -> list:  # noqa: ANN001
    return [part for error in response.json()["detail"] for part in error["loc"]]


@pytest.mark.parametrize("when", [
    "1999-12-31T23:59:59Z", "0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00-08:00", "2101-01-01T00:00:00Z",
    "9999-12-31T23:59:59-08:00", "2000-01-01T07:59:59+08:00",
])
async def test_a_date_outside_2000_to_2100_is_a_422_naming_the_field(client, seeded, runtime, when):
    response = await client.post("/api/v1/incidents", json=GOOD | {"occurred_at": when})
    assert response.status_code == 422, response.text
    assert "occurred_at" in _fields(response)
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Incident))).scalar() == 0
    incident = await register(client, START - hours(1))
    corrected = await client.patch(f"/api/v1/incidents/{incident['id']}", json={"occurred_at": when, "reason": "r"})
    assert corrected.status_code == 422 and "occurred_at" in _fields(corrected), corrected.text
    milestone = await client.post(f"/api/v1/incidents/{incident['id']}/milestones",
                                  json={"obligation": "authoritative_release", "at": when})
    assert milestone.status_code == 422 and "at" in _fields(milestone), milestone.text
    for name in ("from", "to"):
        report = await client.get("/api/v1/reports/compliance", params={name: when})
        assert report.status_code == 422 and ["query", name] == report.json()["detail"][0]["loc"], report.text


async def test_the_first_and_last_moments_of_the_range_are_accepted(client, seeded):
    assert (await client.post("/api/v1/incidents", json=GOOD | {"occurred_at": "2000-01-01T00:00:00Z"})
            ).status_code == 201
    report = await client.get("/api/v1/reports/compliance",
                              params={"from": "2000-01-01T00:00:00Z", "to": "2100-12-31T23:59:59Z"})
    assert report.status_code == 200, report.text


BAD_TEXT = ["化工厂\x00爆炸", "\ud800", "ok\udfff"]


@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize("field", ["title", "description", "location"])
async def test_text_a_database_cannot_store_is_a_422_naming_the_field(client, seeded, runtime, bad, field):
    response = await client.post("/api/v1/incidents", content=_json(GOOD | {field: bad}),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Incident))).scalar() == 0


def _json(body: dict) -> bytes:
    """JSON with ``\\u0000`` and lone surrogates escaped, as a client would send them."""
    import json
    return json.dumps(body, ensure_ascii=True).encode()


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/departments", {"code": "NEW", "name": "新\x00单位"}, "name"),
    ("POST", "/api/v1/departments", {"code": "NEW", "name": "新单位", "contacts": [
        {"name": "王\x00", "role": "head", "mobile": "+8613800000001"}]}, "name"),
    ("POST", "/api/v1/departments", {"code": "NEW", "name": "新单位", "contacts": [
        {"name": "王", "role": "head", "email": "w\x00@emb.example.org"}]}, "email"),
    ("PATCH", "/api/v1/incidents/1", {"severity": "II", "reason": "改\x00级"}, "reason"),
    ("POST", "/api/v1/incidents/1/close", {"reason": "\x00"}, "reason"),
    ("POST", "/api/v1/incidents/1/milestones", {"obligation": "authoritative\x00release", "at": START.isoformat()},
     "obligation"),
    ("POST", "/api/v1/incidents/1/milestones", {"obligation": "authoritative_release", "at": START.isoformat(),
                                                "note": "\ud800"}, "note"),
    ("POST", "/api/v1/cases/1/decision", {"decision": "notice", "reason": "逾期\x00"}, "reason"),
])
async def test_nul_and_lone_surrogates_are_refused_in_every_body(client, seeded, runtime, method, path, body, field):
    await register(client, START - hours(6))
    headers = {"Content-Type": "application/json"}
    if path.startswith("/api/v1/cases"):  # only a supervisor decides
        headers |= bearer((await make_tokens(runtime))["supervisor"])
    response = await client.request(method, path, content=_json(body), headers=headers)
    assert response.status_code == 422, response.text
    assert field in _fields(response)


@pytest.mark.parametrize("path", ["/api/v1/departments/E%00MB", "/api/v1/incidents?state=open%00",
                                  "/api/v1/reports/compliance?from=2026-11-01T00:00:00%00Z",
                                  "/api/v1/notifications?incident_id=1%00", "/ack/abc%00def"])
async def test_nul_in_a_path_or_query_is_a_4xx(client, seeded, path):
    method = "PUT" if path.startswith("/api/v1/departments/") else "GET"
    body = {"code": "EMB", "name": "应急"} if method == "PUT" else None
    response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


async def test_a_body_over_one_mib_is_a_413(client, seeded, runtime):
    big = _json(GOOD | {"description": "x" * (1024 * 1024)})
    response = await client.post("/api/v1/incidents", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["detail"][0]["loc"] == ["body"]

    async def streamed():  # noqa: ANN202 - no Content-Length: the body arrives in chunks
        for _ in range(20):
            yield b"x" * 65536

    chunked = await client.post("/api/v1/incidents", content=streamed(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413, chunked.text
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Incident))).scalar() == 0


async def test_a_body_just_under_one_mib_is_read_and_judged_on_its_fields(client, seeded):
    body = _json(GOOD | {"description": "x" * (1024 * 1024 - 200)})
    assert len(body) <= 1024 * 1024
    response = await client.post("/api/v1/incidents", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "description" in _fields(response), response.text

    async def streamed():  # noqa: ANN202
        yield _json(GOOD)

    chunked = await client.post("/api/v1/incidents", content=streamed(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 201, chunked.text


@pytest.mark.parametrize(("field", "value"), [("name", "duty\x00"), ("password", "pass\x00word"),
                                              ("next", "/\x00")])
async def test_nul_in_the_sign_in_form_is_a_422_naming_the_field_not_a_500(runtime, field, value):
    from pages_support import PASSWORD, csrf_in, page_client
    async with page_client(runtime) as pages:
        form = await pages.get("/signin")
        data = {"csrf": csrf_in(form.text), "name": "duty", "password": PASSWORD, "next": "/"} | {field: value}
        body = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in data.items())
        response = await pages.post("/signin", content=body,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 422, response.text
        assert field in response.text
        assert (await pages.get("/", follow_redirects=False)).status_code == 303  # not signed in


async def test_nul_in_a_pages_form_writes_nothing_and_names_the_field(runtime):
    from pages_support import count, page_client, post, signed_in
    async with page_client(runtime) as pages:
        csrf = await signed_in(pages, "duty")
        response = await post(pages, "/incidents/new", csrf, title="化工厂\x00爆炸", severity="I", department="EMB",
                              occurred_at="2026-11-28T09:00")
        assert response.status_code == 422, response.text
        assert "title" in response.text
        assert await count(runtime, Incident) == 0
