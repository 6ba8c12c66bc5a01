"""The sign-in throttle: by user name and client address together, a growing
wait instead of a lock, shared by replicas, lifted by an admin; and which
client a request comes from when a proxy forwards it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner
from pages_support import PASSWORD, count, post, seed, sign_in, signed_in
from pydantic import ValidationError
from sqlalchemy import select
from structlog.testing import capture_logs

from alerts.outbox import OutboxChannel
from monitor import throttle
from monitor.api.app import create_app
from monitor.cli import main
from monitor.logging import configure_logging
from monitor.models import SignInFailure
from monitor.runtime import Runtime
from tests.conftest import ADMIN_TOKEN, make_settings

OFFICE, OUTSIDER = "10.1.1.1", "203.0.113.7"


def _client(app, address: str, **headers: str) -> httpx.AsyncClient:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://sunclock.test", headers=headers)


@asynccontextmanager
async def browsers(runtime: Runtime, *addresses: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One browser per client address, all on one running app."""
    await seed(runtime)
    app = create_app(runtime, run_scheduler=False)
    clients = [_client(app, address) for address in addresses]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def fail(client: httpx.AsyncClient, name: str, times: int) -> list[int]:
    return [(await sign_in(client, name, "a-wrong-guess")).status_code for _ in range(times)]


@pytest.fixture
def info_logs() -> None:
    """Info events reach capture_logs even after a command line run set WARNING."""
    configure_logging("console", "INFO")


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["Retry-After"])


@pytest.mark.parametrize(("failures", "wait"), [
    (4, None), (5, 2), (6, 4), (7, 8), (9, 32), (12, 256), (13, 300), (40, 300), (10_000, 300),
])
def test_the_wait_doubles_after_five_failures_up_to_five_minutes(failures, wait):
    expected = None if wait is None else timedelta(seconds=wait)
    assert throttle.wait_after(failures) == expected


async def test_an_outsiders_failures_never_refuse_the_right_password_from_another_client(runtime):
    async with browsers(runtime, OUTSIDER, OFFICE) as (outsider, office):
        assert await fail(outsider, "duty", 30) == [401] * 5 + [429] * 25
        assert (await sign_in(office, "duty")).status_code == 303
        assert (await sign_in(outsider, "duty")).status_code == 429  # the outsider still waits


async def test_each_failure_after_the_wait_doubles_it_and_the_refusal_says_when(runtime, clock):
    async with browsers(runtime, OUTSIDER) as (outsider,):
        await fail(outsider, "duty", 5)
        refused = await sign_in(outsider, "duty")
        assert retry_after(refused) == 2
        assert "请于 2026-11-28 10:00:02 后再试（2 秒后）" in refused.text
        waits = []
        for _ in range(4):
            clock.advance(seconds=retry_after(await sign_in(outsider, "duty")))
            assert await fail(outsider, "duty", 1) == [401]
            waits.append(retry_after(await sign_in(outsider, "duty")))
        assert waits == [4, 8, 16, 32]


async def test_the_right_password_waits_like_any_other_then_gets_in_and_starts_afresh(runtime, clock):
    async with browsers(runtime, OFFICE) as (office,):
        await fail(office, "duty", 5)
        assert (await sign_in(office, "duty")).status_code == 429  # not even checked
        clock.advance(seconds=2)
        assert (await sign_in(office, "duty")).status_code == 303
        assert await fail(office, "duty", 5) == [401] * 5  # a success forgot the earlier failures


async def test_a_quiet_hour_forgets_the_failures(runtime, clock):
    async with browsers(runtime, OFFICE) as (office,):
        await fail(office, "duty", 9)
        clock.advance(hours=1, seconds=1)
        assert await fail(office, "duty", 4) == [401] * 4


async def test_refused_attempts_are_answered_without_checking_a_password(runtime, monkeypatch):
    import monitor.pages.auth as pages_auth

    checked = []
    real = pages_auth.check_password
    monkeypatch.setattr(pages_auth, "check_password", lambda *args: checked.append(1) or real(*args))
    async with browsers(runtime, OUTSIDER) as (outsider,):
        statuses = await fail(outsider, "duty", 200)
    assert statuses == [401] * 5 + [429] * 195
    assert len(checked) == 5


async def test_a_guesser_trying_many_names_waits_but_other_clients_do_not(runtime):
    async with browsers(runtime, OUTSIDER, OFFICE) as (outsider, office):
        for n in range(20):
            assert await fail(outsider, f"guess-{n}", 1) == [401]
        assert (await sign_in(outsider, "supervisor")).status_code == 429
        assert (await sign_in(office, "supervisor")).status_code == 303


async def test_replicas_share_the_count(runtime, clock):
    other = Runtime.build(make_settings(runtime.settings.database_url), clock=clock, migrate_schema=False,
                          channels={"sms": OutboxChannel("sms"), "email": OutboxChannel("email")})
    try:
        async with browsers(runtime, OUTSIDER) as (first,):
            async with _client(create_app(other, run_scheduler=False), OUTSIDER) as second:
                await fail(first, "duty", 5)
                assert (await sign_in(second, "duty")).status_code == 429
    finally:
        await other.close()


async def test_an_admin_unlocks_a_name_by_the_api(runtime):
    async with browsers(runtime, OUTSIDER) as (outsider,):
        await fail(outsider, "duty", 25)
        admin_api = _client(create_app(runtime, run_scheduler=False), "127.0.0.1",
                            Authorization=f"Bearer {ADMIN_TOKEN}")
        async with admin_api as api:
            unlocked = await api.post("/api/v1/users/duty/unlock")
            assert unlocked.status_code == 200 and unlocked.json() == {"name": "duty", "cleared": 2}
            assert (await api.post("/api/v1/users/nobody/unlock")).status_code == 404
            assert (await api.post("/api/v1/users/" + "x" * 65 + "/unlock")).status_code == 422
        assert (await sign_in(outsider, "duty")).status_code == 303


async def test_only_an_admin_may_unlock(client, runtime):
    from support import bearer, make_tokens, seed_departments

    await seed_departments(client)
    tokens = await make_tokens(runtime)
    for role in ("duty_officer", "department_head", "supervisor"):
        assert (await client.post("/api/v1/users/admin/unlock", headers=bearer(tokens[role]))).status_code == 403
    assert (await client.post("/api/v1/users/admin/unlock", headers={"Authorization": ""})).status_code == 401
    assert (await client.post("/api/v1/users/admin/unlock")).status_code == 200


async def test_an_admin_unlocks_a_name_on_the_users_page_with_its_csrf_token(runtime):
    async with browsers(runtime, OUTSIDER, OFFICE) as (outsider, admin):
        await fail(outsider, "duty", 6)
        csrf = await signed_in(admin, "admin")
        users = (await admin.get("/admin/users")).text
        assert "因登录失败受限，至 2026-11-28 10:00:02" in users
        url = next(f"/admin/users/{n}/unlock" for n in range(1, 10) if f"/admin/users/{n}/unlock" in users)
        assert (await post(admin, url, "not-the-token")).status_code == 403
        assert (await sign_in(outsider, "duty")).status_code == 429
        assert (await post(admin, url, csrf)).status_code == 303
        assert "因登录失败受限" not in (await admin.get("/admin/users")).text
        assert (await sign_in(outsider, "duty")).status_code == 303


async def test_sunclock_user_unlock_clears_the_name(runtime):
    env = {"SUNCLOCK_DATABASE_URL": runtime.settings.database_url}
    async with browsers(runtime, OUTSIDER) as (outsider,):
        await fail(outsider, "duty", 5)
        result = await _in_thread(lambda: CliRunner().invoke(main, ["user", "unlock", "duty"], env=env))
        assert result.exit_code == 0, result.output
        assert "unlocked duty (2 throttle entries cleared)" in result.output
        assert (await sign_in(outsider, "duty")).status_code == 303
        missing = await _in_thread(lambda: CliRunner().invoke(main, ["user", "unlock", "nobody"], env=env))
        assert missing.exit_code == 1 and "no user 'nobody'" in missing.output


async def _in_thread(work: Callable[[], object]):  # noqa: ANN202 - the CLI runs its own event loop
    import asyncio

    return await asyncio.to_thread(work)


async def test_every_sign_in_attempt_is_logged_with_user_client_and_outcome(runtime, clock, info_logs):
    async with browsers(runtime, OFFICE) as (office,):
        with capture_logs() as logs:
            await fail(office, "duty", 6)
            clock.advance(seconds=2)
            await sign_in(office, "duty")
    events = [{k: e[k] for k in ("user", "client", "success")} for e in logs if e["event"] == "signin"]
    assert events == [{"user": "duty", "client": OFFICE, "success": False}] * 6 + [
        {"user": "duty", "client": OFFICE, "success": True}]
    refused = [e for e in logs if e["event"] == "signin" and "refused_until" in e]
    assert [e["refused_until"] for e in refused] == ["2026-11-28T02:00:02+00:00"]


async def _signin_client(runtime: Runtime, peer: str, forwarded_for: str) -> str:
    app = create_app(runtime, run_scheduler=False)
    async with _client(app, peer, **{"X-Forwarded-For": forwarded_for}) as browser:
        with capture_logs() as logs:
            await sign_in(browser, "nobody", PASSWORD)
    return next(e["client"] for e in logs if e["event"] == "signin")


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(runtime, info_logs):
    assert await _signin_client(runtime, "127.0.0.1", "10.9.9.9") == "127.0.0.1"


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.0.0.0/8, 127.0.0.0/8"])
async def test_a_trusted_proxy_names_the_client(database_url, clock, trusted, info_logs):
    rt = Runtime.build(make_settings(database_url, trusted_proxies=trusted), clock=clock, migrate_schema=False,
                       channels={})
    try:
        assert await _signin_client(rt, "127.0.0.1", "10.9.9.9") == "10.9.9.9"
        assert await _signin_client(rt, "192.0.2.1", "10.9.9.9") == "192.0.2.1"  # not a proxy of ours
    finally:
        await rt.close()


def test_a_trusted_proxy_that_is_not_an_address_is_refused_by_name(database_url):
    with pytest.raises(ValidationError, match="trusted_proxies") as refused:
        make_settings(database_url, trusted_proxies="127.0.0.1, proxy.local")
    assert "'proxy.local' is not an IP address or CIDR" in str(refused.value)


async def test_rows_of_clients_quiet_for_an_hour_are_removed_when_new_ones_come(runtime, clock):
    async with browsers(runtime, OUTSIDER, OFFICE) as (outsider, office):
        await fail(outsider, "duty", 2)
        assert await count(runtime, SignInFailure) == 2  # the name's, and the client's over all names
        clock.advance(hours=1, seconds=1)
        await fail(office, "duty", 1)
    async with runtime.sessions() as session:
        clients = set((await session.execute(select(SignInFailure.client))).scalars())
    assert clients == {OFFICE}
