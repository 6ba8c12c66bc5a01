"""The draft circulated notice (通报, SPEC §11.6) of an accountability case: a
printable page written from the case's stored facts, for the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.actors import Actor
from monitor.auth import sees_department
from monitor.errors import ErrorCode, Forbidden, NotFound
from monitor.models import AccountabilityCase, Department, Incident, Obligation
from monitor.pages.render import env
from monitor.terms import SEVERITY as SEVERITY_WORDS
from monitor.terms import chinese
from rules.vocabulary import UNMET, Decision, ObligationState, WaiverState

# A notice is a formal document: apart from the severities, its wording differs from the pages'.
SEVERITY = chinese(SEVERITY_WORDS)
DECISION = {Decision.PENDING: "待定", Decision.NOTICE: "通报批评", Decision.SUMMONS: "约谈",
            Decision.WAIVED: "免予问责"}
STATE = {ObligationState.PENDING: "尚未完成", ObligationState.MET: "按时完成", ObligationState.MET_LATE: "逾期完成",
         ObligationState.BREACHED: "超时未完成", ObligationState.WAIVED: "已免除",
         "cancelled": "已取消"}  # stored by versions before waivers
WAIVER = {WaiverState.REQUESTED: "已申请免除，待督查决定", WaiverState.GRANTED: "已批准免除",
          WaiverState.REFUSED: "免除申请已驳回"}


@dataclass
class CaseFacts:
    case: AccountabilityCase
    incident: Incident
    department: Department
    obligation: Obligation
    issuer: str | None  # the supervisory department, which circulates the notice


async def case_facts(session: AsyncSession, case_id: int, actor: Actor) -> CaseFacts:
    """Everything the notice says; a department head reads their own department's only."""
    row = (await session.execute(
        select(AccountabilityCase, Incident, Department, Obligation)
        .join(Incident, Incident.id == AccountabilityCase.incident_id)
        .join(Department, Department.id == AccountabilityCase.department_id)
        .join(Obligation, Obligation.id == AccountabilityCase.obligation_id)
        .where(AccountabilityCase.id == case_id))).first()
    if row is None or not actor.in_district(row[0].department_id):
        raise NotFound(f"no case {case_id}", code=ErrorCode.CASE_UNKNOWN, params={"case_id": case_id})
    case, incident, department, obligation = row
    if not sees_department(actor, case.department_id):
        raise Forbidden("this case belongs to another department", code=ErrorCode.CASE_OTHER_DEPARTMENT)
    # The supervisory office of the case's district issues it (SPEC §14.1).
    issuer = (await session.execute(select(Department.name).where(
        Department.supervisory.is_(True), Department.district_id == department.district_id)
        .order_by(Department.id).limit(1))).scalar()
    return CaseFacts(case, incident, department, obligation, issuer)


def local(at: datetime | None, zone: ZoneInfo) -> str:
    """A time as a Chinese document writes it, in the local zone, without naming the zone."""
    if at is None:
        return ""
    t = at.astimezone(zone)
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} 天" if days else "", f"{hours} 小时" if hours else "", f"{minutes} 分钟" if minutes else ""]
    return " ".join(p for p in parts if p) or "不足 1 分钟"


def render(facts: CaseFacts, zone: ZoneInfo, now: datetime, *, back_href: str | None = None) -> str:
    """The notice as one self-contained HTML document (its styles inline, for printing on A4)."""
    case, obligation = facts.case, facts.obligation
    waiver_state = getattr(obligation, "waiver_state", None)
    unmet = obligation.fulfilled_at is None and obligation.state in UNMET
    return env.get_template("notice.html").render(
        facts=facts, case=case, incident=facts.incident, department=facts.department, obligation=obligation,
        when=lambda at: local(at, zone), severity=SEVERITY.get(facts.incident.severity, facts.incident.severity),
        decision=DECISION.get(case.decision, case.decision), state=STATE.get(obligation.state, obligation.state),
        late_by=duration(obligation.fulfilled_at - obligation.due_at) if obligation.fulfilled_at else None,
        overdue_for=duration(now - obligation.due_at) if unmet and now >= obligation.due_at else None,
        waiver=WAIVER.get(waiver_state) if waiver_state else None,
        waiver_reason=getattr(obligation, "waiver_reason", None),
        breach_withdrawn=bool(getattr(case, "breach_withdrawn", False)),
        today=local(now, zone).split(" ")[0], back_href=back_href)
