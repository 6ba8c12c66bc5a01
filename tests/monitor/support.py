"""Data the monitor tests build on: departments and one user per role."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import auth
from monitor.db import transaction
from monitor.models import Contact, Department, Incident
from monitor.runtime import Runtime
from rules import SHIPPED_DIR, RuleSet, load_rules

DEPARTMENTS = [
    {"code": "GOV", "name": "区政务公开办", "supervisory": True,
     "contacts": [{"name": "陈主任", "role": "head", "mobile": "+8613800000009", "email": "chen@gov.example.org"}]},
    {"code": "EMB", "name": "区应急管理局", "contacts": [
        {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"},
        {"name": "李副局长", "role": "deputy", "mobile": "+8613800000002", "email": "li@emb.example.org"}]},
    {"code": "HEALTH", "name": "区卫生健康局", "contacts": [
        {"name": "张局长", "role": "head", "mobile": "+8613800000003", "email": "zhang@health.example.org"}]},
]


async def seed_departments(client: httpx.AsyncClient) -> None:
    for department in DEPARTMENTS:
        response = await client.post("/api/v1/departments", json=department)
        assert response.status_code == 201, response.text


async def retire_contacts(runtime: Runtime, code: str) -> None:
    """Every contact of a department retired behind the service's back, as data
    from before a department needed a head would be: the API refuses to do it."""
    async with transaction(runtime.sessions) as session:
        department_id = (await session.execute(select(Department.id).where(Department.code == code))).scalar_one()
        await session.execute(update(Contact).where(Contact.department_id == department_id)
                              .values(retired_at=runtime.clock.now()))


async def make_tokens(runtime: Runtime) -> dict[str, str]:
    """A token per role; the department head belongs to EMB."""
    tokens = {}
    async with transaction(runtime.sessions) as session:
        for role in ("duty_officer", "department_head", "supervisor", "admin"):
            _, tokens[role] = await auth.create_user(session, role, role, runtime.clock.now(),
                                                     department="EMB" if role == "department_head" else None)
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: httpx.AsyncClient, occurred_at: datetime, *, severity: str = "I",
                   department: str = "EMB", title: str = "白蕉镇化工厂爆炸") -> dict:
    response = await client.post("/api/v1/incidents", json={
        "title": title, "severity": severity, "department": department, "occurred_at": occurred_at.isoformat()})
    assert response.status_code == 201, response.text
    return response.json()


def obligation(incident: dict, key: str) -> dict:
    return next(o for o in incident["obligations"] if o["key"] == key)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def sms_only_rules(directory: Path) -> RuleSet:
    """The shipped rule with SMS as its only channel: a failed SMS then has an
    email to fall back to (with both channels, the step already sent one)."""
    shipped = (SHIPPED_DIR / "major_emergency.yaml").read_text(encoding="utf-8")
    assert "\nchannels: [sms, email]\n" in shipped
    sms_only = shipped.replace("\nchannels: [sms, email]\n", "\nchannels: [sms]\n")
    (directory / "major_emergency.yaml").write_text(sms_only, encoding="utf-8")
    return load_rules(directory)


async def many_planned_steps(session: AsyncSession, rows: int, at: datetime) -> None:
    """On PostgreSQL: one department, one incident, and ``rows`` planned steps of
    it inserted by the server itself (a table big enough to plan for, in a second)."""
    await session.execute(insert(Department).values(id=1, code="EMB", name="应急管理局", created_at=at))
    await session.execute(insert(Incident).values(
        id=1, title="t", severity="I", occurred_at=at, registered_at=at, department_id=1, registered_by="test"))
    await session.execute(text(
        "INSERT INTO escalationstep (incident_id, obligation_key, kind, occurrence, planned_at, recipients,"
        " channels, state, late) SELECT 1, '', 'overdue', n, :at, '[]', '[]', 'planned', false"
        " FROM generate_series(1, :rows) AS n"), {"at": at, "rows": rows})
