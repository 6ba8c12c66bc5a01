"""The signing key (SPEC §12.1): without SUNCLOCK_SECRET_KEY the first start
generates one and keeps it in the database; nothing derives it from a value an
outsider knows. A key that is set must be long and not a shipped placeholder."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from itsdangerous import URLSafeSerializer
from pages_support import PASSWORD, count, csrf_in, seed
from sqlalchemy import select
from support import register, seed_departments

from alerts.outbox import OutboxChannel
from monitor import auth
from monitor.acks import make_token
from monitor.api.app import create_app
from monitor.cli import main
from monitor.db import transaction
from monitor.models import Acknowledgement, Notification, User
from monitor.runtime import Runtime
from monitor.secret import stored_signing_key
from monitor.settings import PLACEHOLDER_SECRET_KEYS
from tests.conftest import ADMIN_TOKEN, START, make_settings


def keyless(database_url: str, clock, *, migrate_schema: bool = False) -> Runtime:
    return Runtime.build(make_settings(database_url, secret_key=None), clock=clock, migrate_schema=migrate_schema,
                         channels={"sms": OutboxChannel("sms"), "email": OutboxChannel("email")})


@asynccontextmanager
async def browser(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sunclock.test") as client:
        yield client


def outsiders_key(database_url: str) -> bytes:
    """What earlier versions signed with when no key was set: anyone who knows the URL knows it."""
    return ("sunclock-insecure-default:" + database_url).encode()


async def test_two_installs_with_default_settings_get_different_keys(tmp_path, monkeypatch, clock):
    keys = []
    for install in ("district-a", "district-b"):
        (tmp_path / install).mkdir()
        monkeypatch.chdir(tmp_path / install)
        runtime = keyless("sqlite:///sunclock.db", clock, migrate_schema=True)
        keys.append(runtime.settings.signing_key)
        await runtime.close()
    assert keys[0] != keys[1]
    assert all(len(key) >= 32 for key in keys)


async def test_the_generated_key_survives_a_restart_so_sessions_and_links_stay_valid(database_url, clock):
    first = keyless(database_url, clock)
    await seed(first)
    async with browser(first) as client:
        form = await client.get("/signin")
        signed = await client.post("/signin", data={"csrf": csrf_in(form.text), "name": "admin",
                                                    "password": PASSWORD, "next": "/"})
        assert signed.status_code == 303
        cookie = client.cookies["sunclock_session"]
    key = first.settings.signing_key
    await first.close()

    again = keyless(database_url, clock)
    try:
        assert again.settings.signing_key == key
        async with browser(again) as client:
            client.cookies.set("sunclock_session", cookie)
            assert (await client.get("/admin/users")).status_code == 200
    finally:
        await again.close()


def test_replicas_starting_together_agree_on_one_key(database_url):
    barrier = threading.Barrier(4)
    keys: list[bytes] = []

    def start() -> None:
        barrier.wait()
        keys.append(stored_signing_key(database_url, START))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(keys) == 4 and len(set(keys)) == 1


async def test_a_key_set_in_the_environment_wins_over_the_stored_one(database_url, clock):
    generated = keyless(database_url, clock)
    await generated.close()
    chosen = "k" * 40
    runtime = Runtime.build(make_settings(database_url, secret_key=chosen), clock=clock, migrate_schema=False,
                            channels={})
    try:
        assert runtime.settings.signing_key == chosen.encode() != generated.settings.signing_key
    finally:
        await runtime.close()


async def test_a_cookie_forged_with_the_key_derived_from_the_database_url_reaches_nothing(database_url, clock):
    """The outsider's attack: an admin made on the command line has no password, so
    earlier versions' session fingerprint for them was public too."""
    runtime = keyless(database_url, clock)
    try:
        async with transaction(runtime.sessions) as session:
            admin, _ = await auth.create_user(session, "admin", "admin", clock.now())
        fingerprint = hashlib.sha256(b"").hexdigest()[:16]
        forged = URLSafeSerializer(outsiders_key(database_url), salt="sunclock.pages.session.v1").dumps(
            {"u": admin.id, "p": fingerprint, "c": "forged-csrf", "i": int(clock.now().timestamp())})
        async with browser(runtime) as client:
            client.cookies.set("sunclock_session", forged)
            users_page = await client.get("/admin/users")
            assert users_page.status_code == 303 and users_page.headers["location"].startswith("/signin")
            created = await client.post("/admin/users", data={"csrf": "forged-csrf", "name": "intruder",
                                                              "role": "admin", "password": "intruder-2026"})
            assert created.status_code == 303
            assert (await client.get("/admin/departments")).status_code == 303
        assert await count(runtime, User) == 1
    finally:
        await runtime.close()


async def test_an_ack_link_signed_with_the_key_derived_from_the_database_url_is_refused(database_url, clock):
    runtime = keyless(database_url, clock)
    try:
        async with browser(runtime) as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            await seed_departments(client)
            await register(client, START)
            await runtime.scheduler.run_once()
            async with runtime.sessions() as session:
                sent = (await session.exec(select(Notification))).scalars().first()
            forged = make_token(outsiders_key(database_url), sent.step_id, sent.contact_id, START)
            for method in ("GET", "POST"):
                assert (await client.request(method, f"/ack/{forged}")).status_code == 400
            genuine = make_token(runtime.settings.signing_key, sent.step_id, sent.contact_id, START)
            assert (await client.get(f"/ack/{genuine}")).status_code == 200
        assert await count(runtime, Acknowledgement) == 0
    finally:
        await runtime.close()


@pytest.mark.parametrize("key", ["short-but-random-2Xq9", *sorted(PLACEHOLDER_SECRET_KEYS)])
def test_serve_refuses_a_short_or_placeholder_key(key, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(args))
    env = {"SUNCLOCK_DATABASE_URL": f"sqlite:///{tmp_path / 'sunclock.db'}", "SUNCLOCK_SECRET_KEY": key}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2, result.output
    assert "SUNCLOCK_SECRET_KEY" in result.stderr and "32" in result.stderr
    assert started == []


def test_serve_starts_with_a_long_key_or_with_none(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(args))
    monkeypatch.setattr("monitor.cli._settle_start_up_objects", lambda collect=True: None)
    database = {"SUNCLOCK_DATABASE_URL": f"sqlite:///{tmp_path / 'sunclock.db'}"}
    for env in (database | {"SUNCLOCK_SECRET_KEY": "x7" * 20}, database | {"SUNCLOCK_SECRET_KEY": ""}, database):
        result = CliRunner().invoke(main, ["serve"], env=env)
        assert result.exit_code == 0, result.output
    assert len(started) == 3

