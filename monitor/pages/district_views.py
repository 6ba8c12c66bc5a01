"""Districts (admins) and a department's page with its stand-ins (admins and
the department's head), SPEC §14."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import departments, districts, standins
from monitor.deps import SessionDep
from monitor.errors import ErrorCode, NotFound
from monitor.models import Department
from monitor.pages.auth import Posted, SignedIn
from monitor.pages.forms import local_time, save, text, validate
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render

router = APIRouter(route_class=PageRoute)
CODE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")  # as monitor.schemas.Code
STANDIN_FIELDS = ("contact", "standin_name", "standin_mobile", "standin_email", "from", "to", "reason")


async def _districts_page(page: Page, session: AsyncSession, *, status: int = 200,
                          values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
    return render(page, "districts.html", status=status, districts=await districts.list_public(session, page.actor),
                  values=values or {"code": "", "name": ""}, errors=errors or {},
                  saved=page.request.query_params.get("saved") == "1")


@router.get("/admin/districts")
async def district_list(page: SignedIn, session: SessionDep) -> Response:
    if not page.may("manage"):
        return refusal(page, 403, "error.forbidden")
    return await _districts_page(page, session)


@router.post("/admin/districts")
async def add_district(page: Posted, session: SessionDep) -> Response:
    if not page.may("manage") or (page.actor is not None and page.actor.district_id is not None):
        return refusal(page, 403, "error.forbidden")
    form = await page.request.form()
    values = {"code": text(form, "code"), "name": text(form, "name")}

    async def action() -> None:
        body = validate(districts.DistrictCreate, {k: v for k, v in values.items() if v}, page.t)
        await districts.create(session, body.code, body.name, page.runtime.clock.now())

    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, "/admin/districts?saved=1")
    return await _districts_page(page, session, status=422, values=values, errors=errors)


async def _department(page: Page, session: AsyncSession, code: str) -> Department:
    assert page.actor is not None
    try:
        if not CODE.fullmatch(code):  # nothing a code cannot be reaches the database (a NUL, say)
            raise NotFound(f"no department {code!r}", code=ErrorCode.DEPARTMENT_UNKNOWN, params={"code": code})
        return await standins.department_named(session, code, page.actor)
    except NotFound:
        raise PageExit(refusal(page, 404, "error.not_found")) from None


def _empty(contact: str = "") -> dict[str, str]:
    return dict.fromkeys(STANDIN_FIELDS, "") | {"contact": contact}


async def _department_page(page: Page, session: AsyncSession, department: Department, *, status: int = 200,
                           values: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> Response:
    assert page.actor is not None
    listed = next((d for d in await departments.list_public(session, page.actor) if d.code == department.code), None)
    contacts = [c.name for c in listed.contacts] if listed else []
    return render(page, "department.html", status=status, department=listed,
                  standins=await standins.list_public(session, department, page.actor),
                  may_set=standins.may_set(page.actor, department), contacts=[(c, c) for c in contacts],
                  values=values or _empty(), errors=errors or {}, saved=page.request.query_params.get("saved") == "1")


@router.get("/admin/departments/{code}")
async def department_page(code: str, page: SignedIn, session: SessionDep) -> Response:
    """A department: its contacts and who stands in for whom, when."""
    return await _department_page(page, session, await _department(page, session, code))


@router.post("/admin/departments/{code}/standins")
async def add_standin(code: str, page: Posted, session: SessionDep) -> Response:
    assert page.actor is not None
    department = await _department(page, session, code)
    if not standins.may_set(page.actor, department):
        return refusal(page, 403, "error.forbidden")
    form = await page.request.form()
    values = {name: text(form, name) for name in STANDIN_FIELDS}
    zone = page.runtime.settings.zone
    body = {"contact": values["contact"], "reason": values["reason"],
            "standin": {k: v for k in ("name", "mobile", "email") if (v := values[f"standin_{k}"])},
            "from": values["from"] and local_time(values["from"], zone),
            "to": values["to"] and local_time(values["to"], zone)}

    async def action() -> None:
        data = validate(standins.StandInCreate, {k: v for k, v in body.items() if v not in ("", None)}, page.t)
        await standins.create(session, department, data, page.runtime.clock.now(), page.actor)

    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, f"/admin/departments/{department.code}?saved=1")
    # The form's fields for the stand-in's name, mobile and email.
    errors = {(f"standin_{k.removeprefix('standin-')}" if k.startswith("standin-") else k): v
              for k, v in errors.items()}
    return await _department_page(page, session, department, status=422, values=values, errors=errors)

