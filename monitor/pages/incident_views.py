"""Registering an incident and everything done to it afterwards: correct the
start time or severity, record a milestone, close. Each action goes through
the same service functions and request bodies as the API, commits, and then
wakes the scheduler, as the API handlers do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import incidents
from monitor.actors import Actor
from monitor.auth import sees_department
from monitor.deps import MAX_ID, SessionDep
from monitor.errors import ErrorCode, NotFound
from monitor.models import Department, Incident
from monitor.pages import overview
from monitor.pages.auth import Posted, SignedIn
from monitor.pages.forms import (
    local_time,
    optional,
    save,
    text,
    validate,
)
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render
from monitor.schemas import CloseRequest, IncidentCreate, IncidentPatch, MilestoneCreate
from rules.vocabulary import Severity

router = APIRouter(route_class=PageRoute)
SEVERITIES: tuple[Severity, ...] = tuple(Severity)
SAVED = ("registered", "corrected", "milestone", "closed")


def _allowed(page: Page, action: str) -> None:
    if not page.may(action):
        raise PageExit(refusal(page, 403, "error.forbidden"))


async def _departments(session: AsyncSession, actor: Actor | None) -> list[Department]:
    """The departments an incident may be registered for: a scoped user's district's only."""
    found = (await session.exec(select(Department).order_by(Department.supervisory, Department.code))).scalars()
    return [d for d in found if actor is None or actor.in_district(d.id)]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what the form left empty, so the schema reports it as missing."""
    return {k: v for k, v in values.items() if v not in ("", None)}


@router.get("/incidents/new")
async def new_incident(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "register")
    values = {"title": "", "severity": "", "department": "", "description": "", "location": "",
              "occurred_at": page.local_input(page.runtime.clock.now())}
    return render(page, "incident_new.html", values=values, errors={},
                  departments=await _departments(session, page.actor), severities=SEVERITIES)


@router.post("/incidents/new")
async def register(page: Posted, session: SessionDep) -> Response:
    _allowed(page, "register")
    assert page.actor is not None
    form = await page.request.form()
    values = {name: text(form, name) for name in
              ("title", "severity", "occurred_at", "department", "description", "location")}
    runtime = page.runtime

    async def action() -> int:
        data = validate(IncidentCreate, _present(
            values | {"occurred_at": values["occurred_at"]
                      and local_time(values["occurred_at"], runtime.settings.zone)}),
            page.t)
        return (await incidents.register(session, data, runtime.rules, runtime.clock.now(), page.actor)).id

    incident_id, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, f"/incidents/{incident_id}?saved=registered")
    return render(page, "incident_new.html", status=422, values=values, errors=errors,
                  departments=await _departments(session, page.actor), severities=SEVERITIES)


async def _visible_incident(page: Page, session: AsyncSession, incident_id: int) -> Incident:
    assert page.actor is not None
    try:
        if not 0 < incident_id <= MAX_ID:
            raise NotFound(f"no incident {incident_id}", code=ErrorCode.INCIDENT_UNKNOWN,
                           params={"incident_id": incident_id})
        incident = await incidents.get_incident(session, incident_id)
    except NotFound:
        raise PageExit(refusal(page, 404, "error.not_found")) from None
    if not page.actor.in_district(incident.department_id):  # another district's: as if it did not exist
        raise PageExit(refusal(page, 404, "error.not_found"))
    if not sees_department(page.actor, incident.department_id):
        raise PageExit(refusal(page, 403, "error.other_department"))
    return incident


async def _incident_page(page: Page, session: AsyncSession, incident: Incident, *, status: int = 200,
                         form: str | None = None, errors: dict[str, str] | None = None,
                         values: dict[str, str] | None = None) -> Response:
    view = (await overview.views(session, [incident]))[0]
    now = page.runtime.clock.now()
    defaults = {
        "correct": {"occurred_at": page.local_input(incident.occurred_at), "severity": incident.severity, "reason": ""},
        "milestone": {"obligation": "", "at": page.local_input(now), "evidence_url": "", "note": ""},
        "close": {"reason": ""},
    }
    if form is not None and values is not None:
        defaults[form] = values
    saved = page.request.query_params.get("saved")
    return render(page, "incident.html", status=status, view=view, incident=view.incident,
                  messages=await overview.messages(session, incident.id, page.actor),
                  entries=await overview.timeline(session, incident.id),
                  open_obligations=[o for o in view.incident.obligations if o.state in overview.UNMET],
                  title_of=lambda o: overview.obligation_title(page.runtime.rules, o.key, o.title, page.lang),
                  form=form, errors=errors or {}, values=defaults, severities=SEVERITIES,
                  saved=saved if saved in SAVED else None)


@router.get("/incidents/{incident_id}")
async def show(incident_id: int, page: SignedIn, session: SessionDep) -> Response:
    return await _incident_page(page, session, await _visible_incident(page, session, incident_id))


async def _acting(page: Page, session: AsyncSession, incident_id: int, action: str) -> tuple[Incident, object]:
    """The incident a form acts on, once the actor may see it and do ``action``, and the form."""
    incident = await _visible_incident(page, session, incident_id)
    _allowed(page, action)
    assert page.actor is not None
    return incident, await page.request.form()


async def _act(page: Page, session: AsyncSession, incident_id: int, form_name: str, values: dict[str, str],
               action: Callable[[], Awaitable[None]], saved: str) -> Response:
    """Run one action; on success commit, wake the scheduler and show the incident again."""
    _, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, f"/incidents/{incident_id}?saved={saved}")
    incident = await _visible_incident(page, session, incident_id)  # read again: the rollback expired it
    return await _incident_page(page, session, incident, status=422, form=form_name, errors=errors, values=values)


@router.post("/incidents/{incident_id}/correct")
async def correct(incident_id: int, page: Posted, session: SessionDep) -> Response:
    incident, form = await _acting(page, session, incident_id, "correct")
    values = {name: text(form, name) for name in ("occurred_at", "severity", "reason")}
    body: dict[str, Any] = {"reason": values["reason"]}
    # Only what was changed: the field shows whole minutes, and an untouched one must not move the clock.
    if values["occurred_at"] and values["occurred_at"] != page.local_input(incident.occurred_at):
        body["occurred_at"] = local_time(values["occurred_at"], page.runtime.settings.zone)
    if values["severity"] != incident.severity:
        body["severity"] = values["severity"]

    async def action() -> None:
        patch = validate(IncidentPatch, _present(body), page.t)
        await incidents.correct(session, incident_id, patch, page.runtime.rules, page.runtime.clock.now(), page.actor)

    return await _act(page, session, incident_id, "correct", values, action, "corrected")


@router.post("/incidents/{incident_id}/milestone")
async def milestone(incident_id: int, page: Posted, session: SessionDep) -> Response:
    _, form = await _acting(page, session, incident_id, "milestone")
    values = {name: text(form, name) for name in ("obligation", "at", "evidence_url", "note")}

    async def action() -> None:
        data = validate(MilestoneCreate, _present({
            "obligation": values["obligation"], "evidence_url": optional(form, "evidence_url"),
            "note": optional(form, "note"),
            "at": values["at"] and local_time(values["at"], page.runtime.settings.zone)}), page.t)
        await incidents.record_milestone(session, incident_id, data, page.runtime.clock.now(), page.actor)

    return await _act(page, session, incident_id, "milestone", values, action, "milestone")


@router.post("/incidents/{incident_id}/close")
async def close(incident_id: int, page: Posted, session: SessionDep) -> Response:
    _, form = await _acting(page, session, incident_id, "close")
    values = {"reason": text(form, "reason")}

    async def action() -> None:
        data = validate(CloseRequest, _present(values), page.t)
        await incidents.close(session, incident_id, data.reason, page.runtime.rules, page.runtime.clock.now(),
                              page.actor)

    return await _act(page, session, incident_id, "close", values, action, "closed")
