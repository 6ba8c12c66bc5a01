"""/metrics: the SPEC §7 names, values read from the database, and promtool's approval."""

from __future__ import annotations

import shutil
import subprocess

from prometheus_client.parser import text_string_to_metric_families
from support import hours, register, seed_departments

from tests.conftest import START, missing_tool


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_metrics_follow_the_database(client, seeded, runtime, clock):
    on_time = await register(client, START - hours(1))
    await register(client, START - hours(6), department="HEALTH", severity="II")
    await register(client, START, severity="III")
    await client.post(f"/api/v1/incidents/{on_time['id']}/milestones",
                      json={"obligation": "authoritative_release", "at": START.isoformat()})
    await runtime.scheduler.run_once()
    values = samples(await scrape(client))

    assert values[("sunclock_incidents_open", (("kind", "emergency"), ("severity", "I")))] == 1
    assert values[("sunclock_incidents_open", (("kind", "emergency"), ("severity", "III")))] == 1
    assert values[("sunclock_incidents_open", (("kind", "public_opinion"), ("severity", "I")))] == 0
    assert values[("sunclock_obligations", (("obligation", "authoritative_release"), ("state", "met")))] == 1
    assert values[("sunclock_obligations", (("obligation", "authoritative_release"), ("state", "breached")))] == 1
    remaining = {k[1]: v for k, v in values.items() if k[0] == "sunclock_deadline_remaining_seconds"}
    assert remaining[(("department", "HEALTH"), ("district", "default"), ("incident_id", "2"),
                      ("obligation", "authoritative_release"))] == -3600
    assert remaining[(("department", "EMB"), ("district", "default"), ("incident_id", "1"),
                      ("obligation", "press_conference"))] == 23 * 3600
    assert not any(("obligation", "authoritative_release") in k and ("incident_id", "1") in k for k in remaining)
    assert values[("sunclock_breaches_total", (("department", "HEALTH"), ("district", "default"),
                                               ("obligation", "authoritative_release")))] == 1
    assert values[("sunclock_breaches_total", (("department", "EMB"), ("district", "default"),
                                               ("obligation", "authoritative_release")))] == 0
    assert values[("sunclock_cases", (("decision", "pending"),))] == 1
    assert values[("sunclock_time_to_fulfil_seconds_count", (("obligation", "authoritative_release"),))] == 1
    assert values[("sunclock_time_to_fulfil_seconds_sum", (("obligation", "authoritative_release"),))] == 3600
    assert values[("sunclock_notifications_total", (("channel", "sms"), ("outcome", "sent")))] >= 3
    assert values[("sunclock_notifications_total", (("channel", "email"), ("outcome", "failed")))] == 0
    assert values[("sunclock_escalation_lag_seconds_count", (("channel", "sms"),))] >= 3
    assert values[("sunclock_scheduler_heartbeat_timestamp_seconds", ())] == START.timestamp()

    clock.advance(hours(1))
    later = samples(await scrape(client))
    assert later[("sunclock_deadline_remaining_seconds", (("department", "EMB"), ("district", "default"),
                                                          ("incident_id", "1"),
                                                          ("obligation", "press_conference")))] == 22 * 3600


async def test_promtool_finds_nothing_to_complain_about(client, runtime, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_tool("promtool not installed (Debian package prometheus)")
    await seed_departments(client)
    await register(client, START - hours(6))
    await runtime.scheduler.run_once()
    text = await scrape(client)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), \
        result.stdout + result.stderr
