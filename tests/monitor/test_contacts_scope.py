"""A department head reads their own department's contacts only: not another
department's numbers and addresses in the department list, nor in the
messages, the outbox or the incident page (SPEC §1; issue 12)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pages_support import add_incident, page_client, signed_in

from monitor import auth
from monitor.db import transaction
from tests.conftest import START

OWN = ["+8613800000001", "wang@emb.example.org", "+8613800000002", "li@emb.example.org"]
# The supervisory office (GOV) is told of EMB's incidents; HEALTH never is.
FOREIGN = ["+8613800000009", "chen@gov.example.org", "+8613800000003", "zhang@health.example.org"]


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def _token(runtime, name: str, role: str, department: str | None = None) -> dict[str, str]:
    async with transaction(runtime.sessions) as session:
        _, token = await auth.create_user(session, name, role, runtime.clock.now(), department=department)
    return {"Authorization": f"Bearer {token}"}


async def _messages_sent(runtime) -> tuple[int, int]:
    """An EMB incident whose final warning (to head, deputies and supervisors) is due, and a HEALTH one."""
    own = await add_incident(runtime, START - timedelta(hours=4, minutes=40), title="本局事件")
    other = await add_incident(runtime, START - timedelta(hours=4, minutes=40), title="卫健事件", department="HEALTH")
    while await runtime.scheduler.run_once():
        pass
    return own, other


def _leaks(text: str) -> list[str]:
    return [contact for contact in FOREIGN if contact in text]


async def test_a_head_reads_only_their_own_departments_contacts_in_the_api(pages, runtime):
    own, _ = await _messages_sent(runtime)
    head = await _token(runtime, "emb-head-api", "department_head", "EMB")
    api = {"departments": await pages.get("/api/v1/departments", headers=head),
           "notifications": await pages.get("/api/v1/notifications", headers=head),
           "incident's notifications": await pages.get(f"/api/v1/notifications?incident_id={own}", headers=head),
           "outbox": await pages.get("/api/v1/outbox", headers=head)}
    for path, response in api.items():
        assert response.status_code == 200, (path, response.text)
        assert _leaks(response.text) == [], path
        assert "+8613800000001" in response.text, path  # their own head's number is there
    listed = {d["code"]: d["contacts"] for d in api["departments"].json()}
    assert set(listed) == {"EMB", "GOV", "HEALTH"}  # still listed by code and name
    assert listed["HEALTH"] == [] and listed["GOV"] == [] and len(listed["EMB"]) == 2
    to = {n["to"] for n in api["notifications"].json()}
    assert {"+86138****0009", "c***@gov.example.org"} <= to  # the supervisors were told: masked
    assert all(n["to"] not in ("+86138****0009", "c***@gov.example.org") for n in api["outbox"].json())


async def test_a_supervisor_still_reads_every_contact(pages, runtime):
    await _messages_sent(runtime)
    supervisor = await _token(runtime, "supervisor-api", "supervisor")
    departments = (await pages.get("/api/v1/departments", headers=supervisor)).text
    notifications = (await pages.get("/api/v1/notifications", headers=supervisor)).text
    outbox = (await pages.get("/api/v1/outbox", headers=supervisor)).text
    assert all(contact in departments for contact in OWN + FOREIGN)
    assert all(contact in notifications and contact in outbox for contact in FOREIGN)


async def test_a_head_reads_only_their_own_departments_contacts_on_the_pages(pages: httpx.AsyncClient, runtime):
    own, other = await _messages_sent(runtime)
    await signed_in(pages, "emb-head")
    incident = await pages.get(f"/incidents/{own}")
    assert incident.status_code == 200 and "陈主任" in incident.text  # the supervisor's messages are listed,
    assert "+86138****0009" in incident.text  # with the address masked
    outbox = await pages.get("/outbox")
    assert outbox.status_code == 200 and "+8613800000001" in outbox.text
    for path, response in {"incident": incident, "outbox": outbox, "board": await pages.get("/"),
                           "other incident": await pages.get(f"/incidents/{other}"),
                           "departments": await pages.get("/admin/departments")}.items():
        assert _leaks(response.text) == [], path
    await signed_in(pages, "supervisor")
    assert "+8613800000009" in (await pages.get(f"/incidents/{own}")).text
