"""Every list pages with ``limit`` and ``offset`` and says its total in
``X-Total-Count``; nothing is cut off silently (SPEC §6)."""

from __future__ import annotations

import pytest
from support import bearer, hours, make_tokens, register, seed_departments

from monitor.api.app import create_app
from tests.conftest import START

LISTS = ["/api/v1/incidents", "/api/v1/departments", "/api/v1/notifications", "/api/v1/outbox", "/api/v1/cases",
         "/api/v1/incidents/1/timeline"]


async def _three_breached_incidents(client, runtime) -> None:  # noqa: ANN001
    await seed_departments(client)
    for n in range(3):
        await register(client, START - hours(6 + n), title=f"事件{n}")
    while await runtime.scheduler.run_once():  # their messages, into the outbox
        pass


@pytest.mark.parametrize("path", LISTS)
async def test_every_list_says_its_total_and_returns_the_window_asked_for(client, runtime, path):
    await _three_breached_incidents(client, runtime)
    everything = await client.get(path)
    assert everything.status_code == 200, everything.text
    total = int(everything.headers["X-Total-Count"])
    assert total == len(everything.json()) >= 2
    first = await client.get(path, params={"limit": 1})
    rest = await client.get(path, params={"limit": 1000, "offset": 1})
    assert first.headers["X-Total-Count"] == rest.headers["X-Total-Count"] == str(total)
    assert first.json() + rest.json() == everything.json()
    far = await client.get(path, params={"offset": 1_000_000_000})
    assert far.status_code == 200 and far.json() == [] and far.headers["X-Total-Count"] == str(total)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": -1}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": -1}, "offset"), ({"offset": 1_000_000_001}, "offset"), ({"offset": 10**30}, "offset"),
    ({"limit": 10**30}, "limit"),
])
async def test_a_limit_or_offset_out_of_range_is_a_422_naming_it(client, runtime, path, params, field):
    await _three_breached_incidents(client, runtime)
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_a_department_head_counts_only_their_own_departments_incidents(client, seeded, runtime):
    await register(client, START - hours(1), department="EMB")
    await register(client, START - hours(1), department="HEALTH")
    head = bearer((await make_tokens(runtime))["department_head"])
    response = await client.get("/api/v1/incidents", headers=head)
    assert response.headers["X-Total-Count"] == "1" and len(response.json()) == 1


async def test_the_default_window_of_incidents_is_two_hundred_and_the_total_says_there_are_more(client, seeded):
    for n in range(201):
        response = await client.post("/api/v1/incidents", json={
            "title": f"舆情{n}", "severity": "III", "department": "EMB", "occurred_at": START.isoformat()})
        assert response.status_code == 201, response.text
    listed = await client.get("/api/v1/incidents")
    assert len(listed.json()) == 200 and listed.headers["X-Total-Count"] == "201"


def test_the_openapi_document_describes_the_total_header_and_the_paging_of_every_list(runtime):
    document = create_app(runtime, run_scheduler=False).openapi()
    for path in LISTS:
        operation = document["paths"][path.replace("/1/", "/{incident_id}/")]["get"]
        assert "X-Total-Count" in operation["responses"]["200"]["headers"], path
        limits = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        assert limits["limit"]["maximum"] == 1000 and limits["limit"]["minimum"] == 1, path
        assert limits["offset"]["minimum"] == 0, path
