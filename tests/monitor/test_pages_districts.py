"""Pages with districts (SPEC §14): the word shown only with several, scoped
users' lists, board, cases, outbox and reports, and the stand-in form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pages_support import PASSWORD, add_incident, page_client, post, signed_in

from monitor import auth, departments, districts
from monitor.db import transaction
from monitor.schemas import DepartmentCreate
from tests.conftest import START

XZ_DEPARTMENTS = [
    {"code": "XZ-GOV", "name": "香洲区政务公开办", "supervisory": True, "district": "XZ",
     "contacts": [{"name": "周主任", "role": "head", "mobile": "+8613900000009"}]},
    {"code": "XZ-EMB", "name": "香洲区应急管理局", "district": "XZ",
     "contacts": [{"name": "吴局长", "role": "head", "mobile": "+8613900000001", "email": "wu@xz.example.org"}]},
]


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def _second_district(runtime) -> None:
    async with transaction(runtime.sessions) as session:
        await districts.create(session, "XZ", "香洲区", runtime.clock.now())
        for department in XZ_DEPARTMENTS:
            await departments.save(session, DepartmentCreate.model_validate(department), runtime.clock.now())
        for name, role in (("xz-duty", "duty_officer"), ("xz-supervisor", "supervisor")):
            await auth.create_user(session, name, role, runtime.clock.now(), district="XZ", password=PASSWORD)


async def test_one_district_pages_never_name_it(pages):
    await signed_in(pages, "admin")
    page = (await pages.get("/admin/departments")).text
    assert "辖区" not in page and "district" not in page.lower()
    for path in ("/", "/reports", "/cases", "/outbox", "/admin/departments/EMB"):
        assert "辖区" not in (await pages.get(path)).text, path


async def test_an_admin_adds_a_district_and_picks_it_for_a_department(pages, runtime):
    csrf = await signed_in(pages, "admin")
    added = await post(pages, "/admin/districts", csrf, code="XZ", name="香洲区")
    assert added.status_code == 303
    refused = await post(pages, "/admin/districts", csrf, code="xz", name="again")
    assert refused.status_code == 422
    form = (await pages.get("/admin/departments")).text
    assert 'name="district"' in form and "香洲区" in form
    contact = {"contacts-0-name": "吴局长", "contacts-0-role": "head", "contacts-0-mobile": "+8613900000001"}
    saved = await post(pages, "/admin/departments", csrf, code="XZ-EMB", name="香洲区应急管理局", district="XZ",
                       **contact)
    assert saved.status_code == 303, saved.text
    listed = {d.code: d.district for d in await _listed(runtime)}
    assert listed["XZ-EMB"] == "XZ" and listed["EMB"] == "default"


async def _listed(runtime):
    async with runtime.sessions() as session:
        return await departments.list_public(session)


async def test_a_scoped_user_sees_their_district_only_on_every_page(pages, runtime):
    await _second_district(runtime)
    ours = await add_incident(runtime, START - timedelta(hours=6), department="XZ-EMB", title="香洲区事件")
    theirs = await add_incident(runtime, START - timedelta(hours=6), title="斗门区事件")
    while await runtime.scheduler.run_once():
        pass
    await signed_in(pages, "xz-supervisor")
    board = (await pages.get("/")).text
    assert "香洲区事件" in board and "斗门区事件" not in board
    assert (await pages.get(f"/incidents/{ours}")).status_code == 200
    assert (await pages.get(f"/incidents/{theirs}")).status_code == 404
    cases = (await pages.get("/cases")).text
    assert "香洲区事件" in cases and "斗门区事件" not in cases
    outbox = (await pages.get("/outbox")).text
    assert "+8613900000009" in outbox and "+8613800000009" not in outbox
    report = (await pages.get("/reports?from=2026-11-27&to=2026-11-28")).text
    assert "XZ-EMB" in report and ">EMB<" not in report
    await signed_in(pages, "xz-duty")
    new = (await pages.get("/incidents/new")).text
    assert "XZ-EMB" in new and 'value="EMB"' not in new


async def test_the_head_sets_a_stand_in_on_the_department_page(pages, runtime):
    csrf = await signed_in(pages, "emb-head")
    page = await pages.get("/admin/departments/EMB")
    assert page.status_code == 200 and "王局长" in page.text
    fields = {"contact": "王局长", "standin_name": "赵代理", "standin_mobile": "+8613800000077",
              "from": "2026-11-28T12:00", "to": "2026-11-28T18:00", "reason": "出差"}
    reversed_ = await post(pages, "/admin/departments/EMB/standins", csrf, **(fields | {"to": "2026-11-28T11:00"}))
    assert reversed_.status_code == 422 and 'id="to-error"' in reversed_.text
    bad_mobile = await post(pages, "/admin/departments/EMB/standins", csrf, **(fields | {"standin_mobile": "123"}))
    assert bad_mobile.status_code == 422 and 'id="standin_mobile-error"' in bad_mobile.text
    saved = await post(pages, "/admin/departments/EMB/standins", csrf, **fields)
    assert saved.status_code == 303, saved.text
    shown = (await pages.get("/admin/departments/EMB")).text
    assert "赵代理" in shown and "2026-11-28 12:00" in shown
    csrf = await signed_in(pages, "health-head")
    assert (await post(pages, "/admin/departments/EMB/standins", csrf, **fields)).status_code == 403


async def test_a_scoped_admins_new_users_are_scoped_to_their_district(pages, runtime):
    await _second_district(runtime)
    async with transaction(runtime.sessions) as session:
        await auth.create_user(session, "xz-admin", "admin", runtime.clock.now(), district="XZ", password=PASSWORD)
    csrf = await signed_in(pages, "xz-admin")
    created = await post(pages, "/admin/users", csrf, name="xz-new", role="admin", department="",
                         password="long-enough-1")
    assert created.status_code == 200, created.text
    async with runtime.sessions() as session:
        user = await auth.user_named(session, "xz-new")
        actor = await districts.actor_for(session, user)
    assert actor.district_id is not None and actor.district_departments is not None
    listed = (await pages.get("/admin/users")).text
    assert "<td>xz-new</td>" in listed and "<td>xz-duty</td>" in listed and "<td>duty</td>" not in listed
    async with runtime.sessions() as session:
        city_user = await auth.user_named(session, "duty")
    assert (await post(pages, f"/admin/users/{city_user.id}/active", csrf)).status_code == 404


async def test_a_department_page_that_cannot_exist_is_a_404(pages):
    await signed_in(pages, "admin")
    for code in ("NOPE", "%00", "x" * 40, "a'b"):
        assert (await pages.get(f"/admin/departments/{code}")).status_code == 404, code
