"""Every endpoint × every role: 401 without a valid token, 403 where the role may not."""

from __future__ import annotations

import pytest
from support import bearer, hours, make_tokens, register, seed_departments

from monitor import auth
from monitor.db import transaction
from tests.conftest import START

ROLES = ("duty_officer", "department_head", "supervisor", "admin")
EVERYONE = set(ROLES)

# (method, path, body, roles allowed). {emb} is an EMB incident, {health} one of HEALTH.
MATRIX = [
    ("POST", "/api/v1/departments", {"code": "NEW", "name": "新部门", "contacts": [
        {"name": "孙局长", "role": "head", "mobile": "+8613800000031"}]}, {"admin"}),
    ("GET", "/api/v1/departments", None, EVERYONE),
    ("POST", "/api/v1/incidents", {"title": "t", "severity": "I", "department": "EMB",
                                   "occurred_at": START.isoformat()}, {"duty_officer", "admin"}),
    ("GET", "/api/v1/incidents", None, EVERYONE),
    ("GET", "/api/v1/incidents/{emb}", None, EVERYONE),
    ("GET", "/api/v1/incidents/{health}", None, {"duty_officer", "supervisor", "admin"}),
    ("PATCH", "/api/v1/incidents/{emb}", {"severity": "II", "reason": "r"}, {"duty_officer", "admin"}),
    ("POST", "/api/v1/incidents/{emb}/milestones", {"obligation": "press_conference", "at": START.isoformat()},
     {"duty_officer", "department_head", "admin"}),
    ("POST", "/api/v1/incidents/{health}/milestones", {"obligation": "press_conference", "at": START.isoformat()},
     {"duty_officer", "admin"}),
    ("POST", "/api/v1/incidents/{emb}/close", {"reason": "done"}, {"duty_officer", "admin"}),
    ("GET", "/api/v1/incidents/{emb}/timeline", None, EVERYONE),
    ("GET", "/api/v1/incidents/{health}/timeline", None, {"duty_officer", "supervisor", "admin"}),
    ("GET", "/api/v1/notifications", None, EVERYONE),
    ("GET", "/api/v1/outbox", None, EVERYONE),
    ("GET", "/api/v1/cases", None, {"supervisor", "admin", "department_head"}),
    ("POST", "/api/v1/cases/{case}/decision", {"decision": "notice", "reason": "逾期未发布"}, {"supervisor"}),
    ("GET", "/api/v1/reports/compliance", None, {"supervisor", "admin"}),
    ("POST", "/api/v1/districts", {"code": "DM", "name": "斗门区"}, {"admin"}),
    ("GET", "/api/v1/districts", None, {"admin"}),
    ("POST", "/api/v1/departments/{dept}/standins", {
        "contact": "王局长", "standin": {"name": "赵代理", "mobile": "+8613800000077"},
        "from": START.isoformat(), "to": (START + hours(2)).isoformat(), "reason": "出差"},
     {"admin", "department_head"}),
    ("GET", "/api/v1/departments/{dept}/standins", None, EVERYONE),
]


async def _fixture(client, runtime):
    await seed_departments(client)
    tokens = await make_tokens(runtime)
    emb = await register(client, START - hours(6))
    health = await register(client, START - hours(1), department="HEALTH")
    case = (await client.get("/api/v1/cases")).json()[0]["id"]
    return tokens, {"emb": emb["id"], "health": health["id"], "case": case, "dept": "EMB"}


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reaches_exactly_what_it_may(client, runtime, role):
    tokens, ids = await _fixture(client, runtime)
    outcomes = {}
    for method, path, body, allowed in MATRIX:
        response = await client.request(method, path.format(**ids), json=body, headers=bearer(tokens[role]))
        outcomes[(method, path)] = response.status_code
        if role in allowed:
            assert response.status_code not in (401, 403), (method, path, response.text)
            assert response.status_code < 500
        else:
            assert response.status_code == 403, (method, path, response.status_code, response.text)
    # An allowed request does what it asks (created or answered), not merely "not refused".
    assert outcomes == {(method, path): (_success(method, path) if role in allowed else 403)
                        for method, path, _, allowed in MATRIX}


def _success(method: str, path: str) -> int:
    created = ("/departments", "/incidents", "/milestones", "/districts", "/standins")
    return 201 if method == "POST" and path.endswith(created) else 200


async def test_a_department_head_lists_only_their_own_department(client, runtime):
    tokens, ids = await _fixture(client, runtime)
    listed = (await client.get("/api/v1/incidents", headers=bearer(tokens["department_head"]))).json()
    assert [i["id"] for i in listed] == [ids["emb"]]
    everything = (await client.get("/api/v1/incidents", headers=bearer(tokens["supervisor"]))).json()
    assert {i["id"] for i in everything} == {ids["emb"], ids["health"]}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwdw==", "bearer sc_forged"])
async def test_no_valid_token_is_401_everywhere(client, seeded, runtime, header):
    headers = {"Authorization": header} if header else {}
    for method, path, body, _ in MATRIX:
        client.headers.pop("Authorization", None)
        response = await client.request(method, path.format(emb=1, health=2, case=1, dept="EMB"), json=body,
                                        headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers.get("www-authenticate") == "Bearer"


async def test_health_and_metrics_need_no_token(client):
    client.headers.pop("Authorization")
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Sunclock"


# Endpoint × role × scope (SPEC §14.1): users scoped to the district of the
# fixtures' incidents reach what unscoped ones do; scoped to another district,
# an incident or case by id is unknown (404, so ids say nothing) and naming the
# other district's department is refused (403). Role refusals come first.
XZ_EMB = {"code": "XZ-EMB", "name": "香洲区应急管理局", "district": "XZ",
          "contacts": [{"name": "吴局长", "role": "head", "mobile": "+8613900000001"}]}


async def _scoped_tokens(client, runtime, scope: str) -> dict[str, str]:
    if scope == "XZ":
        assert (await client.post("/api/v1/districts", json={"code": "XZ", "name": "香洲区"})).status_code == 201
        assert (await client.post("/api/v1/departments", json=XZ_EMB)).status_code == 201
    tokens = {}
    async with transaction(runtime.sessions) as session:
        for role in ROLES:
            department = ("XZ-EMB" if scope == "XZ" else "EMB") if role == "department_head" else None
            _, tokens[role] = await auth.create_user(session, f"{role}-{scope}", role, runtime.clock.now(),
                                                     department=department, district=scope)
    return tokens


def _expected(method: str, path: str, allowed: set[str], role: str, scope: str) -> int:
    if scope == "XZ" and "{health}" in path and role == "department_head":
        return 404  # refused for the department, but first unknown in the district
    if role not in allowed:
        return 403
    if path == "/api/v1/districts" and method == "POST":
        return 403  # only an admin of every district adds one
    if scope == "XZ" and "{" in path:
        return 404
    if scope == "XZ" and method == "POST":
        return 403  # a department of the default district, or a new one in it
    return _success(method, path)


@pytest.mark.parametrize("scope", ["default", "XZ"])
@pytest.mark.parametrize("role", ROLES)
async def test_each_role_in_each_scope_reaches_exactly_what_it_may(client, runtime, role, scope):
    _, ids = await _fixture(client, runtime)
    tokens = await _scoped_tokens(client, runtime, scope)
    outcomes = {}
    for method, path, body, _ in MATRIX:
        response = await client.request(method, path.format(**ids), json=body, headers=bearer(tokens[role]))
        outcomes[(method, path)] = response.status_code
    assert outcomes == {(method, path): _expected(method, path, allowed, role, scope)
                        for method, path, _, allowed in MATRIX}
    listed = (await client.get("/api/v1/incidents", headers=bearer(tokens[role]))).json()
    assert bool(listed) == (scope == "default")
