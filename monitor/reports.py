"""The compliance report supervisors pull (SPEC §6): per department, how its
major incidents' deadlines were kept over a period."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.models import Department, Incident, Obligation

RELEASE = "authoritative_release"


class DepartmentCompliance(BaseModel):
    department: str
    name: str
    incidents: int
    met: int
    met_late: int
    breached: int
    on_time_rate: float | None  # met / (met + met_late + breached); None with nothing decided yet
    median_time_to_release_seconds: float | None


class ComplianceReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    departments: list[DepartmentCompliance]


async def compliance(session: AsyncSession, start: datetime, end: datetime) -> ComplianceReport:
    """Incidents that occurred in [start, end); a deadline counts as breached if it
    was ever breached and never met (met late keeps its own column)."""
    departments = list((await session.exec(select(Department).order_by(Department.code))).scalars())
    incidents = dict((await session.execute(select(Incident.id, Incident.department_id).where(
        Incident.occurred_at >= start, Incident.occurred_at < end))).all())
    occurred = dict((await session.execute(select(Incident.id, Incident.occurred_at).where(
        Incident.id.in_(incidents)))).all()) if incidents else {}
    counts: dict[int, dict[str, int]] = {d.id: {"met": 0, "met_late": 0, "breached": 0} for d in departments}
    release_times: dict[int, list[float]] = {d.id: [] for d in departments}
    rows = (await session.execute(select(Obligation.incident_id, Obligation.key, Obligation.state,
                                         Obligation.fulfilled_at).where(Obligation.incident_id.in_(incidents)))
            ).all() if incidents else []
    for incident_id, key, state, fulfilled_at in rows:
        department_id = incidents[incident_id]
        if state in counts[department_id]:
            counts[department_id][state] += 1
        if key == RELEASE and fulfilled_at is not None:
            release_times[department_id].append((fulfilled_at - occurred[incident_id]).total_seconds())
    per_department = []
    for department in departments:
        c = counts[department.id]
        decided = c["met"] + c["met_late"] + c["breached"]
        times = release_times[department.id]
        per_department.append(DepartmentCompliance(
            department=department.code, name=department.name,
            incidents=sum(1 for d in incidents.values() if d == department.id), **c,
            on_time_rate=round(c["met"] / decided, 4) if decided else None,
            median_time_to_release_seconds=statistics.median(times) if times else None))
    return ComplianceReport(from_=start, to=end, departments=per_department)


CSV_HEADER = ("department", "name", "incidents", "met", "met_late", "breached", "on_time_rate",
              "median_time_to_release_seconds")


def to_csv(report: ComplianceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report.departments:
        writer.writerow(["" if (v := getattr(row, column)) is None else v for column in CSV_HEADER])
    return out.getvalue()
