"""The compliance report (SPEC §6, §8): per department, over a period."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

from click.testing import CliRunner
from support import hours, register, seed_departments

from monitor.cli import main
from tests.conftest import START

PERIOD = {"from": (START - timedelta(days=1)).isoformat(), "to": (START + timedelta(days=1)).isoformat()}


async def _three_incidents(client) -> None:
    """EMB: release on time (after 1 h), release late (after 6 h), release breached; HEALTH: nothing."""
    await seed_departments(client)
    on_time = await register(client, START - hours(2), title="on time")
    late = await register(client, START - hours(7), title="late")
    await register(client, START - hours(6), title="breached")
    for incident, after in ((on_time, 1), (late, 6)):
        occurred = START - hours(2 if incident is on_time else 7)
        response = await client.post(f"/api/v1/incidents/{incident['id']}/milestones", json={
            "obligation": "authoritative_release", "at": (occurred + hours(after)).isoformat()})
        assert response.status_code == 201, response.text
    await register(client, START - timedelta(days=3), title="outside the period")


async def test_report_counts_deadlines_per_department(client):
    await _three_incidents(client)
    response = await client.get("/api/v1/reports/compliance", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2026-11-27T02:00:00Z" and body["to"] == "2026-11-29T02:00:00Z"
    emb = next(d for d in body["departments"] if d["department"] == "EMB")
    assert (emb["incidents"], emb["met"], emb["met_late"], emb["breached"]) == (3, 1, 1, 1)
    assert emb["on_time_rate"] == round(1 / 3, 4)
    assert emb["median_time_to_release_seconds"] == 3.5 * 3600  # median of 1 h and 6 h
    health = next(d for d in body["departments"] if d["department"] == "HEALTH")
    assert (health["incidents"], health["on_time_rate"], health["median_time_to_release_seconds"]) == (0, None, None)


async def test_report_as_csv(client):
    await _three_incidents(client)
    response = await client.get("/api/v1/reports/compliance", params=PERIOD | {"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    emb = next(r for r in rows if r["department"] == "EMB")
    assert (emb["met"], emb["met_late"], emb["breached"], emb["on_time_rate"]) == ("1", "1", "1", "0.3333")


async def test_a_bad_period_is_a_422_naming_the_parameter(client):
    backwards = await client.get("/api/v1/reports/compliance", params={"from": PERIOD["to"], "to": PERIOD["from"]})
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "from"]
    naive = await client.get("/api/v1/reports/compliance", params={"from": "2026-11-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "from"]


async def test_the_command_line_prints_the_same_report(client, database_url):
    await _three_incidents(client)
    env = {"SUNCLOCK_DATABASE_URL": database_url}
    args = ["report", "compliance", "--from", PERIOD["from"], "--to", PERIOD["to"]]
    # The command line runs its own event loop: give it a thread of its own.
    def invoke(*argv: str, check: bool = True):  # noqa: ANN202
        return CliRunner().invoke(main, list(argv), env=env, catch_exceptions=not check)

    table = await asyncio.to_thread(invoke, *args)
    assert table.exit_code == 0, table.output
    assert "33%" in table.output and "3.5 h" in table.output
    as_csv = await asyncio.to_thread(invoke, *args, "--format", "csv")
    assert as_csv.output.splitlines()[0].startswith("department,name,incidents,met,met_late,breached")
    backwards = await asyncio.to_thread(invoke, "report", "compliance", "--from", PERIOD["to"], "--to", PERIOD["from"],
                                        check=False)
    assert backwards.exit_code != 0 and "--from must be before --to" in backwards.output
