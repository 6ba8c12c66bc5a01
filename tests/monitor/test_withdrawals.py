"""A milestone recorded by mistake is withdrawn by a supervisor with a reason:
on the record, never deleted; the duty is owed again, pending or breached by its
due time, with its steps planned anew (issue 19)."""

from __future__ import annotations

from sqlalchemy import select
from support import bearer, hours, make_tokens, obligation, register

from monitor.models import AccountabilityCase, EscalationStep, TimelineEntry
from tests.conftest import START

URL = "/api/v1/incidents/{id}/obligations/{key}/milestone/withdrawal"


async def record(client, incident_id: int, at) -> None:
    response = await client.post(f"/api/v1/incidents/{incident_id}/milestones", json={
        "obligation": "authoritative_release", "at": at.isoformat(), "evidence_url": "https://example.org/r"})
    assert response.status_code == 201, response.text


async def withdraw(client, incident_id: int, token: str, reason: str = "误记为已发布，实际尚未发布"):
    return await client.post(URL.format(id=incident_id, key="authoritative_release"), json={"reason": reason},
                             headers=bearer(token))


async def test_before_the_deadline_the_duty_is_pending_again_with_its_steps_planned(client, seeded, runtime, clock):
    incident = await register(client, START)
    clock.advance(hours(2))
    await record(client, incident["id"], START + hours(1))
    tokens = await make_tokens(runtime)
    response = await withdraw(client, incident["id"], tokens["supervisor"])
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "pending" and response.json()["fulfilled_at"] is None
    async with runtime.sessions() as session:
        steps = (await session.exec(select(EscalationStep).where(
            EscalationStep.obligation_key == "authoritative_release", EscalationStep.state == "planned"))).scalars()
        assert {s.kind for s in steps} >= {"warning", "final_warning", "breached"}
        kinds = [e.kind for e in (await session.exec(select(TimelineEntry).order_by(TimelineEntry.id))).scalars()]
        entry = (await session.exec(select(TimelineEntry).where(
            TimelineEntry.kind == "milestone_withdrawn"))).scalars().one()
    assert "milestone" in kinds  # the milestone itself stays on the record
    assert entry.actor == "supervisor" and entry.detail["reason"] == "误记为已发布，实际尚未发布"
    assert entry.detail["was"] == "met" and entry.detail["evidence_url"] == "https://example.org/r"
    shown = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert obligation(shown, "authoritative_release")["state"] == "pending"


async def test_after_the_deadline_the_duty_is_breached_at_its_due_time(client, seeded, runtime, clock):
    incident = await register(client, START)
    clock.advance(hours(4))
    await record(client, incident["id"], START + hours(4))
    tokens = await make_tokens(runtime)
    clock.advance(hours(2))
    response = await withdraw(client, incident["id"], tokens["supervisor"])
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "breached" and body["breached_at"] == body["due_at"]
    async with runtime.sessions() as session:
        cases = list((await session.exec(select(AccountabilityCase))).scalars())
    assert len(cases) == 1 and cases[0].decision == "pending"
    # Recorded again, properly: met late, and the case stays.
    await record(client, incident["id"], START + hours(6))
    shown = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert obligation(shown, "authoritative_release")["state"] == "met_late"


async def test_only_a_supervisor_withdraws_only_what_is_recorded_and_says_why(client, seeded, runtime, clock):
    incident = await register(client, START)
    tokens = await make_tokens(runtime)
    assert (await withdraw(client, incident["id"], tokens["supervisor"])).status_code == 409
    clock.advance(hours(1))
    await record(client, incident["id"], START + hours(1))
    assert (await withdraw(client, incident["id"], tokens["duty_officer"])).status_code == 403
    assert (await withdraw(client, incident["id"], tokens["department_head"])).status_code == 403
    refused = await withdraw(client, incident["id"], tokens["supervisor"], reason="  ")
    assert refused.status_code == 422 and "reason" in refused.text
    missing = await client.post(URL.format(id=incident["id"], key="nope"), json={"reason": "x"},
                                headers=bearer(tokens["supervisor"]))
    assert missing.status_code == 404
