"""Kinds of matter through the API (SPEC §13.1, §13.2): each kind registered,
its legal clock in local time on the holiday calendar, filtered lists."""

from __future__ import annotations

import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support import obligation

from monitor.db import transaction
from monitor.models import EscalationStep
from monitor.recount import recount_incomplete
from monitor.runtime import Runtime
from rules.workdays import CALENDARS_DIR
from tests.conftest import START, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def add(client, kind: str | None, occurred_at: datetime, **extra) -> dict:
    body = {"title": "关于某项目环评材料的公开申请", "department": "EMB", "occurred_at": occurred_at.isoformat()}
    if kind is not None:
        body["kind"] = kind
    response = await client.post("/api/v1/incidents", json=body | extra)
    assert response.status_code == 201, response.text
    return response.json()


async def test_each_kind_is_registered_with_its_own_clock(client, seeded, clock):
    clock.set(local("2025-09-26T10:00:00"))
    emergency = await add(client, None, local("2025-09-26T09:00:00"), severity="I")
    opinion = await add(client, "public_opinion", local("2025-09-26T09:00:00"))
    request = await add(client, "disclosure_request", local("2025-09-26T09:30:00"), severity="III")
    assert (emergency["kind"], opinion["kind"], request["kind"]) == ("emergency", "public_opinion",
                                                                    "disclosure_request")
    assert [o["key"] for o in emergency["obligations"]] == ["authoritative_release", "press_conference"]
    assert opinion["severity"] == "IV"  # ungraded when not given: its rule applies whatever the severity
    response = obligation(opinion, "response")
    assert (response["title"], datetime.fromisoformat(response["due_at"])) == ("舆情回应",
                                                                               local("2025-09-28T09:00:00"))
    reply = obligation(request, "reply")
    assert reply["title"] == "依申请公开答复" and request["severity"] == "III"
    # 20 working days after Friday 26 September 2025, across National Day (1–8 October off, 28 September worked)
    assert datetime.fromisoformat(reply["due_at"]) == local("2025-10-30T23:59:59")
    assert reply["calendar_incomplete"] is False


async def test_a_disclosure_requests_steps_go_out_at_nine_local_time_on_working_days(client, seeded, clock):
    clock.set(local("2025-09-26T10:00:00"))
    request = await add(client, "disclosure_request", local("2025-09-26T03:00:00"))
    timeline = (await client.get(f"/api/v1/incidents/{request['id']}/timeline")).json()
    [planned] = [e for e in timeline if e["kind"] == "steps_planned"]
    steps = {s["step"]: datetime.fromisoformat(s["at"]) for s in planned["detail"]["steps"] if s["obligation"]}
    assert steps == {"reminder": local("2025-10-23T09:00:00"), "warning": local("2025-10-28T09:00:00"),
                     "final_warning": local("2025-10-30T09:00:00"), "breached": local("2025-10-30T23:59:59")}


async def test_past_the_calendar_the_reply_is_counted_on_weekends_and_flagged(client, seeded, clock):
    clock.set(local("2026-12-21T10:00:00"))
    request = await add(client, "disclosure_request", local("2026-12-21T09:00:00"))
    reply = obligation(request, "reply")
    assert reply["calendar_incomplete"] is True
    assert datetime.fromisoformat(reply["due_at"]).astimezone(SHANGHAI).date().isoformat() == "2027-01-18"
    shown = (await client.get(f"/api/v1/incidents/{request['id']}")).json()
    assert obligation(shown, "reply")["calendar_incomplete"] is True


async def test_the_list_filters_by_kind(client, seeded):
    await add(client, None, START, severity="II")
    wanted = await add(client, "public_opinion", START)
    listed = (await client.get("/api/v1/incidents", params={"kind": "public_opinion"})).json()
    assert [i["id"] for i in listed] == [wanted["id"]]
    assert (await client.get("/api/v1/incidents", params={"kind": "gossip"})).status_code == 422


@pytest.mark.parametrize(("change", "fields"), [
    ({}, ["severity"]), ({"kind": "emergency", "severity": None}, ["severity"]),
    ({"kind": "rumour"}, ["kind", "severity"]), ({"kind": "rumour", "severity": "I"}, ["kind"]),
])
async def test_an_emergency_needs_its_severity_and_a_kind_must_be_known(client, seeded, change, fields):
    body = {"title": "化工厂爆炸", "department": "EMB", "occurred_at": START.isoformat()} | change
    answer = await client.post("/api/v1/incidents", json=body)
    assert answer.status_code == 422, answer.text
    assert sorted(error["loc"][-1] for error in answer.json()["detail"]) == fields


async def test_a_severity_change_does_not_take_a_disclosure_request_out_of_its_rule(client, seeded):
    request = await add(client, "disclosure_request", START)
    answer = await client.patch(f"/api/v1/incidents/{request['id']}", json={"severity": "I", "reason": "升级"})
    assert answer.status_code == 200, answer.text
    corrected = answer.json()
    assert [o["key"] for o in corrected["obligations"]] == ["reply"]
    assert obligation(corrected, "reply")["waiver"] is None
    assert obligation(corrected, "reply")["due_at"] == obligation(request, "reply")["due_at"]


async def test_a_disclosure_requests_reminder_goes_out_at_nine_worded_for_the_request(client, seeded, runtime, clock):
    clock.set(local("2025-09-26T10:00:00"))
    request = await add(client, "disclosure_request", local("2025-09-26T09:30:00"), title="环评材料公开申请")
    await runtime.scheduler.run_once()
    [registered] = [m for m in (await client.get("/api/v1/outbox")).json() if m["channel"] == "sms"]
    assert "申请已登记" in registered["body"] and "依申请公开答复" in registered["body"]
    clock.set(local("2025-10-23T08:59:00"))  # a minute before the reminder
    await runtime.scheduler.run_once()
    assert [r["step"] for r in (await client.get("/api/v1/notifications", params={
        "incident_id": request["id"]})).json() if r["channel"] == "sms"] == ["registered"]
    clock.set(local("2025-10-23T09:00:00"))
    await runtime.scheduler.run_once()
    sms = [m for m in (await client.get("/api/v1/outbox")).json() if m["channel"] == "sms"]
    reminder = next(m for m in sms if "提醒" in m["body"])
    assert "依申请公开" in reminder["body"] and "剩余7天14小时" in reminder["body"]


async def test_a_calendar_year_added_later_clears_the_flag_at_the_next_start(client, seeded, runtime, clock,
                                                                             database_url, tmp_path):
    clock.set(local("2026-12-21T10:00:00"))
    request = await add(client, "disclosure_request", local("2026-12-21T09:00:00"))
    assert obligation(request, "reply")["calendar_incomplete"] is True
    for path in CALENDARS_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "cn-mainland-2027.yaml").write_text(
        "region: cn-mainland\nyear: 2027\nsource: 国务院办公厅关于2027年部分节假日安排的通知（测试用）\n"
        "holidays:\n  - {date: 2027-01-01, name: 元旦}\n", encoding="utf-8")
    restarted = Runtime.build(make_settings(database_url, calendars_dir=tmp_path), clock=clock,
                              migrate_schema=False, channels=runtime.channels)
    try:
        async with transaction(restarted.sessions) as session:
            assert await recount_incomplete(session, restarted.rules, clock.now()) == 1
    finally:
        await restarted.close()
    reply = obligation((await client.get(f"/api/v1/incidents/{request['id']}")).json(), "reply")
    assert reply["calendar_incomplete"] is False
    # New Year's Day 2027 is now a holiday: one working day later than on weekends alone.
    assert datetime.fromisoformat(reply["due_at"]) == local("2027-01-19T23:59:59")


async def test_a_late_reply_is_chased_at_nine_on_each_working_day_and_a_correction_recounts(client, seeded, runtime,
                                                                                            clock):
    clock.set(local("2025-11-05T10:00:00"))
    request = await add(client, "disclosure_request", local("2025-09-26T10:00:00"))
    reply = obligation(request, "reply")
    assert reply["state"] == "breached" and reply["breached_at"] == reply["due_at"]
    async with runtime.sessions() as session:
        repeats = sorted((await session.exec(select(EscalationStep.planned_at).where(
            EscalationStep.incident_id == request["id"], EscalationStep.kind == "overdue"))).scalars())
    assert [r.astimezone(SHANGHAI) for r in repeats[:3]] == [
        local("2025-10-31T09:00:00"), local("2025-11-03T09:00:00"), local("2025-11-04T09:00:00")]
    assert len(repeats) == 10
    corrected = await client.patch(f"/api/v1/incidents/{request['id']}", json={
        "occurred_at": local("2025-10-09T10:00:00").isoformat(), "reason": "收件日期登记有误"})
    assert corrected.status_code == 200, corrected.text
    reply = obligation(corrected.json(), "reply")
    # 20 working days after 9 October 2025 (Saturday 11 October worked): 5 November, due tonight.
    assert (reply["state"], datetime.fromisoformat(reply["due_at"])) == ("pending", local("2025-11-05T23:59:59"))
