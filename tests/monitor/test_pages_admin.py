"""Admins manage departments, contacts and users from pages; supervisors
decide accountability cases."""

from __future__ import annotations

import pytest
from pages_support import (
    add_incident,
    count,
    error_of,
    page_client,
    post,
    sign_in,
    signed_in,
)
from sqlalchemy import select
from support import hours

from monitor.models import AccountabilityCase, Contact, Department, User
from tests.conftest import START

DEPARTMENT = {"code": "WATER", "name": "区水务局", "contacts-0-name": "周局长", "contacts-0-role": "head",
              "contacts-0-mobile": "+8613800000011", "contacts-0-email": "zhou@water.example.org",
              "contacts-1-name": "", "contacts-1-role": "deputy", "contacts-1-mobile": "", "contacts-1-email": "",
              "contacts-2-name": "吴副局长", "contacts-2-role": "deputy", "contacts-2-mobile": "",
              "contacts-2-email": "wu@water.example.org"}

@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def contacts_of(runtime, code: str, *, retired: bool = False) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Contact.name, Contact.role).join(
            Department, Department.id == Contact.department_id).where(
            Department.code == code, Contact.retired_at.is_not(None) if retired else Contact.retired_at.is_(None))
            .order_by(Contact.id))).all()
    return [tuple(r) for r in rows]


async def test_an_admin_adds_a_department_with_its_contacts(pages, runtime):
    csrf = await signed_in(pages, "admin")
    response = await post(pages, "/admin/departments", csrf, **DEPARTMENT)
    assert response.status_code == 303
    assert await contacts_of(runtime, "WATER") == [("周局长", "head"), ("吴副局长", "deputy")]
    listing = (await pages.get(response.headers["location"])).text
    assert "责任单位已保存。" in listing and "区水务局" in listing


async def test_a_bad_contact_is_named_in_its_own_row_and_nothing_is_saved(pages, runtime):
    csrf = await signed_in(pages, "admin")
    before = await count(runtime, Department), await count(runtime, Contact)
    bad_mobile = await post(pages, "/admin/departments", csrf, **(DEPARTMENT | {"contacts-2-mobile": "13800000011"}))
    assert bad_mobile.status_code == 422
    assert error_of(bad_mobile.text, "contacts-2-mobile") == "手机号须为国际格式，如 +8613800000001。"
    unreachable = await post(pages, "/admin/departments", csrf, **(DEPARTMENT | {"contacts-2-email": ""}))
    assert error_of(unreachable.text, "contacts-2-mobile") == "联系人需填写手机号或邮箱。"
    taken = await post(pages, "/admin/departments", csrf, **(DEPARTMENT | {"code": "EMB"}))
    assert taken.status_code == 422 and error_of(taken.text, "code") == "已存在同名记录。"
    second_supervisory = await post(pages, "/admin/departments", csrf, **(DEPARTMENT | {"supervisory": "1"}))
    assert error_of(second_supervisory.text, "supervisory") == "只能有一个督查单位。"
    assert (await count(runtime, Department), await count(runtime, Contact)) == before
    assert 'value="吴副局长"' in taken.text  # what was typed is kept


async def test_a_department_without_a_head_is_refused_on_the_page(pages, runtime):
    csrf = await signed_in(pages, "admin")
    before = await count(runtime, Department), await count(runtime, Contact)
    headless = await post(pages, "/admin/departments", csrf, **(DEPARTMENT | {"contacts-0-role": "deputy"}))
    assert headless.status_code == 422
    assert error_of(headless.text, "contacts") == \
        "须至少填写一名职务为“主要负责人”、有手机号或邮箱的联系人，否则提醒无人接收。"
    emptied = await post(pages, "/admin/departments", csrf, code="EMB", name="区应急管理局", editing="EMB")
    assert emptied.status_code == 422 and error_of(emptied.text, "contacts") is not None
    assert (await count(runtime, Department), await count(runtime, Contact)) == before


async def test_an_admin_replaces_a_departments_contacts(pages, runtime):
    csrf = await signed_in(pages, "admin")
    form = (await pages.get("/admin/departments?edit=EMB")).text
    assert 'value="王局长"' in form and 'name="editing" value="EMB"' in form
    response = await post(pages, "/admin/departments", csrf, code="EMB", name="区应急管理局", editing="EMB",
                          **{"contacts-0-name": "新局长", "contacts-0-role": "head",
                             "contacts-0-mobile": "+8613800000021", "contacts-0-email": ""})
    assert response.status_code == 303
    assert await contacts_of(runtime, "EMB") == [("新局长", "head")]
    assert await contacts_of(runtime, "EMB", retired=True) == [("王局长", "head"), ("李副局长", "deputy")]


async def test_an_admin_creates_a_user_who_then_signs_in(pages, runtime):
    csrf = await signed_in(pages, "admin")
    created = await post(pages, "/admin/users", csrf, name="night-duty", role="duty_officer", department="",
                         password="a-long-password")
    assert created.status_code == 200
    assert "用户已创建。" in created.text and "sc_" in created.text  # the API token, shown once
    assert (await sign_in(pages, "night-duty", "a-long-password")).status_code == 303


async def test_user_form_problems_are_shown_in_chinese_and_nothing_is_saved(pages, runtime):
    csrf = await signed_in(pages, "admin")
    before = await count(runtime, User)
    cases = [
        ({"password": "short"}, "password", "密码至少 8 位。"),
        ({"password": ""}, "password", "此项必填。"),
        ({"role": "department_head"}, "department", "单位负责人必须选择所属单位。"),
        ({"name": "duty"}, "name", "已存在同名记录。"),
        ({"name": " "}, "name", "此项必填。"),
        ({"role": "root"}, "role", "请选择一个有效选项。"),
    ]
    for change, field, message in cases:
        data = {"name": "new-user", "role": "duty_officer", "department": "", "password": "a-long-password"} | change
        response = await post(pages, "/admin/users", csrf, **data)
        assert response.status_code == 422, change
        assert error_of(response.text, field) == message, change
    assert await count(runtime, User) == before


async def test_a_switched_off_user_can_no_longer_sign_in_and_loses_their_session(pages, runtime):
    await signed_in(pages, "duty")
    duty_cookie = pages.cookies["sunclock_session"]
    assert (await pages.get("/")).status_code == 200  # the session works until the switch
    csrf = await signed_in(pages, "admin")
    async with runtime.sessions() as session:
        duty = (await session.exec(select(User).where(User.name == "duty"))).scalars().one()
    assert (await post(pages, f"/admin/users/{duty.id}/active", csrf)).status_code == 303
    assert (await sign_in(pages, "duty")).status_code == 401
    pages.cookies.clear()
    pages.cookies.set("sunclock_session", duty_cookie)
    assert (await pages.get("/")).status_code == 303


async def test_only_admins_reach_the_admin_pages(pages):
    for name in ("duty", "emb-head", "supervisor"):
        csrf = await signed_in(pages, name)
        assert (await pages.get("/admin/departments")).status_code == 403
        assert (await pages.get("/admin/users")).status_code == 403
        refused = await post(pages, "/admin/users", csrf, name="x-user", role="admin", password="a-long-password")
        assert refused.status_code == 403 and "您的角色无权执行此操作。" in refused.text


async def test_a_supervisor_decides_a_case_with_a_reason(pages, runtime):
    await add_incident(runtime, START - hours(6))  # the release is already breached: a case opens
    async with runtime.sessions() as session:
        case = (await session.exec(select(AccountabilityCase))).scalars().one()
    csrf = await signed_in(pages, "duty")
    assert (await pages.get("/cases")).status_code == 403
    assert (await post(pages, f"/cases/{case.id}/decision", csrf, decision="waived", reason="x")).status_code == 403
    csrf = await signed_in(pages, "supervisor")
    listing = (await pages.get("/cases")).text
    assert "白蕉镇化工厂爆炸" in listing and "待处理" in listing and "发布权威信息" in listing
    refused = await post(pages, f"/cases/{case.id}/decision", csrf, decision="notice", reason="")
    assert refused.status_code == 422 and error_of(refused.text, f"reason-{case.id}") == "此项必填。"
    decided = await post(pages, f"/cases/{case.id}/decision", csrf, decision="notice", reason="超时 1 小时未发布")
    assert decided.status_code == 303
    async with runtime.sessions() as session:
        stored = await session.get(AccountabilityCase, case.id)
    assert (stored.decision, stored.decided_by) == ("notice", "supervisor")
    again = await post(pages, f"/cases/{case.id}/decision", csrf, decision="summons", reason="再议")
    assert again.status_code == 422 and "该案件已处理。" in again.text
    await signed_in(pages, "health-head")
    assert "白蕉镇化工厂爆炸" not in (await pages.get("/cases")).text  # another department's case


async def test_an_admin_cannot_switch_themselves_off(pages, runtime):
    csrf = await signed_in(pages, "admin")
    async with runtime.sessions() as session:
        admin = (await session.exec(select(User).where(User.name == "admin"))).scalars().one()
    assert (await post(pages, f"/admin/users/{admin.id}/active", csrf)).status_code == 403
    assert (await pages.get("/admin/users")).status_code == 200
