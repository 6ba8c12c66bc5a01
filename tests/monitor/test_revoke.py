"""Revoking a user (SPEC §6, §12.2): their API tokens and page sessions stop
working at once, from the API, the admin page or the command line."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from pages_support import PASSWORD, page_client, post, sign_in, signed_in
from sqlalchemy import select
from structlog.testing import capture_logs
from support import bearer

from monitor import auth
from monitor.cli import main
from monitor.db import transaction
from monitor.logging import configure_logging
from monitor.models import User


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def officer_with_token(runtime, name: str = "night-duty") -> str:
    async with transaction(runtime.sessions) as session:
        _, token = await auth.create_user(session, name, "duty_officer", runtime.clock.now(), password=PASSWORD)
    return token


async def session_cookie(pages, name: str) -> str:
    assert (await sign_in(pages, name)).status_code == 303
    return pages.cookies["sunclock_session"]


async def works(pages, client, token: str, cookie: str) -> tuple[bool, bool]:
    """Whether the API token and the page cookie still get in."""
    api = await client.get("/api/v1/incidents", headers=bearer(token))
    pages.cookies.clear()
    pages.cookies.set("sunclock_session", cookie)
    page = await pages.get("/")
    return api.status_code == 200, page.status_code == 200


async def test_revoking_a_user_ends_their_api_tokens_and_page_sessions(pages, client, runtime):
    token = await officer_with_token(runtime)
    cookie = await session_cookie(pages, "night-duty")
    others = await session_cookie(pages, "duty")
    assert await works(pages, client, token, cookie) == (True, True)
    configure_logging("console", "INFO")  # a command-line test before this one may have left it at WARNING
    with capture_logs() as logs:
        response = await client.post("/api/v1/users/night-duty/revoke")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "night-duty", "tokens_revoked": 1, "sessions_revoked": 1}
    assert await works(pages, client, token, cookie) == (False, False)
    assert await works(pages, client, token, others) == (False, True)  # nobody else is signed out
    revoked = [entry for entry in logs if entry["event"] == "user_revoked"]
    assert revoked and revoked[0]["user"] == "night-duty" and revoked[0]["actor"] == "admin-token"
    # The user may sign in again with their password: revoking ends sessions, not the account.
    assert (await sign_in(pages, "night-duty")).status_code == 303


async def test_only_an_admin_may_revoke_and_an_unknown_name_is_not_found(client, runtime):
    token = await officer_with_token(runtime)
    async with transaction(runtime.sessions) as session:
        _, supervisor = await auth.create_user(session, "sup", "supervisor", runtime.clock.now())
    refused = await client.post("/api/v1/users/night-duty/revoke", headers=bearer(supervisor))
    assert refused.status_code == 403
    assert (await client.post("/api/v1/users/night-duty/revoke", headers=bearer(token))).status_code == 403
    assert (await client.get("/api/v1/incidents", headers=bearer(token))).status_code == 200
    missing = await client.post("/api/v1/users/nobody/revoke")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


async def test_the_admin_page_revokes_with_its_csrf_token(pages, client, runtime):
    token = await officer_with_token(runtime)
    cookie = await session_cookie(pages, "night-duty")
    csrf = await signed_in(pages, "admin")
    async with runtime.sessions() as session:
        user_id = (await session.exec(select(User.id).where(User.name == "night-duty"))).scalars().one()
    users = await pages.get("/admin/users")
    assert f'action="/admin/users/{user_id}/revoke"' in users.text
    assert (await post(pages, f"/admin/users/{user_id}/revoke", "not-the-token")).status_code == 403
    assert await works(pages, client, token, cookie) == (True, True)
    csrf = await signed_in(pages, "admin")
    done = await post(pages, f"/admin/users/{user_id}/revoke", csrf)
    assert done.status_code == 303 and done.headers["location"] == "/admin/users?revoked=1"
    assert await works(pages, client, token, cookie) == (False, False)


async def test_the_command_line_revokes_a_user_and_issues_a_new_token(database_url, runtime, client):
    token = await officer_with_token(runtime)
    env = {"SUNCLOCK_DATABASE_URL": database_url,
           "SUNCLOCK_SECRET_KEY": runtime.settings.secret_key.get_secret_value()}

    def user(*args: str):  # the command line runs its own event loop
        return CliRunner().invoke(main, ["user", *args], env=env)

    result = await asyncio.to_thread(user, "revoke", "night-duty")
    assert result.exit_code == 0, result.output
    assert "night-duty: 1 API token(s) and 0 page session(s) revoked" in result.output
    assert (await client.get("/api/v1/incidents", headers=bearer(token))).status_code == 401
    unknown = await asyncio.to_thread(user, "revoke", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.stderr
    # A new token for the same account, printed alone; the revoked one stays dead.
    issued = await asyncio.to_thread(user, "token", "night-duty")
    assert issued.exit_code == 0 and issued.stdout.startswith("sc_") and issued.stdout.count("\n") == 1
    assert (await client.get("/api/v1/incidents", headers=bearer(issued.stdout.strip()))).status_code == 200
    assert (await client.get("/api/v1/incidents", headers=bearer(token))).status_code == 401
