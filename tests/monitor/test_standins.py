"""Stand-ins (代理, SPEC §14.3): while a contact is away, their messages go to the
stand-in, resolved when the step fires; the absent contact still gets email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support import bearer, hours, make_tokens, register, seed_departments

from monitor import auth
from monitor.db import transaction
from tests.conftest import START

STANDIN = {"name": "赵代理", "mobile": "+8613800000077", "email": "zhao@emb.example.org"}


def period(start, end, contact: str = "王局长", **extra) -> dict:  # noqa: ANN001
    return {"contact": contact, "standin": STANDIN, "from": start.isoformat(), "to": end.isoformat(),
            "reason": "出差（航班）"} | extra


def named_field(response) -> str | None:  # noqa: ANN001
    body = response.json()
    return body["detail"][0]["loc"][-1] if isinstance(body["detail"], list) else body.get("field")


async def test_a_message_planned_before_the_period_and_fired_during_it_goes_to_the_stand_in(client, runtime, clock):
    await seed_departments(client)
    # Authoritative release due at START + 2h30m: its warning (head, deputies) at START + 1h30m.
    incident = await register(client, START - hours(2.5))
    warning_at = START + hours(1.5)
    clock.advance(warning_at - START - timedelta(seconds=30))
    while await runtime.scheduler.run_once():
        pass  # the warning is now prepared, for the head
    created = await client.post("/api/v1/departments/EMB/standins",
                                json=period(warning_at - timedelta(seconds=10), START + hours(5)))
    assert created.status_code == 201, created.text
    assert created.json()["contact"] == "王局长" and created.json()["standin"]["name"] == "赵代理"
    clock.advance(timedelta(seconds=30))
    while await runtime.scheduler.run_once():
        pass
    sent = [n for n in (await client.get(f"/api/v1/notifications?incident_id={incident['id']}")).json()
            if n["step"] == "warning"]
    assert {(n["channel"], n["to"]) for n in sent} == {
        ("sms", "+8613800000077"), ("email", "zhao@emb.example.org"),  # the stand-in
        ("email", "wang@emb.example.org"),  # the absent head: email only
        ("sms", "+8613800000002"), ("email", "li@emb.example.org")}  # the deputy, as ever
    fired = [e for e in (await client.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()
             if e["kind"] == "step_fired" and e["detail"]["step"] == "warning"]
    assert fired[0]["detail"]["stand_ins"] == [{"contact": "王局长", "standin": "赵代理"}]
    assert {"王局长", "赵代理"} <= set(fired[0]["detail"]["recipients"])


async def test_outside_the_period_the_contact_is_told_as_ever(client, runtime, clock):
    await seed_departments(client)
    response = await client.post("/api/v1/departments/EMB/standins", json=period(START + hours(10), START + hours(12)))
    assert response.status_code == 201
    incident = await register(client, START)
    await runtime.scheduler.run_once()
    registered = {n["to"] for n in (await client.get(f"/api/v1/notifications?incident_id={incident['id']}")).json()}
    assert registered == {"+8613800000001", "wang@emb.example.org"}


async def test_a_period_that_begins_after_a_message_was_prepared_changes_its_recipient(client, runtime, clock):
    """Prepared a minute ahead for the head; the period starts between the planned time and a late firing."""
    await seed_departments(client)
    incident = await register(client, START - hours(2.5))
    warning_at = START + hours(1.5)
    clock.advance(warning_at - START - timedelta(seconds=30))
    await client.post("/api/v1/departments/EMB/standins", json=period(warning_at + timedelta(seconds=5),
                                                                       START + hours(5)))
    while await runtime.scheduler.run_once():
        pass  # prepared for the planned time, when the head is still in
    clock.advance(timedelta(seconds=40))  # fired 10 s late, inside the period
    while await runtime.scheduler.run_once():
        pass
    sms = {n["to"] for n in (await client.get(f"/api/v1/notifications?incident_id={incident['id']}")).json()
           if n["step"] == "warning" and n["channel"] == "sms"}
    assert "+8613800000077" in sms and "+8613800000001" not in sms


@pytest.mark.parametrize(("change", "field"), [
    ({"contact": "不存在"}, "contact"),
    ({"from": (START + hours(3)).isoformat(), "to": (START + hours(1)).isoformat()}, "to"),
    ({"from": (START + hours(1)).isoformat(), "to": (START + hours(1)).isoformat()}, "to"),
    ({"from": "2026-11-28T10:00:00"}, "from"),
    ({"standin": {"name": "无联系方式"}}, "standin"),
    ({"standin": STANDIN | {"mobile": "12345"}}, "mobile"),
    ({"reason": ""}, "reason"),
])
async def test_a_bad_stand_in_is_a_422_naming_the_field(client, change, field):
    await seed_departments(client)
    response = await client.post("/api/v1/departments/EMB/standins",
                                 json=period(START + hours(1), START + hours(3)) | change)
    assert response.status_code == 422, response.text
    assert field in [part for error in response.json()["detail"] for part in error["loc"]]


async def test_overlapping_periods_of_one_contact_are_refused(client):
    await seed_departments(client)
    first = await client.post("/api/v1/departments/EMB/standins", json=period(START + hours(1), START + hours(3)))
    assert first.status_code == 201
    overlap = await client.post("/api/v1/departments/EMB/standins", json=period(START + hours(2), START + hours(4)))
    assert overlap.status_code == 422 and named_field(overlap) == "from"
    after = await client.post("/api/v1/departments/EMB/standins", json=period(START + hours(3), START + hours(4)))
    assert after.status_code == 201  # periods end exclusively: back to back is fine
    deputy = await client.post("/api/v1/departments/EMB/standins",
                               json=period(START + hours(2), START + hours(4), contact="李副局长"))
    assert deputy.status_code == 201
    listed = (await client.get("/api/v1/departments/EMB/standins")).json()
    assert [(s["contact"], s["from"][:13]) for s in listed] == [
        ("王局长", "2026-11-28T05"), ("李副局长", "2026-11-28T04"), ("王局长", "2026-11-28T03")]


async def test_an_admin_or_the_departments_head_may_set_a_stand_in(client, runtime):
    await seed_departments(client)
    tokens = await make_tokens(runtime)  # the department head is EMB's
    async with transaction(runtime.sessions) as session:
        _, health_head = await auth.create_user(session, "health-head", "department_head", START, department="HEALTH")
    body = period(START + hours(1), START + hours(2))
    outcomes = {role: (await client.post("/api/v1/departments/EMB/standins", json=body,
                                         headers=bearer(tokens[role]))).status_code
                for role in ("duty_officer", "supervisor")}
    assert outcomes == {"duty_officer": 403, "supervisor": 403}
    assert (await client.post("/api/v1/departments/EMB/standins", json=body,
                              headers=bearer(health_head))).status_code == 403
    assert (await client.post("/api/v1/departments/EMB/standins", json=body,
                              headers=bearer(tokens["department_head"]))).status_code == 201
    assert (await client.post("/api/v1/departments/NOPE/standins", json=body)).status_code == 404
    # Another department's head reads the periods with the stand-in's addresses masked.
    listed = (await client.get("/api/v1/departments/EMB/standins", headers=bearer(health_head))).json()
    assert listed[0]["standin"]["mobile"] == "+86138****0077"


async def test_a_stand_ins_sms_that_fails_for_good_falls_back_to_their_email(client, runtime, tmp_path):
    from support import sms_only_rules
    from test_engine import FlakyChannel

    runtime.rules = runtime.dispatcher.rules = sms_only_rules(tmp_path)
    await seed_departments(client)
    assert (await client.post("/api/v1/departments/EMB/standins",
                              json=period(START - hours(1), START + hours(5)))).status_code == 201
    runtime.channels["sms"] = FlakyChannel("sms", permanent=True)
    incident = await register(client, START)
    while await runtime.scheduler.run_once():
        pass
    sent = {(n["channel"], n["to"], n["state"]) for n in (await client.get(
        f"/api/v1/notifications?incident_id={incident['id']}")).json()}
    assert ("sms", "+8613800000077", "failed") in sent
    assert ("email", "zhao@emb.example.org", "sent") in sent


async def test_the_incident_page_names_the_stand_in_and_the_absent_contact(client, runtime):
    from pages_support import page_client, signed_in

    async with page_client(runtime) as pages:
        await client.post("/api/v1/departments/EMB/standins", json=period(START - hours(1), START + hours(5)))
        incident = await register(client, START)
        await runtime.scheduler.run_once()
        await signed_in(pages, "supervisor")
        assert "赵代理（代王局长）" in (await pages.get(f"/incidents/{incident['id']}")).text


async def test_a_deputy_standing_in_for_the_head_is_told_once(client, runtime, clock):
    await seed_departments(client)
    deputy = {"name": "李副局长", "mobile": "+8613800000002", "email": "li@emb.example.org"}
    assert (await client.post("/api/v1/departments/EMB/standins", json=period(
        START - hours(1), START + hours(5)) | {"standin": deputy})).status_code == 201
    incident = await register(client, START - hours(2.5))
    clock.advance(hours(1.5))  # the warning: head and deputies
    while await runtime.scheduler.run_once():
        pass
    sent = [(n["channel"], n["to"]) for n in (await client.get(
        f"/api/v1/notifications?incident_id={incident['id']}")).json() if n["step"] == "warning"]
    assert sorted(sent) == [("email", "li@emb.example.org"), ("email", "wang@emb.example.org"),
                            ("sms", "+8613800000002")]
