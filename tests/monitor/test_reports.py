"""The compliance report (SPEC §6, §8): per department, over a period."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import update
from support import hours, register, seed_departments

from monitor import reports
from monitor.cli import main
from monitor.db import transaction
from monitor.models import Obligation
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
    # The three press conferences are still running, and so are the first updates
    # (keep_publishing#1) of the two releases: counted, and left out of the rate.
    assert (emb["pending"], emb["waived"], emb["obligations"], emb["rated"]) == (5, 0, 8, 3)
    assert emb["states"] == {"breached": 1, "met": 1, "met_late": 1, "pending": 5}
    assert emb["on_time_rate"] == round(1 / 3, 4)
    assert emb["median_time_to_release_seconds"] == 3.5 * 3600  # median of 1 h and 6 h
    health = next(d for d in body["departments"] if d["department"] == "HEALTH")
    assert (health["incidents"], health["on_time_rate"], health["median_time_to_release_seconds"]) == (0, None, None)


async def test_report_as_csv(client):
    await _three_incidents(client)
    response = await client.get("/api/v1/reports/compliance", params=PERIOD | {"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    emb = next(r for r in rows if r["department"] == "EMB")
    assert (emb["met"], emb["met_late"], emb["breached"], emb["on_time_rate"]) == ("1", "1", "1", "0.3333")
    assert (emb["pending"], emb["waived"], emb["name"]) == ("5", "0", "区应急管理局")


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
    assert "33% of 3" in table.output and "3.5 h" in table.output and "PENDING" in table.output
    as_csv = await asyncio.to_thread(invoke, *args, "--format", "csv")
    assert as_csv.output.splitlines()[0].startswith("\ufeffdepartment,name,incidents,met,met_late,breached")
    backwards = await asyncio.to_thread(invoke, "report", "compliance", "--from", PERIOD["to"], "--to", PERIOD["from"],
                                        check=False)
    assert backwards.exit_code != 0 and "--from must be before --to" in backwards.output


async def _set_state(runtime, incident_id: int, key: str, state: str, *, breached: bool) -> None:
    """What a granted waiver leaves behind (before its deadline, or after a breach)."""
    async with transaction(runtime.sessions) as session:
        await session.execute(update(Obligation).where(Obligation.incident_id == incident_id, Obligation.key == key)
                              .values(state=state, breached_at=Obligation.due_at if breached else None))


async def test_a_hundred_percent_never_hides_a_running_or_waived_deadline(client, seeded, runtime):
    done = await register(client, START - hours(2), department="HEALTH", title="按时发布")
    response = await client.post(f"/api/v1/incidents/{done['id']}/milestones", json={
        "obligation": "authoritative_release", "at": (START - hours(1)).isoformat()})
    assert response.status_code == 201, response.text
    waived = await register(client, START - hours(1), department="HEALTH", title="降级事件")
    await _set_state(runtime, waived["id"], "authoritative_release", "waived", breached=False)
    await _set_state(runtime, waived["id"], "press_conference", "waived", breached=False)
    body = (await client.get("/api/v1/reports/compliance", params=PERIOD)).json()
    health = next(d for d in body["departments"] if d["department"] == "HEALTH")
    assert health["on_time_rate"] == 1.0 and health["rated"] == 1
    # Pending: the press conference and the first update after the release.
    assert (health["pending"], health["waived"], health["obligations"]) == (2, 2, 5)
    rows = list(csv.DictReader(io.StringIO((await client.get(
        "/api/v1/reports/compliance", params=PERIOD | {"format": "csv"})).content.decode("utf-8-sig"))))
    row = next(r for r in rows if r["department"] == "HEALTH")
    assert (row["on_time_rate"], row["pending"], row["waived"]) == ("1.0", "2", "2")


async def test_a_deadline_waived_after_its_breach_still_counts_against_the_rate(client, seeded, runtime):
    breached = await register(client, START - hours(6), title="超时后免除")
    await _set_state(runtime, breached["id"], "authoritative_release", "waived", breached=True)
    emb = next(d for d in (await client.get("/api/v1/reports/compliance", params=PERIOD)).json()["departments"]
               if d["department"] == "EMB")
    assert (emb["waived"], emb["breached"], emb["rated"], emb["on_time_rate"]) == (1, 0, 1, 0.0)


async def test_the_report_lists_each_incident_under_its_department(client):
    await _three_incidents(client)
    body = (await client.get("/api/v1/reports/compliance", params=PERIOD)).json()
    emb = next(d for d in body["departments"] if d["department"] == "EMB")
    listed = {i["title"]: i for i in emb["incident_list"]}
    assert list(listed) == ["late", "breached", "on time"]  # in the order they occurred
    late = listed["late"]
    assert (late["severity"], late["state"]) == ("I", "open") and isinstance(late["id"], int)
    assert {o["key"]: o["state"] for o in late["obligations"]} == {
        "authoritative_release": "met_late", "press_conference": "pending", "keep_publishing#1": "pending"}
    assert next(d for d in body["departments"] if d["department"] == "HEALTH")["incident_list"] == []


async def test_the_csv_opens_in_excel_as_utf8(client):
    await _three_incidents(client)
    response = await client.get("/api/v1/reports/compliance", params=PERIOD | {"format": "csv"})
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel looks for
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="sunclock-compliance-20261127-20261129.csv"')
    assert "区卫生健康局" in response.content.decode("utf-8-sig")


def test_a_name_excel_would_run_as_a_formula_is_quoted():
    report = reports.ComplianceReport(from_=START, to=START + hours(1), departments=[reports.DepartmentCompliance(
        department="X", name="=HYPERLINK(1)", incidents=0, met=0, met_late=0, breached=0, on_time_rate=None,
        median_time_to_release_seconds=None)])
    assert "'=HYPERLINK(1)" in reports.to_csv(report)


async def test_the_report_gives_each_kind_of_matter_its_own_figures(client):
    await _three_incidents(client)
    opinion = await client.post("/api/v1/incidents", json={
        "title": "网传排污", "kind": "public_opinion", "department": "EMB",
        "occurred_at": (START - hours(20)).isoformat()})
    request = await client.post("/api/v1/incidents", json={
        "title": "公开申请", "kind": "disclosure_request", "department": "HEALTH", "occurred_at": START.isoformat()})
    assert opinion.status_code == request.status_code == 201
    body = (await client.get("/api/v1/reports/compliance", params=PERIOD)).json()
    totals = {k["kind"]: k for k in body["kinds"]}
    assert list(totals) == ["emergency", "public_opinion", "disclosure_request"]
    assert (totals["emergency"]["incidents"], totals["emergency"]["met"], totals["emergency"]["rated"]) == (3, 1, 3)
    assert (totals["public_opinion"]["pending"], totals["public_opinion"]["on_time_rate"]) == (1, None)
    assert (totals["disclosure_request"]["pending"], totals["disclosure_request"]["on_time_rate"]) == (1, None)
    emb = next(d for d in body["departments"] if d["department"] == "EMB")
    assert sorted(emb["by_kind"]) == ["emergency", "public_opinion"]
    assert emb["by_kind"]["public_opinion"]["obligations"] == 1
    assert {i["kind"] for i in emb["incident_list"]} == {"emergency", "public_opinion"}
    only = (await client.get("/api/v1/reports/compliance", params=PERIOD | {"kind": "disclosure_request"})).json()
    assert only["kind"] == "disclosure_request" and [k["kind"] for k in only["kinds"]] == ["disclosure_request"]
    assert [(d["department"], d["incidents"]) for d in only["departments"] if d["incidents"]] == [("HEALTH", 1)]
