"""One deployment for a city: districts with their own departments and
supervisory office, users scoped to one, the metrics and the report by
district (SPEC §14.1, §14.2)."""

from __future__ import annotations

import pytest
from support import bearer, hours, register, seed_departments

from monitor import auth
from monitor.db import transaction
from tests.conftest import START

XZ = [
    {"code": "XZ-GOV", "name": "香洲区政务公开办", "supervisory": True, "district": "XZ",
     "contacts": [{"name": "周主任", "role": "head", "mobile": "+8613900000009", "email": "zhou@xz.example.org"}]},
    {"code": "XZ-EMB", "name": "香洲区应急管理局", "district": "XZ",
     "contacts": [{"name": "吴局长", "role": "head", "mobile": "+8613900000001", "email": "wu@xz.example.org"}]},
]


def fields(response) -> list[str]:  # noqa: ANN001
    """The fields an error names: a 422 lists them, the others name one."""
    body = response.json()
    if isinstance(body["detail"], str):
        return [body.get("field")]
    return [part for error in body["detail"] for part in error["loc"]]


async def two_districts(client) -> None:  # noqa: ANN001
    await seed_departments(client)
    response = await client.post("/api/v1/districts", json={"code": "XZ", "name": "香洲区"})
    assert response.status_code == 201, response.text
    for department in XZ:
        response = await client.post("/api/v1/departments", json=department)
        assert response.status_code == 201, response.text
        assert response.json()["district"] == "XZ"


async def token(runtime, name: str, role: str, *, district: str | None = None,  # noqa: ANN001
                department: str | None = None) -> dict[str, str]:
    async with transaction(runtime.sessions) as session:
        _, value = await auth.create_user(session, name, role, runtime.clock.now(), district=district,
                                          department=department)
    return bearer(value)


async def test_a_one_district_install_never_names_a_district(client):
    await seed_departments(client)
    listed = (await client.get("/api/v1/departments")).json()
    assert {d["district"] for d in listed} == {"default"}
    assert (await client.get("/api/v1/districts")).json() == [{"code": "default", "name": "本辖区", "departments": 3}]


async def test_each_district_has_its_own_supervisory_department(client):
    await two_districts(client)
    districts = {d["code"]: d["departments"] for d in (await client.get("/api/v1/districts")).json()}
    assert districts == {"default": 3, "XZ": 2}
    second = await client.post("/api/v1/departments", json={
        "code": "XZ-GOV2", "name": "又一个督查", "supervisory": True, "district": "XZ",
        "contacts": [{"name": "钱主任", "role": "head", "mobile": "+8613900000019"}]})
    assert second.status_code == 409 and fields(second) == ["supervisory"]
    assert (await client.post("/api/v1/districts", json={"code": "xz", "name": "重复"})).status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "NEW", "name": "新单位", "district": "NOPE",
      "contacts": [{"name": "孙局长", "role": "head", "mobile": "+8613800000031"}]}, "district"),
    ({"code": "NEW", "name": "新单位", "district": "bad code!",
      "contacts": [{"name": "孙局长", "role": "head", "mobile": "+8613800000031"}]}, "district"),
])
async def test_a_department_in_an_unknown_district_is_a_422_naming_it(client, body, field):
    response = await client.post("/api/v1/departments", json=body)
    assert response.status_code == 422 and field in fields(response), response.text


async def test_a_bad_district_is_a_422_naming_the_field(client):
    for body, field in [({"code": "", "name": "x"}, "code"), ({"code": "XZ"}, "name"), ({"code": "XZ", "name": ""},
                                                                                          "name")]:
        response = await client.post("/api/v1/districts", json=body)
        assert response.status_code == 422 and field in fields(response), (body, response.text)


async def test_a_scoped_user_sees_and_acts_on_their_district_only(client, runtime):
    await two_districts(client)
    ours = await register(client, START - hours(6), department="XZ-EMB")
    theirs = await register(client, START - hours(6), department="EMB")
    await runtime.scheduler.run_once()
    duty = await token(runtime, "xz-duty", "duty_officer", district="XZ")
    supervisor = await token(runtime, "xz-supervisor", "supervisor", district="XZ")

    listed = (await client.get("/api/v1/incidents", headers=duty)).json()
    assert [(i["id"], i["district"]) for i in listed] == [(ours["id"], "XZ")]
    assert theirs["district"] == "default"
    # Another district's incident is as unknown as a missing one: its id says nothing.
    for path in (f"/api/v1/incidents/{theirs['id']}", f"/api/v1/incidents/{theirs['id']}/timeline"):
        assert (await client.get(path, headers=duty)).status_code == 404, path
    close = await client.post(f"/api/v1/incidents/{theirs['id']}/close", json={"reason": "x"}, headers=duty)
    assert close.status_code == 404
    # Naming another district's department is a known refusal.
    other = await client.post("/api/v1/incidents", headers=duty, json={
        "title": "t", "severity": "I", "department": "EMB", "occurred_at": START.isoformat()})
    assert other.status_code == 403 and "department" in fields(other)
    assert (await client.post("/api/v1/incidents", headers=duty, json={
        "title": "t", "severity": "I", "department": "XZ-EMB", "occurred_at": START.isoformat()})).status_code == 201
    assert {d["code"] for d in (await client.get("/api/v1/departments", headers=duty)).json()} == {"XZ-GOV", "XZ-EMB"}
    assert {d["code"] for d in (await client.get("/api/v1/departments?district=default")).json()} == {
        "GOV", "EMB", "HEALTH"}
    unknown = await client.get("/api/v1/departments?district=NOPE")
    assert unknown.status_code == 422 and fields(unknown) == ["query", "district"]
    notified = {n["incident_id"] for n in (await client.get("/api/v1/notifications", headers=duty)).json()}
    assert notified and theirs["id"] not in notified

    cases = (await client.get("/api/v1/cases", headers=supervisor)).json()
    assert {c["department"] for c in cases} == {"XZ-EMB"}
    foreign_case = next(c for c in (await client.get("/api/v1/cases")).json() if c["department"] == "EMB")
    decided = await client.post(f"/api/v1/cases/{foreign_case['id']}/decision", headers=supervisor,
                                json={"decision": "notice", "reason": "r"})
    assert decided.status_code == 404
    assert (await client.get(f"/api/v1/cases/{foreign_case['id']}/notice", headers=supervisor)).status_code == 404
    everything = (await client.get("/api/v1/incidents", headers=await token(runtime, "city", "supervisor"))).json()
    assert {ours["id"], theirs["id"]} <= {i["id"] for i in everything}


async def test_a_supervisor_message_goes_to_the_supervisory_office_of_the_incidents_district(client, runtime):
    await two_districts(client)
    ours = await register(client, START - hours(6), department="XZ-EMB")
    theirs = await register(client, START - hours(6), department="EMB")
    while await runtime.scheduler.run_once():
        pass
    to = {}
    for incident in (ours, theirs):
        to[incident["id"]] = {n["to"] for n in (await client.get(
            f"/api/v1/notifications?incident_id={incident['id']}")).json()}
    assert "+8613900000009" in to[ours["id"]] and "+8613800000009" not in to[ours["id"]]
    assert "+8613800000009" in to[theirs["id"]] and "+8613900000009" not in to[theirs["id"]]


async def test_metrics_name_the_district(client, runtime):
    await two_districts(client)
    ours = await register(client, START - hours(6), department="XZ-EMB")
    await runtime.scheduler.run_once()
    client.headers.pop("Authorization")
    text = (await client.get("/metrics")).text
    assert (f'sunclock_deadline_remaining_seconds{{department="XZ-EMB",district="XZ",'
            f'incident_id="{ours["id"]}",obligation="authoritative_release"}} -3600.0') in text
    assert 'sunclock_breaches_total{department="XZ-EMB",district="XZ",obligation="authoritative_release"} 1.0' in text
    assert 'sunclock_breaches_total{department="EMB",district="default",obligation="authoritative_release"} 0.0' \
        in text
    for line in text.splitlines():
        if 'department="' in line:
            assert 'district="' in line, line


async def test_the_report_groups_by_district_and_takes_one(client, runtime):
    await two_districts(client)
    await register(client, START - hours(6), department="XZ-EMB")
    await register(client, START - hours(1), department="EMB")
    await runtime.scheduler.run_once()
    window = f"from={(START - hours(24)).isoformat()}&to={START.isoformat()}".replace("+", "%2B")
    whole = (await client.get(f"/api/v1/reports/compliance?{window}")).json()
    assert [(d["district"], d["department"]) for d in whole["departments"]] == [
        ("default", "EMB"), ("default", "GOV"), ("default", "HEALTH"), ("XZ", "XZ-EMB"), ("XZ", "XZ-GOV")]
    summary = {d["district"]: d for d in whole["districts"]}
    assert summary["XZ"]["breached"] == 1 and summary["XZ"]["on_time_rate"] == 0.0 and summary["XZ"]["name"] == "香洲区"
    assert summary["default"]["incidents"] == 1 and summary["default"]["breached"] == 0
    one = (await client.get(f"/api/v1/reports/compliance?{window}&district=XZ")).json()
    assert one["district"] == "XZ" and [d["department"] for d in one["departments"]] == ["XZ-EMB", "XZ-GOV"]
    csv = (await client.get(f"/api/v1/reports/compliance?{window}&district=XZ&format=csv")).text
    assert csv.splitlines()[0].endswith(",district") and csv.splitlines()[1].endswith(",XZ")
    unknown = await client.get(f"/api/v1/reports/compliance?{window}&district=NOPE")
    assert unknown.status_code == 422 and fields(unknown) == ["query", "district"]
    scoped = await token(runtime, "xz-supervisor", "supervisor", district="XZ")
    assert [d["department"] for d in (await client.get(
        f"/api/v1/reports/compliance?{window}", headers=scoped)).json()["departments"]] == ["XZ-EMB", "XZ-GOV"]
    assert (await client.get(f"/api/v1/reports/compliance?{window}&district=default",
                             headers=scoped)).status_code == 403


async def test_a_scoped_admin_adds_departments_to_their_own_district_only(client, runtime):
    await two_districts(client)
    admin = await token(runtime, "xz-admin", "admin", district="XZ")
    new = {"code": "XZ-HEALTH", "name": "香洲区卫健局",
           "contacts": [{"name": "冯局长", "role": "head", "mobile": "+8613900000003"}]}
    assert (await client.post("/api/v1/departments", json=new | {"district": "default"},
                              headers=admin)).status_code == 403
    assert (await client.post("/api/v1/districts", json={"code": "DM", "name": "斗门区"}, headers=admin)).status_code \
        == 403
    assert [d["code"] for d in (await client.get("/api/v1/districts", headers=admin)).json()] == ["XZ"]
    created = await client.post("/api/v1/departments", json=new | {"district": "XZ"}, headers=admin)
    assert created.status_code == 201 and created.json()["district"] == "XZ"


async def test_a_user_cannot_be_put_in_an_unknown_district_or_outside_their_department(client, runtime):
    await two_districts(client)
    with pytest.raises(Exception, match="no district"):
        await token(runtime, "x", "supervisor", district="NOPE")
    with pytest.raises(Exception, match="not in district"):
        await token(runtime, "y", "department_head", district="XZ", department="EMB")


async def test_a_scoped_admin_revokes_users_of_their_own_district_only(client, runtime):
    await two_districts(client)
    admin = await token(runtime, "xz-admin", "admin", district="XZ")
    await token(runtime, "xz-duty", "duty_officer", district="XZ")
    await token(runtime, "city-duty", "duty_officer")
    refused = await client.post("/api/v1/users/city-duty/revoke", headers=admin)
    assert refused.status_code == 403 and fields(refused) == ["name"]
    assert (await client.post("/api/v1/users/xz-duty/revoke", headers=admin)).status_code == 200
    assert (await client.post("/api/v1/users/xz-duty/revoke")).status_code == 200  # the city's admin: anyone


async def test_a_district_without_a_supervisory_office_is_a_recorded_gap_not_another_districts_business(client,
                                                                                                        runtime):
    await seed_departments(client)
    assert (await client.post("/api/v1/districts", json={"code": "XZ", "name": "香洲区"})).status_code == 201
    assert (await client.post("/api/v1/departments", json=XZ[1])).status_code == 201  # no XZ-GOV
    incident = await register(client, START - hours(6), department="XZ-EMB")
    while await runtime.scheduler.run_once():
        pass
    to = {n["to"] for n in (await client.get(f"/api/v1/notifications?incident_id={incident['id']}")).json()}
    assert "+8613900000001" in to and "+8613800000009" not in to
    client.headers.pop("Authorization")
    metrics = (await client.get("/metrics")).text
    assert ('sunclock_steps_undeliverable_total{department="XZ-EMB",district="XZ",'
            'obligation="authoritative_release"} 1.0') in metrics
