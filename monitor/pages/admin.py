"""Departments with their contacts and users (admins), and accountability
cases (supervisors decide; department heads see their own)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from monitor import auth, departments, districts, throttle
from monitor import waivers as waiver_service
from monitor.cases import decide as decide_case
from monitor.deps import MAX_ID, SessionDep
from monitor.errors import SunclockError
from monitor.models import AccountabilityCase, Department, Incident, Obligation, User
from monitor.pages import overview, waiver_views
from monitor.pages.auth import Posted, SignedIn
from monitor.pages.forms import FormInvalid, save, service_errors, text, validate
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render
from monitor.schemas import ROLES, CaseDecision, DepartmentCreate, WaiverDecision
from rules.vocabulary import ContactRole, Decision, Role

router = APIRouter(route_class=PageRoute)
CONTACT_FIELDS = ("name", "role", "mobile", "email")
EMPTY_ROWS = 3


def _allowed(page: Page, action: str) -> None:
    if not page.may(action):
        raise PageExit(refusal(page, 403, "error.forbidden"))


def _empty_department(rows: int = EMPTY_ROWS) -> dict[str, Any]:
    return {"code": "", "name": "", "supervisory": False, "district": "",
            "contacts": [dict.fromkeys(CONTACT_FIELDS, "")
                         | {"role": ContactRole.HEAD if i == 0 else ContactRole.DEPUTY}
                         for i in range(rows)]}


async def _departments_page(page: Page, session: AsyncSession, *, status: int = 200,
                            values: dict[str, Any] | None = None,
                            errors: dict[str, str] | None = None, editing: str | None = None) -> Response:
    # Districts are named only where there are several (SPEC §14.1).
    several = await districts.many(session)
    return render(page, "departments.html", status=status,
                  departments=await departments.list_public(session, page.actor),
                  values=values or _empty_department(), errors=errors or {}, editing=editing,
                  saved=page.request.query_params.get("saved") == "1",
                  districts=[(d.code, d.name) for d in await districts.list_public(session, page.actor)]
                  if several else [])


@router.get("/admin/departments")
async def department_list(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "manage")
    edit = page.request.query_params.get("edit")
    listed = await departments.list_public(session, page.actor) if edit else []
    found = next((d for d in listed if d.code == edit), None)
    if found is None:
        return await _departments_page(page, session)
    values = {"code": found.code, "name": found.name, "supervisory": found.supervisory, "district": found.district,
              "contacts": [{"name": c.name, "role": c.role, "mobile": c.mobile or "", "email": c.email or ""}
                           for c in found.contacts] + _empty_department(2)["contacts"]}
    return await _departments_page(page, session, values=values, editing=found.code)


def _department_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """What was typed (to show again), the request body, and which form row each contact came from."""
    rows = sorted({int(m.group(1)) for key in form for m in [re.fullmatch(r"contacts-(\d{1,2})-\w+", key)] if m})
    typed = [{f: text(form, f"contacts-{i}-{f}") for f in CONTACT_FIELDS} for i in rows]
    values = {"code": text(form, "code"), "name": text(form, "name"), "supervisory": bool(form.get("supervisory")),
              "district": text(form, "district"), "contacts": typed}
    used = [i for i, c in zip(rows, typed, strict=True) if c["name"] or c["mobile"] or c["email"]]
    contacts = [{k: v for k, v in typed[rows.index(i)].items() if v} for i in used]
    body = {k: v for k, v in values.items() if k != "contacts" and v not in ("", None)} | {"contacts": contacts}
    return values, body, used


@router.post("/admin/departments")
async def save_department(page: Posted, session: SessionDep) -> Response:
    _allowed(page, "manage")
    form = await page.request.form()
    values, body, used = _department_form(form)
    editing = text(form, "editing") or None

    async def action() -> None:
        data = validate(DepartmentCreate, body, page.t)
        if editing is not None and data.code != editing:
            raise FormInvalid({"code": page.t("err.invalid")})
        await departments.save(session, data, page.runtime.clock.now(), replace=editing is not None,
                               actor=page.actor)

    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, "/admin/departments?saved=1")
    # Errors name the n-th contact sent; the page names the form row it came from.
    errors = {re.sub(r"^contacts-(\d+)", lambda m: f"contacts-{used[int(m.group(1))]}", k): v
              for k, v in errors.items()}
    return await _departments_page(page, session, status=422, values=values, errors=errors, editing=editing)


async def _users_page(page: Page, session: AsyncSession, *, status: int = 200, values: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None, token: str | None = None) -> Response:
    query = select(User, Department.code).outerjoin(Department, Department.id == User.department_id)
    if page.actor is not None and page.actor.district_id is not None:
        query = query.where(User.district_id == page.actor.district_id)
    users = (await session.execute(query.order_by(User.name))).all()
    codes = list((await session.exec(select(Department.code).order_by(Department.code))).scalars())
    held = await throttle.blocked_names(session, page.runtime.clock.now())
    blocked = {u.name: until for u, _ in users if (until := held.get(throttle.name_key(u.name)))}
    return render(page, "users.html", status=status, users=users, codes=codes, roles=ROLES, token=token,
                  blocked=blocked,
                  values=values or {"name": "", "role": Role.DUTY_OFFICER, "department": ""}, errors=errors or {},
                  revoked=status == 200 and page.request.query_params.get("revoked") == "1")


@router.get("/admin/users")
async def user_list(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "manage")
    return await _users_page(page, session)


@router.post("/admin/users")
async def create_user(page: Posted, session: SessionDep) -> Response:
    _allowed(page, "manage")
    form = await page.request.form()
    values = {name: text(form, name) for name in ("name", "role", "department")}
    password = str(form.get("password") or "")
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = page.t("err.required")
    else:
        try:
            # An admin scoped to a district creates users of that district only (SPEC §14.1).
            scope = (await districts.codes(session)).get(page.actor.district_id) if page.actor else None
            _, token = await auth.create_user(session, values["name"], values["role"], page.runtime.clock.now(),
                                              department=values["department"] or None, password=password,
                                              district=scope)
            await session.commit()
        except SunclockError as exc:
            errors = service_errors(exc, page.t)
    if errors:
        await session.rollback()
        return await _users_page(page, session, status=422, values=values, errors=errors)
    page.runtime.poke()
    return await _users_page(page, session, token=token)


async def _user(session: AsyncSession, user_id: int, page: Page | None = None) -> User | None:
    """The user, unless another district's, for an admin scoped to one (SPEC §14.1)."""
    user = await session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    scope = page.actor.district_id if page is not None and page.actor is not None else None
    return None if user is None or (scope is not None and user.district_id != scope) else user


@router.post("/admin/users/{user_id}/active")
async def toggle_user(user_id: int, page: Posted, session: SessionDep) -> Response:
    """Switch a user off (no more sign-in or API token) or on again."""
    _allowed(page, "manage")
    user = await _user(session, user_id, page)
    if user is None:
        return refusal(page, 404, "error.not_found")
    if page.user is not None and user.id == page.user.id:  # an admin never locks themselves out
        return refusal(page, 403, "error.forbidden")
    user.active = not user.active
    await session.commit()
    page.runtime.poke()
    return redirect(page, "/admin/users")


@router.post("/admin/users/{user_id}/revoke")
async def revoke_user(user_id: int, page: Posted, session: SessionDep) -> Response:
    """End the user's API tokens and page sessions (a lost phone, a leaked token)."""
    _allowed(page, "manage")
    assert page.actor is not None
    user = await _user(session, user_id, page)
    if user is None:
        return refusal(page, 404, "error.not_found")
    await auth.revoke(session, user.name, page.actor)
    await session.commit()
    return redirect(page, "/admin/users?revoked=1")


@router.post("/admin/users/{user_id}/unlock")
async def unlock_user(user_id: int, page: Posted, session: SessionDep) -> Response:
    """Let a user whose name was being guessed sign in again, from anywhere."""
    _allowed(page, "manage")
    user = await _user(session, user_id, page)
    if user is None:
        return refusal(page, 404, "error.not_found")
    await throttle.unlock(session, user.name)
    await session.commit()
    return redirect(page, "/admin/users")


async def cases_page(page: Page, session: AsyncSession, *, status: int = 200, errors: dict[str, str] | None = None,
                     failed: int | str | None = None) -> Response:
    assert page.actor is not None
    query = overview.visible(
        select(AccountabilityCase, Incident.title, Obligation.key, Obligation.title)
        .join(Incident, Incident.id == AccountabilityCase.incident_id)
        .join(Obligation, Obligation.id == AccountabilityCase.obligation_id),
        page.actor, AccountabilityCase.department_id)
    cases = (await session.execute(query.order_by(AccountabilityCase.decision != Decision.PENDING,
                                                  AccountabilityCase.breached_at.desc()).limit(500))).all()
    names = dict((await session.execute(select(Department.id, Department.name))).all())  # words, not codes
    return render(page, "cases.html", status=status, cases=cases, names=names, errors=errors or {}, failed=failed,
                  title_of=lambda key, title: overview.obligation_title(page.runtime.rules, key, title, page.lang),
                  waivers=await waiver_views.requested(session, page.actor),
                  saved=page.request.query_params.get("saved") if status == 200 else None)


@router.get("/cases")
async def case_list(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "cases")
    return await cases_page(page, session)


@router.post("/cases/{case_id}/decision")
async def decide(case_id: int, page: Posted, session: SessionDep) -> Response:
    _allowed(page, "decide")
    assert page.actor is not None
    if not 0 < case_id <= MAX_ID:
        return refusal(page, 404, "error.not_found")
    form = await page.request.form()
    async def action() -> None:
        body = validate(CaseDecision, {k: v for k in ("decision", "reason") if (v := text(form, k))}, page.t)
        await decide_case(session, case_id, body, page.runtime.clock.now(), page.actor)

    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, "/cases?saved=1")
    return await cases_page(page, session, status=422, errors=errors, failed=case_id)


@router.post("/incidents/{incident_id}/obligations/{key}/waiver")
async def decide_waiver(incident_id: int, key: str, page: Posted, session: SessionDep) -> Response:
    _allowed(page, "waive")
    assert page.actor is not None
    if not 0 < incident_id <= MAX_ID:
        return refusal(page, 404, "error.not_found")
    incident = await session.get(Incident, incident_id)
    if incident is None or not auth.sees_department(page.actor, incident.department_id):
        return refusal(page, 404, "error.not_found")
    form = await page.request.form()

    async def action() -> None:
        body = validate(WaiverDecision, {k: v for k in ("decision", "reason") if (v := text(form, k))}, page.t)
        await waiver_service.decide(session, incident_id, key, body.decision, body.reason,
                                    page.runtime.clock.now(), page.actor.name, page.runtime.rules)

    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, "/cases?saved=waiver")
    return await cases_page(page, session, status=422, errors=errors, failed=f"waiver-{incident_id}-{key}")
