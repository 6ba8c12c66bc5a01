"""Account chores (issue 19): password rules, change my password, an admin's
reset shown once, and the sign-in audit log."""

from __future__ import annotations

import re

import pytest
from pages_support import PASSWORD, error_of, page_client, post, sign_in, signed_in
from sqlalchemy import select

from monitor import passwords
from monitor.errors import Invalid
from monitor.models import SignInEvent
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


@pytest.mark.parametrize(("password", "code"), [
    ("short1", "password_short"), ("abcdefghij", "password_one_kind"), ("12345678901", "password_one_kind"),
    ("Duty-Officer", "password_has_name"), ("reciffo-ytud", "password_has_name"), ("password123", "password_common"),
    ("x" * 257, "password_long"),
])
def test_the_password_rules_name_what_is_wrong(password, code):
    with pytest.raises(Invalid) as refused:
        passwords.check(password, "duty-officer")
    assert refused.value.code == code and refused.value.field == "password"


def test_a_password_may_contain_the_user_name_with_more_to_it():
    passwords.check("duty-officer-2026", "duty-officer")


def test_a_generated_password_keeps_the_rules():
    for _ in range(50):
        passwords.check(passwords.generate(), "admin")


async def test_a_user_changes_their_password_and_signs_in_again_with_it(pages):
    csrf = await signed_in(pages, "duty")
    wrong = await post(pages, "/account/password", csrf, current="nope", password="dawn-shift-2027",
                       repeat="dawn-shift-2027")
    assert wrong.status_code == 422 and error_of(wrong.text, "current") == "当前密码不正确。"
    weak = await post(pages, "/account/password", csrf, current=PASSWORD, password="12345678",
                      repeat="12345678")
    assert weak.status_code == 422 and "两类字符" in error_of(weak.text, "password")
    differ = await post(pages, "/account/password", csrf, current=PASSWORD, password="dawn-shift-2027",
                        repeat="dawn-shift-2028")
    assert differ.status_code == 422 and error_of(differ.text, "repeat") == "两次输入的新密码不一致。"
    done = await post(pages, "/account/password", csrf, current=PASSWORD, password="dawn-shift-2027",
                      repeat="dawn-shift-2027")
    assert done.status_code == 303 and done.headers["location"] == "/signin?changed=1"
    assert (await pages.get("/")).status_code == 303  # this session ended with the old password
    assert (await sign_in(pages, "duty")).status_code == 401
    assert (await sign_in(pages, "duty", "dawn-shift-2027")).status_code == 303


async def test_an_admin_resets_a_password_shown_once_and_reads_the_sign_in_log(pages):
    assert (await sign_in(pages, "duty", "wrong-guess-1")).status_code == 401
    csrf = await signed_in(pages, "admin")
    users = (await pages.get("/admin/users")).text
    duty_id = re.search(r'action="/admin/users/(\d+)/password"', users.split(">duty<", 1)[1]).group(1)
    reset = await post(pages, f"/admin/users/{duty_id}/password", csrf)
    assert reset.status_code == 200
    new = re.search(r'<code class="token" id="new-password">([^<]+)</code>', reset.text).group(1)
    passwords.check(new, "duty")
    assert new not in (await pages.get("/admin/users")).text
    log = " ".join((await pages.get("/admin/signins")).text.split())
    assert "失败（用户名或密码错误）" in log and "成功" in log and "127.0.0.1" in log

    assert (await sign_in(pages, "duty")).status_code == 401  # the old password is gone
    assert (await sign_in(pages, "duty", new)).status_code == 303
    assert (await pages.get("/admin/signins")).status_code == 403  # admins only


async def test_every_attempt_is_logged_with_who_when_where_and_outcome(pages, runtime):
    await sign_in(pages, "duty", "bad-guess-01")
    await sign_in(pages, "duty")
    async with runtime.sessions() as session:
        events = list((await session.exec(select(SignInEvent).order_by(SignInEvent.id))).scalars())
    assert [(e.name, e.success, e.outcome) for e in events] == [("duty", False, "refused"), ("duty", True, "success")]
    assert all(e.client and e.at == runtime.clock.now() for e in events)


async def test_the_api_lists_users_resets_a_password_and_reads_the_sign_in_log(pages, runtime):
    api = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    await sign_in(pages, "duty", "bad-guess-01")
    listed = await pages.get("/api/v1/users", headers=api)
    assert listed.status_code == 200 and {"name": "duty", "role": "duty_officer"}.items() <= listed.json()[1].items()
    reset = await pages.post("/api/v1/users/duty/password", headers=api)
    assert reset.status_code == 200 and reset.json()["name"] == "duty"
    assert (await sign_in(pages, "duty", reset.json()["password"])).status_code == 303
    log = (await pages.get("/api/v1/signins?name=duty", headers=api)).json()
    assert [e["outcome"] for e in log] == ["success", "refused"]
    assert (await pages.post("/api/v1/users/nobody/password", headers=api)).status_code == 404
