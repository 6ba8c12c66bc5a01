"""SPEC §13.3: a deadline extended once, by working days, with a reason; its
steps planned again, a breach that no longer holds withdrawn (§11.4)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import httpx
import pytest
from pages_support import page_client, post, signed_in
from sqlalchemy import select
from support import bearer, hours, make_tokens, obligation, register, seed_departments

from alerts.outbox import OutboxChannel
from monitor import incidents
from monitor.actors import Actor
from monitor.api.app import create_app
from monitor.models import EscalationStep
from monitor.runtime import Runtime
from monitor.schemas import IncidentCreate
from rules import SHIPPED_DIR
from tests.conftest import ADMIN_TOKEN, START, make_settings

# A reply due 20 days after receipt, extendable by up to 20 working days: a
# deadline without working days of its own, so that only the extension counts them.
REPLY_RULE = """
id: district_reply
title: 依申请公开答复（测试）
applies_to: {severities: [III, IV]}
registered: {to: [head]}
obligations:
  - key: reply
    title: 答复申请人
    title_en: Reply to the requester
    due: 480h
    extension: {max_working_days: 20}
    ladder:
      - {step: reminder, at: -24h, to: [head]}
      - {step: breached, at: 0, to: [head, supervisors]}
    overdue: {every: 24h, max: 3, to: [head, supervisors]}
"""
RECEIVED = START - hours(1)  # 09:00 Saturday 28 November 2026 in Shanghai
DUE = RECEIVED + hours(480)  # 09:00 Friday 18 December
# Five working days after Friday 18 December: Friday 25 December, end of the day in Shanghai.
EXTENDED = datetime(2026, 12, 25, 15, 59, 59, tzinfo=UTC)


@pytest.fixture
async def reply_runtime(database_url, clock, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(SHIPPED_DIR / "major_emergency.yaml", rules_dir)
    (rules_dir / "reply.yaml").write_text(REPLY_RULE, encoding="utf-8")
    runtime = Runtime.build(make_settings(database_url, rules_dir=str(rules_dir)), clock=clock, migrate_schema=False,
                            channels={"sms": OutboxChannel("sms"), "email": OutboxChannel("email")})
    yield runtime
    await runtime.close()


@pytest.fixture
async def reply_client(reply_runtime):
    app = create_app(reply_runtime, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sunclock.test",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        await seed_departments(c)
        yield c


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


def extend(client, incident_id, key="reply", token=None, **body):
    headers = bearer(token) if token else None
    return client.post(f"/api/v1/incidents/{incident_id}/obligations/{key}/extension", json=body, headers=headers)


async def steps(runtime, incident_id):
    async with runtime.sessions() as session:
        return {(s.kind, s.occurrence): (s.state, s.planned_at) for s in (await session.exec(
            select(EscalationStep).where(EscalationStep.incident_id == incident_id,
                                         EscalationStep.obligation_key == "reply"))).scalars()}


async def test_an_extension_moves_the_deadline_by_working_days_and_replans_its_steps(reply_client, reply_runtime):
    incident = await register(reply_client, RECEIVED, severity="III")
    assert obligation(incident, "reply")["due_at"].startswith(DUE.isoformat()[:19])
    response = await extend(reply_client, incident["id"], working_days=5, reason="需要多部门会商")
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["due_at"].startswith(EXTENDED.isoformat()[:19]) and reply["state"] == "pending"
    assert reply["extension"]["working_days"] == 5 and reply["extension"]["reason"] == "需要多部门会商"
    assert reply["extension"]["extended_by"] == "admin-token"
    shown = obligation((await reply_client.get(f"/api/v1/incidents/{incident['id']}")).json(), "reply")
    assert shown["extension"] == reply["extension"]
    planned = await steps(reply_runtime, incident["id"])
    assert planned[("reminder", 1)][0] == planned[("breached", 1)][0] == "cancelled"
    assert planned[("reminder", 2)] == ("planned", EXTENDED - hours(24))
    assert planned[("breached", 2)] == ("planned", EXTENDED)
    entries = (await reply_client.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()
    [entry] = [e for e in entries if e["kind"] == "extended"]
    assert entry["detail"]["working_days"] == 5 and entry["detail"]["reason"] == "需要多部门会商"
    assert entry["detail"]["from_due_at"].startswith(DUE.isoformat()[:19])
    assert entry["detail"]["to_due_at"].startswith(EXTENDED.isoformat()[:19])
    assert entry["detail"]["calendar_incomplete"] is False


async def test_the_extended_ladder_fires_at_the_new_deadline(reply_client, reply_runtime, clock):
    incident = await register(reply_client, RECEIVED, severity="III")
    await run_at(reply_runtime, clock, DUE - hours(24))  # the first reminder goes out
    assert (await extend(reply_client, incident["id"], working_days=5, reason="会商")).status_code == 200
    await run_at(reply_runtime, clock, DUE + hours(1))  # the old deadline passes: nothing happens
    url = f"/api/v1/incidents/{incident['id']}"
    assert obligation((await reply_client.get(url)).json(), "reply")["state"] == "pending"
    await run_at(reply_runtime, clock, EXTENDED - hours(24))
    await run_at(reply_runtime, clock, EXTENDED)
    reply = obligation((await reply_client.get(url)).json(), "reply")
    assert reply["state"] == "breached" and reply["breached_at"].startswith(EXTENDED.isoformat()[:19])
    sent = [(n["step"], n["planned_at"][:19]) for n in (await reply_client.get(
        "/api/v1/notifications", params={"incident_id": incident["id"]})).json() if n["channel"] == "sms"]
    assert ("reminder", (DUE - hours(24)).isoformat()[:19]) in sent
    assert ("reminder", (EXTENDED - hours(24)).isoformat()[:19]) in sent  # the ladder again, for the new deadline
    assert ("breached", EXTENDED.isoformat()[:19]) in sent
    assert not any(step == "breached" and at == DUE.isoformat()[:19] for step, at in sent)


async def test_extending_a_breached_deadline_into_the_future_withdraws_the_breach(reply_client, reply_runtime,
                                                                                   clock):
    incident = await register(reply_client, RECEIVED, severity="III")
    await run_at(reply_runtime, clock, DUE + hours(25))  # breached, and one overdue repeat sent
    url = f"/api/v1/incidents/{incident['id']}"
    assert obligation((await reply_client.get(url)).json(), "reply")["state"] == "breached"
    reply = (await extend(reply_client, incident["id"], working_days=5, reason="依法延期")).json()
    assert reply["state"] == "pending" and reply["breached_at"] is None
    [case] = (await reply_client.get("/api/v1/cases")).json()
    assert case["obligation"] == "reply" and case["breach_withdrawn"] is True
    kinds = [e["kind"] for e in (await reply_client.get(url + "/timeline")).json()]
    assert kinds.index("extended") < kinds.index("breach_withdrawn")
    planned = await steps(reply_runtime, incident["id"])
    assert planned[("overdue", 1)][0] == "fired" and planned[("overdue", 2)][0] == "cancelled"
    assert planned[("breached", 2)] == ("planned", EXTENDED)
    await run_at(reply_runtime, clock, EXTENDED)  # breaching again reuses the one case
    [case] = (await reply_client.get("/api/v1/cases")).json()
    assert case["breach_withdrawn"] is False and case["breached_at"].startswith(EXTENDED.isoformat()[:19])


async def test_an_extension_too_short_keeps_the_breach_at_the_new_deadline(reply_client, reply_runtime, clock):
    incident = await register(reply_client, RECEIVED, severity="III")
    late = datetime(2026, 12, 24, 4, 0, tzinfo=UTC)  # Thursday 24 December, past the 18th + 1 working day
    await run_at(reply_runtime, clock, late)
    reply = (await extend(reply_client, incident["id"], working_days=1, reason="补正材料")).json()
    monday = datetime(2026, 12, 21, 15, 59, 59, tzinfo=UTC)
    assert reply["state"] == "breached" and reply["breached_at"].startswith(monday.isoformat()[:19])
    [case] = (await reply_client.get("/api/v1/cases")).json()
    assert case["breached_at"].startswith(monday.isoformat()[:19]) and case["breach_withdrawn"] is False


async def test_an_extension_past_the_calendar_is_flagged(reply_client):
    incident = await register(reply_client, RECEIVED, severity="III")
    reply = (await extend(reply_client, incident["id"], working_days=20, reason="情况复杂")).json()
    assert reply["due_at"].startswith("2027-01-15T15:59:59")
    entries = (await reply_client.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()
    assert next(e for e in entries if e["kind"] == "extended")["detail"]["calendar_incomplete"] is True


async def test_a_correction_after_an_extension_keeps_the_extension(reply_client):
    incident = await register(reply_client, RECEIVED, severity="III")
    await extend(reply_client, incident["id"], working_days=5, reason="会商")
    corrected = await reply_client.patch(f"/api/v1/incidents/{incident['id']}", json={
        "occurred_at": (RECEIVED - hours(72)).isoformat(), "reason": "收到时间登记有误"})
    assert corrected.status_code == 200, corrected.text
    # Due Tuesday 15 December 09:00, then five working days: Tuesday 22 December, end of day.
    reply = obligation(corrected.json(), "reply")
    assert reply["due_at"].startswith("2026-12-22T15:59:59") and reply["extension"]["working_days"] == 5


async def test_the_second_extension_and_a_settled_or_unextendable_deadline_are_conflicts(reply_client):
    incident = await register(reply_client, RECEIVED, severity="III")
    assert (await extend(reply_client, incident["id"], working_days=3, reason="一")).status_code == 200
    again = await extend(reply_client, incident["id"], working_days=3, reason="二")
    assert again.status_code == 409 and "once already" in again.text
    major = await register(reply_client, RECEIVED, severity="I")
    refused = await extend(reply_client, major["id"], "authoritative_release", working_days=1, reason="x")
    assert refused.status_code == 409 and "allows no extension" in refused.text
    other = await register(reply_client, RECEIVED, severity="III")
    await reply_client.post(f"/api/v1/incidents/{other['id']}/milestones",
                            json={"obligation": "reply", "at": START.isoformat()})
    met = await extend(reply_client, other["id"], working_days=3, reason="x")
    assert met.status_code == 409 and "already met" in met.text
    missing = await extend(reply_client, other["id"], "nothing", working_days=3, reason="x")
    assert missing.status_code == 404
    assert (await extend(reply_client, 999999, working_days=3, reason="x")).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"working_days": 21, "reason": "太长"}, "working_days"),
    ({"working_days": 0, "reason": "零"}, "working_days"),
    ({"working_days": -3, "reason": "负"}, "working_days"),
    ({"working_days": "five", "reason": "字"}, "working_days"),
    ({"working_days": 5}, "reason"),
    ({"working_days": 5, "reason": "  "}, "reason"),
])
async def test_a_bad_extension_is_a_422_naming_the_field(reply_client, body, field):
    incident = await register(reply_client, RECEIVED, severity="III")
    response = await extend(reply_client, incident["id"], **body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    reply = obligation((await reply_client.get(f"/api/v1/incidents/{incident['id']}")).json(), "reply")
    assert reply["extension"] is None and reply["due_at"].startswith(DUE.isoformat()[:19])


async def test_only_duty_officers_and_admins_extend(reply_client, reply_runtime):
    tokens = await make_tokens(reply_runtime)
    incident = await register(reply_client, RECEIVED, severity="III")
    for role in ("supervisor", "department_head"):
        refused = await extend(reply_client, incident["id"], token=tokens[role], working_days=2, reason="x")
        assert refused.status_code == 403, role
    done = await extend(reply_client, incident["id"], token=tokens["duty_officer"], working_days=2, reason="会商")
    assert done.status_code == 200 and done.json()["extension"]["extended_by"] == "duty_officer"


async def test_a_waiver_awaiting_a_supervisor_blocks_an_extension(reply_client):
    incident = await register(reply_client, RECEIVED, severity="III")
    await reply_client.post(f"/api/v1/incidents/{incident['id']}/close", json={"reason": "申请人撤回"})
    refused = await extend(reply_client, incident["id"], working_days=2, reason="x")
    assert refused.status_code == 409 and "waiver" in refused.text


async def test_the_incident_page_offers_the_extension_form(reply_runtime):
    async with page_client(reply_runtime) as client:
        csrf = await signed_in(client, "duty")
        async with reply_runtime.sessions() as session:
            incident = await incidents.register(session, IncidentCreate(
                title="张某申请公开征收补偿文件", severity="III", department="EMB", occurred_at=RECEIVED),
                reply_runtime.rules, reply_runtime.clock.now(), Actor(name="test", role="admin"))
            await session.commit()
            incident_id = incident.id
        page = await client.get(f"/incidents/{incident_id}")
        assert f'action="/incidents/{incident_id}/extend"' in page.text and 'max="20"' in page.text
        bad = await post(client, f"/incidents/{incident_id}/extend", csrf, obligation="reply", working_days="25",
                         reason="太长")
        assert bad.status_code == 422 and "20" in bad.text and 'id="extend-days"' in bad.text
        done = await post(client, f"/incidents/{incident_id}/extend", csrf, obligation="reply", working_days="5",
                          reason="需要会商")
        assert done.status_code == 303 and done.headers["location"].endswith("saved=extended")
        shown = await client.get(f"/incidents/{incident_id}?saved=extended")
        assert "已延长 5 个工作日" in shown.text and "2026-12-25 23:59" in shown.text
        assert f'action="/incidents/{incident_id}/extend"' not in shown.text  # once only
        supervisor_csrf = await signed_in(client, "supervisor")
        refused = await post(client, f"/incidents/{incident_id}/extend", supervisor_csrf, obligation="reply",
                             working_days="1", reason="x")
        assert refused.status_code == 403


SHANGHAI = ZoneInfo("Asia/Shanghai")


def oracle_end_of(start: date, n: int) -> datetime:
    """23:59:59 Beijing time of the n-th working day after ``start``, per
    chinesecalendar (an oracle independent of rules/calendars/)."""
    day = start
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


async def test_a_disclosure_request_received_before_national_day_is_extended_once_by_20_working_days(
        seeded, clock):
    """The shipped rule, through the API: receipt on Friday 26 September 2025,
    the reply counted across the National Day holiday, then extended."""
    clock.set(datetime(2025, 9, 26, 16, 0, tzinfo=SHANGHAI))
    created = await seeded.post("/api/v1/incidents", json={
        "title": "李某申请公开某路段拆迁补偿方案", "kind": "disclosure_request", "department": "EMB",
        "occurred_at": datetime(2025, 9, 26, 15, 30, tzinfo=SHANGHAI).isoformat()})
    assert created.status_code == 201, created.text
    incident_id, reply = created.json()["id"], obligation(created.json(), "reply")
    due = oracle_end_of(date(2025, 9, 26), 20)
    assert datetime.fromisoformat(reply["due_at"]) == due and reply["calendar_incomplete"] is False
    too_long = await extend(seeded, incident_id, working_days=21, reason="情况复杂")
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "working_days"]
    done = await extend(seeded, incident_id, working_days=20, reason="需要第三方意见")
    assert done.status_code == 200, done.text
    extended = done.json()
    new_due = oracle_end_of(due.date(), 20)
    assert datetime.fromisoformat(extended["due_at"]) == new_due and extended["calendar_incomplete"] is False
    assert extended["extension"]["working_days"] == 20 and extended["state"] == "pending"
    # The ladder is planned again in working time: 09:00 Beijing time, on working days.
    entries = (await seeded.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    replanned = {s["step"]: datetime.fromisoformat(s["at"]).astimezone(SHANGHAI)
                 for e in entries if e["kind"] == "steps_planned"
                 for s in e["detail"]["steps"] if s["obligation"] == "reply" and s["occurrence"] == 2}
    assert replanned["final_warning"] == datetime.combine(new_due.date(), time(9), tzinfo=SHANGHAI)
    reminder = replanned["reminder"]
    assert reminder.time() == time(9) and chinese_calendar.is_workday(reminder.date())
    assert oracle_end_of(reminder.date(), 5) == new_due  # five working days before the new due day
    again = await extend(seeded, incident_id, working_days=1, reason="再延")
    assert again.status_code == 409
