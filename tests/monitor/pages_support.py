"""What the page tests share: a browser-like client without a bearer token,
departments and one user per role with a password, and form helpers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from sqlalchemy import func, select
from support import DEPARTMENTS

from monitor import auth, departments, incidents
from monitor.actors import Actor
from monitor.api.app import create_app
from monitor.db import transaction
from monitor.runtime import Runtime
from monitor.schemas import DepartmentCreate, IncidentCreate

PASSWORD = "night-shift-2026"
# user name → (role, department)
USERS = {"duty": ("duty_officer", None), "emb-head": ("department_head", "EMB"),
         "health-head": ("department_head", "HEALTH"), "supervisor": ("supervisor", None), "admin": ("admin", None)}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def seed(runtime: Runtime) -> None:
    async with transaction(runtime.sessions) as session:
        for department in DEPARTMENTS:
            await departments.save(session, DepartmentCreate.model_validate(department), runtime.clock.now())
        for name, (role, code) in USERS.items():
            await auth.create_user(session, name, role, runtime.clock.now(), department=code, password=PASSWORD)


@asynccontextmanager
async def page_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client that behaves like a browser: cookies kept, redirects not followed."""
    await seed(runtime)
    app = create_app(runtime, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sunclock.test") as client:
        yield client


def csrf_in(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in as a fresh visitor would (any earlier session is forgotten)."""
    client.cookies.clear()
    form = await client.get("/signin")
    return await client.post("/signin", data={"csrf": csrf_in(form.text), "name": name, "password": password,
                                              "next": "/"})


async def signed_in(client: httpx.AsyncClient, name: str) -> str:
    """Sign in and return the CSRF token of the new session."""
    response = await sign_in(client, name)
    assert response.status_code == 303, response.text
    return csrf_in((await client.get("/outbox")).text)


async def post(client: httpx.AsyncClient, url: str, csrf: str, **fields: str) -> httpx.Response:
    return await client.post(url, data={"csrf": csrf, **fields})


async def add_incident(runtime: Runtime, occurred_at: datetime, *, department: str = "EMB", severity: str = "I",
                       title: str = "白蕉镇化工厂爆炸") -> int:
    async with transaction(runtime.sessions) as session:
        incident = await incidents.register(session, IncidentCreate(
            title=title, severity=severity, department=department, occurred_at=occurred_at),
            runtime.rules, runtime.clock.now(), Actor(name="test", role="admin"))
        return incident.id


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def error_of(html: str, field_id: str) -> str | None:
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    return found.group(1) if found else None
