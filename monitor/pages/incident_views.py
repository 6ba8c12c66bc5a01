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

from monitor import extension, incidents, withdrawals
from monitor.actors import Actor
from monitor.auth import sees_contacts, sees_department
from monitor.deps import MAX_ID, SessionDep
from monitor.errors import ErrorCode, NotFound
from monitor.models import Contact, Department, Incident
from monitor.pages import overview
from monitor.pages.auth import Posted, SignedIn
from monitor.pages.forms import (
    FormInvalid,
    local_time,
    optional,
    save,
    text,
    validate,
)
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render
from monitor.pages.sentences import Speaker
from monitor.schemas import (
    CloseRequest,
    ExtensionRequest,
    IncidentCreate,
    IncidentPatch,
    MilestoneCreate,
    MilestoneWithdrawal,
)
from rules.vocabulary import MatterKind, Severity

router = APIRouter(route_class=PageRoute)
SEVERITIES: tuple[Severity, ...] = tuple(Severity)
KINDS: tuple[MatterKind, ...] = tuple(MatterKind)
SAVED = ("registered", "corrected", "milestone", "closed", "withdrawn", "extended")


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
    # No default time: "now" would quietly start the legal clock at the moment of reporting.
    values = {"title": "", "kind": MatterKind.EMERGENCY, "severity": "", "department": "", "description": "",
              "location": "", "occurred_at": "", "late_ok": ""}
    return render(page, "incident_new.html", values=values, errors={},
                  departments=await _departments(session, page.actor), severities=SEVERITIES, kinds=KINDS,
                  late=False, **_clock_facts(page))


def _clock_facts(page: Page) -> dict[str, object]:
    """What the form's script needs to warn of a late registration before it is sent."""
    return {"now_local": page.local_input(page.runtime.clock.now()),
            "late_seconds": int(incidents.LATE_REGISTRATION.total_seconds())}


def _check_late(page: Page, data: IncidentCreate, confirmed: bool) -> None:
    """A time more than an hour ago is asked about once: a mistyped day would breach at once."""
    late_by = page.runtime.clock.now() - data.occurred_at
    if late_by > incidents.LATE_REGISTRATION and not confirmed:
        raise FormInvalid({"occurred_at": page.t("new.late_confirm", ago=_hours(late_by.total_seconds(), page.lang))})


def _hours(seconds: float, lang: str) -> str:
    hours, minutes = divmod(int(seconds) // 60, 60)
    if lang == "zh":
        return (f"{hours} 小时 " if hours else "") + f"{minutes} 分钟"
    return (f"{hours} h " if hours else "") + f"{minutes} min"


@router.post("/incidents/new")
async def register(page: Posted, session: SessionDep) -> Response:
    _allowed(page, "register")
    assert page.actor is not None
    form = await page.request.form()
    values = {name: text(form, name) for name in
              ("title", "kind", "severity", "occurred_at", "department", "description", "location", "late_ok")}
    runtime = page.runtime

    async def action() -> int:
        data = validate(IncidentCreate, _present(
            {k: v for k, v in values.items() if k != "late_ok"}
            | {"occurred_at": values["occurred_at"] and local_time(values["occurred_at"], runtime.settings.zone)}),
            page.t)
        _check_late(page, data, values["late_ok"] == "1")
        return (await incidents.register(session, data, runtime.rules, runtime.clock.now(), page.actor)).id

    incident_id, errors = await save(page, session, action)
    if errors is None:
        return redirect(page, f"/incidents/{incident_id}?saved=registered")
    return render(page, "incident_new.html", status=422, values=values, errors=errors,
                  departments=await _departments(session, page.actor), severities=SEVERITIES, kinds=KINDS,
                  late="occurred_at" in errors and values["late_ok"] != "1", **_clock_facts(page))


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
        "milestone": {"obligation": page.request.query_params.get("record", ""), "at": page.local_input(now),
                      "evidence_url": "", "note": ""},
        "close": {"reason": ""},
        "withdraw": {"obligation": "", "reason": ""},
        "extend": {"obligation": "", "working_days": "", "reason": ""},
    }
    if form is not None and values is not None:
        defaults[form] = values
    saved = page.request.query_params.get("saved")
    return render(page, "incident.html", status=status, view=view, incident=view.incident,
                  messages=await overview.messages(session, incident.id, page.actor),
                  entries=await overview.timeline(session, incident.id),
                  say=await speaker(page, session, view.incident.obligations),
                  contacts=await _contacts(page, session, incident),
                  open_obligations=[o for o in view.incident.obligations if o.state in overview.UNMET],
                  recorded=[o for o in view.incident.obligations if o.fulfilled_at is not None],
                  extendable=overview.extendable(page.runtime.rules, view.incident),
                  title_of=lambda o: overview.obligation_title(page.runtime.rules, o.key, o.title, page.lang),
                  form=form, errors=errors or {}, values=defaults, severities=SEVERITIES,
                  saved=saved if saved in SAVED else None)


async def _contacts(page: Page, session: AsyncSession, incident: Incident) -> list[Contact]:
    """The responsible department's contacts, with tappable numbers, for those who may see them."""
    assert page.actor is not None
    if not sees_contacts(page.actor, incident.department_id):
        return []
    return list((await session.exec(select(Contact).where(
        Contact.department_id == incident.department_id, Contact.retired_at.is_(None))
        .order_by(Contact.role.desc(), Contact.id))).scalars())


async def speaker(page: Page, session: AsyncSession, obligations: list) -> Speaker:
    """What reads the timeline aloud: titles of the rules' and this incident's duties, departments' names."""
    rules = page.runtime.rules
    titles = {o.key: overview.obligation_title(rules, o.key, o.title, page.lang)
              for rule in rules.rules for o in rule.obligations}
    titles |= {o.key: overview.obligation_title(rules, o.key, o.title, page.lang) for o in obligations}
    names = {d.code: d.name for d in await _departments(session, None)}
    return Speaker(page.lang, page.t, titles, names, page.local, page.short)


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
        await incidents.record_milestone(session, incident_id, data, page.runtime.clock.now(), page.actor,
                                         rules=page.runtime.rules)

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


@router.post("/incidents/{incident_id}/withdraw")
async def withdraw(incident_id: int, page: Posted, session: SessionDep) -> Response:
    """A supervisor withdraws a milestone recorded by mistake (the API's milestone/withdrawal)."""
    _, form = await _acting(page, session, incident_id, "withdraw")
    values = {name: text(form, name) for name in ("obligation", "reason")}

    async def action() -> None:
        data = validate(MilestoneWithdrawal, _present({"reason": values["reason"]}), page.t)
        await withdrawals.withdraw_milestone(session, incident_id, values["obligation"], data.reason,
                                             page.runtime.rules, page.runtime.clock.now(), page.actor)

    return await _act(page, session, incident_id, "withdraw", values, action, "withdrawn")


@router.post("/incidents/{incident_id}/extend")
async def extend(incident_id: int, page: Posted, session: SessionDep) -> Response:
    """Extend a deadline once, by working days (SPEC §13.3)."""
    _, form = await _acting(page, session, incident_id, "extend")
    values = {name: text(form, name) for name in ("obligation", "working_days", "reason")}
    runtime = page.runtime

    async def action() -> None:
        data = validate(ExtensionRequest, _present({"working_days": values["working_days"],
                                                    "reason": values["reason"]}), page.t)
        await extension.extend(session, incident_id, values["obligation"], data.working_days, data.reason,
                               runtime.rules, runtime.clock.now(), page.actor.name)

    return await _act(page, session, incident_id, "extend", values, action, "extended")
