"""Departments, notifications, the outbox and accountability cases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from monitor import cases, departments, districts
from monitor.actors import Actor
from monitor.api.paging import LIST_RESPONSES, Window, paging
from monitor.auth import scoped, shown_address
from monitor.deps import ClockDep, Id, IdFilter, SessionDep, allowed
from monitor.errors import ErrorCode, Invalid, NotFound
from monitor.models import AccountabilityCase, Contact, Department, Incident, Notification, Obligation
from monitor.schemas import CaseDecision, CasePublic, Code, DepartmentCreate, DepartmentPublic, NotificationPublic
from rules.vocabulary import Decision, Role

router = APIRouter()


@router.post("/departments", status_code=201, response_model=DepartmentPublic, tags=["departments"])
async def create_department(body: DepartmentCreate, session: SessionDep, clock: ClockDep,
                            actor: Annotated[Actor, allowed("manage")]) -> DepartmentPublic:
    saved = await departments.save(session, body, clock.now(), actor=actor)
    return await _saved(session, saved, body)


async def _saved(session, saved: Department, body: DepartmentCreate) -> DepartmentPublic:  # noqa: ANN001
    district = (await districts.codes(session)).get(saved.district_id, districts.DEFAULT_CODE)
    await session.commit()
    return DepartmentPublic(code=body.code, name=body.name, supervisory=body.supervisory,
                            contacts=[c.model_dump() for c in body.contacts], district=district)


@router.put("/departments/{code}", response_model=DepartmentPublic, tags=["departments"])
async def replace_department(code: Annotated[Code, Path()], body: DepartmentCreate, session: SessionDep,
                             clock: ClockDep, actor: Annotated[Actor, allowed("manage")]) -> DepartmentPublic:
    """Rename a department and replace its contacts; later steps go to the new ones."""
    if body.code != code:
        raise Invalid(f"the body's code {body.code!r} is not the department {code!r} in the address", field="code",
                      code=ErrorCode.DEPARTMENT_CODE_MISMATCH, params={"body_code": body.code, "code": code})
    if (await session.exec(select(Department.id).where(Department.code == code))).first() is None:
        raise NotFound(f"no department {code!r}", code=ErrorCode.DEPARTMENT_UNKNOWN, params={"code": code})
    saved = await departments.save(session, body, clock.now(), replace=True, actor=actor)
    return await _saved(session, saved, body)


@router.get("/departments", response_model=list[DepartmentPublic], tags=["departments"], responses=LIST_RESPONSES)
async def list_departments(session: SessionDep, actor: Annotated[Actor, allowed("read")],
                           window: Annotated[Window, paging(1000)],
                           district: Annotated[Code | None, Query()] = None) -> list[DepartmentPublic]:
    """Every department (of ``district`` if named); a user scoped to a district sees its own only."""
    return window.cut(await departments.list_public(session, actor, district))


def _notification_query(actor: Actor, incident_id: int | None):  # noqa: ANN202
    """Notifications with the department of the contact each went to."""
    query = select(Notification, Contact.department_id).join(Contact, Contact.id == Notification.contact_id).order_by(
        Notification.id)
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    if actor.role == Role.DEPARTMENT_HEAD or actor.district_departments is not None:
        query = scoped(query.join(Incident, Incident.id == Notification.incident_id), actor, Incident.department_id)
    return query


@router.get("/notifications", response_model=list[NotificationPublic], tags=["notifications"],
            responses=LIST_RESPONSES)
async def list_notifications(session: SessionDep, actor: Annotated[Actor, allowed("read")],
                             window: Annotated[Window, paging(1000)],
                             incident_id: IdFilter = None) -> list[NotificationPublic]:
    """A department head reads the addresses of their own department's contacts; the others' masked."""
    rows = await window.rows(session, _notification_query(actor, incident_id))
    return [NotificationPublic(**n.model_dump(exclude={"obligation_key", "to"}), obligation=n.obligation_key or None,
                               to=shown_address(actor, department_id, n.to)) for n, department_id in rows]


class OutboxMessage(NotificationPublic):
    recipient_name: str
    subject: str
    body: str


@router.get("/outbox", response_model=list[OutboxMessage], tags=["notifications"], responses=LIST_RESPONSES)
async def outbox(session: SessionDep, actor: Annotated[Actor, allowed("read")],
                 window: Annotated[Window, paging(200)], incident_id: IdFilter = None) -> list[OutboxMessage]:
    """Messages delivered into the outbox because their channel has no provider settings, newest first.
    A department head reads those to their own department's contacts only: a
    message carries its recipient's acknowledgement link."""
    query = _notification_query(actor, incident_id).where(Notification.provider == "outbox")
    if actor.role == Role.DEPARTMENT_HEAD:
        query = query.where(Contact.department_id == actor.department_id)
    rows = await window.rows(session, query.order_by(None).order_by(Notification.id.desc()))
    return [OutboxMessage(**n.model_dump(exclude={"obligation_key"}), obligation=n.obligation_key or None)
            for n, _ in rows]


async def _cases(session, query, window: Window | None = None) -> list[CasePublic]:  # noqa: ANN001
    query = (query.add_columns(Department.code, Obligation.key)
             .join(Department, Department.id == AccountabilityCase.department_id)
             .join(Obligation, Obligation.id == AccountabilityCase.obligation_id))
    rows = await window.rows(session, query) if window else (await session.execute(query)).all()
    return [CasePublic(**case.model_dump(exclude={"department_id", "obligation_id"}), department=code, obligation=key)
            for case, code, key in rows]


@router.get("/cases", response_model=list[CasePublic], tags=["cases"], responses=LIST_RESPONSES)
async def list_cases(session: SessionDep, actor: Annotated[Actor, allowed("cases")],
                     window: Annotated[Window, paging(1000)],
                     state: Literal["pending", "decided"] | None = None) -> list[CasePublic]:
    query = select(AccountabilityCase).order_by(AccountabilityCase.breached_at.desc(), AccountabilityCase.id.desc())
    if state == "pending":
        query = query.where(AccountabilityCase.decision == Decision.PENDING)
    elif state == "decided":
        query = query.where(AccountabilityCase.decision != Decision.PENDING)
    return await _cases(session, scoped(query, actor, AccountabilityCase.department_id), window)


@router.post("/cases/{case_id}/decision", response_model=CasePublic, tags=["cases"])
async def decide_case(case_id: Id, body: CaseDecision, session: SessionDep, clock: ClockDep,
                      actor: Annotated[Actor, allowed("decide")]) -> CasePublic:
    await cases.decide(session, case_id, body, clock.now(), actor)
    await session.commit()
    return (await _cases(session, select(AccountabilityCase).where(AccountabilityCase.id == case_id)))[0]
