"""Sample data for ``serve --demo``: a fresh install shows every state at once."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select

from monitor import auth, departments, districts, incidents
from monitor.db import transaction
from monitor.models import Department
from monitor.runtime import Runtime
from monitor.schemas import ContactIn, DepartmentCreate, IncidentCreate
from rules.vocabulary import ContactRole, MatterKind, Role, Severity

log = structlog.get_logger("sunclock.demo")

DEMO_PASSWORD = "sunclock-demo"

DEPARTMENTS = [
    DepartmentCreate(code="GOV", name="区政务公开领导小组办公室", supervisory=True, contacts=[
        ContactIn(name="陈主任", role=ContactRole.HEAD, mobile="+8613800000009", email="chen@gov.example.org")]),
    DepartmentCreate(code="EMB", name="区应急管理局", contacts=[
        ContactIn(name="王局长", role=ContactRole.HEAD, mobile="+8613800000001", email="wang@emb.example.org"),
        ContactIn(name="李副局长", role=ContactRole.DEPUTY, mobile="+8613800000002", email="li@emb.example.org")]),
    DepartmentCreate(code="HEALTH", name="区卫生健康局", contacts=[
        ContactIn(name="张局长", role=ContactRole.HEAD, mobile="+8613800000003", email="zhang@health.example.org"),
        ContactIn(name="赵副局长", role=ContactRole.DEPUTY, mobile="+8613800000004", email="zhao@health.example.org")]),
    # A second district with its own supervisory office (SPEC §14.1).
    DepartmentCreate(code="XZ-GOV", name="香洲区政务公开办", supervisory=True, district="XZ", contacts=[
        ContactIn(name="周主任", role=ContactRole.HEAD, mobile="+8613900000009", email="zhou@xz.example.org")]),
    DepartmentCreate(code="XZ-EMB", name="香洲区应急管理局", district="XZ", contacts=[
        ContactIn(name="吴局长", role=ContactRole.HEAD, mobile="+8613900000001", email="wu@xz.example.org"),
        ContactIn(name="郑副局长", role=ContactRole.DEPUTY, mobile="+8613900000002", email="zheng@xz.example.org")]),
]
DISTRICTS = [("XZ", "香洲区")]

# (title, kind, severity, department, hours since it happened, location)
INCIDENTS = [
    ("白蕉镇化工厂爆炸事故", MatterKind.EMERGENCY, Severity.I, "EMB", 1.0, "白蕉镇工业园"),
    ("台风致城区严重内涝", MatterKind.EMERGENCY, Severity.II, "EMB", 4.6, "井岸镇"),
    ("学校食堂集体食物中毒", MatterKind.EMERGENCY, Severity.II, "HEALTH", 6.0, "斗门镇"),
    ("国道货车侧翻", MatterKind.EMERGENCY, Severity.III, "EMB", 0.5, "G105 国道"),
    ("网传医院拒收急诊病人", MatterKind.PUBLIC_OPINION, Severity.IV, "HEALTH", 30.0, None),
    ("申请公开化工园区环评报告", MatterKind.DISCLOSURE_REQUEST, Severity.IV, "EMB", 24 * 9.0, None),
    ("拱北口岸人群踩踏", MatterKind.EMERGENCY, Severity.II, "XZ-EMB", 2.0, "拱北"),
]

USERS = [("duty", Role.DUTY_OFFICER, None), ("emb-head", Role.DEPARTMENT_HEAD, "EMB"),
         ("supervisor", Role.SUPERVISOR, None), ("admin", Role.ADMIN, None)]
# (name, role, district): users who see and act on one district only
SCOPED_USERS = [("xz-duty", Role.DUTY_OFFICER, "XZ"), ("xz-supervisor", Role.SUPERVISOR, "XZ")]


async def seed(runtime: Runtime) -> bool:
    """Seed an empty database; never touches one that has departments."""
    now = runtime.clock.now()
    actor = incidents.Actor(name="demo", role=Role.ADMIN)
    async with transaction(runtime.sessions) as session:
        if (await session.exec(select(Department.id).limit(1))).first() is not None:
            log.info("demo_skipped", reason="the database already has data")
            return False
        for code, name in DISTRICTS:
            await districts.create(session, code, name, now)
        for department in DEPARTMENTS:
            await departments.save(session, department, now)
        for title, kind, severity, code, hours, location in INCIDENTS:
            await incidents.register(session, IncidentCreate(
                title=title, kind=kind, severity=severity, department=code, location=location,
                occurred_at=now - timedelta(hours=hours)), runtime.rules, now, actor)
        tokens = {}
        for name, role, department in USERS:
            _, tokens[name] = await auth.create_user(session, name, role, now, department=department,
                                                     password=DEMO_PASSWORD)
        for name, role, district in SCOPED_USERS:
            await auth.create_user(session, name, role, now, district=district, password=DEMO_PASSWORD)
    log.warning("demo_seeded", users=[u[0] for u in USERS + SCOPED_USERS], password=DEMO_PASSWORD,
                admin_token=tokens["admin"],
                hint="sign in at / with one of the users, or call the API with the admin token")
    return True
