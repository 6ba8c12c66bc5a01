"""The compliance report supervisors pull (SPEC §6, §11.6): per department, how its
major incidents' deadlines were kept over a period, with each incident listed.

The on-time rate is ``met / rated``. ``rated`` counts the obligations whose
outcome is settled: met, met late, breached, and waived after a breach (a
breach stays on record when a waiver follows it). Obligations still running
(``pending``) and those waived before their deadline are not in the rate;
they are counted next to it, so a 100 % never hides an open duty.

Each kind of matter (SPEC §13.1: emergencies, public-opinion matters,
disclosure requests) has its own legal clock, so each department's figures
are also given per kind (``by_kind``), and the whole period's per kind
(``kinds``); ``kind`` narrows the report to one of them.
"""

from __future__ import annotations

import csv
import io
import statistics
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.models import Department, District, Incident, Obligation
from rules.vocabulary import MatterKind, ObligationState

RELEASE = "authoritative_release"
DEFAULT_DISTRICT = "default"  # monitor.districts.DEFAULT_CODE
CSV_BOM = "\ufeff"  # Excel on Chinese Windows reads a CSV without it as GBK


class ObligationOutcome(BaseModel):
    key: str
    title: str
    state: str
    due_at: datetime
    fulfilled_at: datetime | None
    breached_at: datetime | None
    waiver_state: str | None = None  # requested | granted | refused, once waivers exist


class IncidentCompliance(BaseModel):
    id: int
    title: str
    kind: str  # a MatterKind
    severity: str
    state: str
    occurred_at: datetime
    obligations: list[ObligationOutcome]


class KindCompliance(BaseModel):
    """One kind of matter's deadlines: how many, and how many kept."""

    kind: str  # a MatterKind
    incidents: int = 0
    obligations: int = 0
    met: int = 0
    met_late: int = 0
    breached: int = 0
    pending: int = 0
    waived: int = 0
    rated: int = 0
    on_time_rate: float | None = None

    def add(self, state: str, breached_at: datetime | None) -> None:
        self.obligations += 1
        if state in (ObligationState.MET, ObligationState.MET_LATE, ObligationState.BREACHED,
                     ObligationState.PENDING, ObligationState.WAIVED):
            setattr(self, state, getattr(self, state) + 1)
        self.rated += state == ObligationState.MET or settled_late(state, breached_at)
        self.on_time_rate = round(self.met / self.rated, 4) if self.rated else None

    def merge(self, other: KindCompliance) -> None:
        for name in ("incidents", "obligations", "met", "met_late", "breached", "pending", "waived", "rated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.on_time_rate = round(self.met / self.rated, 4) if self.rated else None


class DepartmentCompliance(BaseModel):
    department: str
    name: str
    district: str = "default"  # SPEC §14.2: the report is grouped by district, then department
    incidents: int
    met: int
    met_late: int
    breached: int
    pending: int = 0
    waived: int = 0
    obligations: int = 0  # all of them, whatever their state
    rated: int = 0  # the on-time rate's denominator (see the module's docstring)
    on_time_rate: float | None  # met / rated; None with nothing settled yet
    median_time_to_release_seconds: float | None
    states: dict[str, int] = Field(default_factory=dict)  # every stored state, counted
    by_kind: dict[str, KindCompliance] = Field(default_factory=dict)  # the kinds it had in the period
    incident_list: list[IncidentCompliance] = Field(default_factory=list)
    _release_times: list[float] = PrivateAttr(default_factory=list)

    @property
    def unmet(self) -> int:
        """Duties still owed: running, or breached and not yet done."""
        return self.pending + self.breached


class DistrictCompliance(BaseModel):
    """A district's departments added up (SPEC §14.2)."""

    district: str
    name: str
    departments: int
    incidents: int
    met: int
    met_late: int
    breached: int
    pending: int
    waived: int
    obligations: int
    rated: int
    on_time_rate: float | None
    median_time_to_release_seconds: float | None


class ComplianceReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    kind: str | None = None  # the one kind reported on, or None for all
    departments: list[DepartmentCompliance]  # by district, then department
    kinds: list[KindCompliance] = Field(default_factory=list)  # every kind, over all departments
    district: str | None = None  # the one district asked for, if any
    districts: list[DistrictCompliance] = Field(default_factory=list)


def settled_late(state: str, breached_at: datetime | None) -> bool:
    """Counts against the on-time rate."""
    return state in (ObligationState.MET_LATE, ObligationState.BREACHED) or (
        state == ObligationState.WAIVED and breached_at is not None)


INCIDENT_COLUMNS = (Incident.id, Incident.department_id, Incident.title, Incident.kind, Incident.severity,
                    Incident.state, Incident.occurred_at)
# Read as columns, not entities: a month of a whole city's incidents is loaded in a second or two.
OBLIGATION_COLUMNS = tuple(getattr(Obligation, name) for name in (
    "incident_id", "key", "title", "state", "due_at", "fulfilled_at", "breached_at", "waiver_state")
    if hasattr(Obligation, name))


async def compliance(session: AsyncSession, start: datetime, end: datetime, kind: str | None = None, *,
                     district: District | None = None) -> ComplianceReport:
    """Incidents that occurred in [start, end) (of ``kind`` only, when given), per
    department (of ``district`` if given), grouped by district, with the state of
    each deadline."""
    district_rows = {d.id: d for d in (await session.exec(select(District))).scalars()}
    query = select(Department)
    if district is not None:
        query = query.where(Department.district_id == district.id)
    departments = list((await session.exec(query)).scalars())
    code_of = {d.id: district_rows[d.district_id].code if d.district_id in district_rows else DEFAULT_DISTRICT
               for d in departments}
    departments.sort(key=lambda d: (code_of[d.id] != DEFAULT_DISTRICT, code_of[d.id], d.code))
    in_period = (Incident.occurred_at >= start, Incident.occurred_at < end,
                 Incident.department_id.in_([d.id for d in departments] or [-1]),
                 *((Incident.kind == kind,) if kind is not None else ()))
    found = (await session.execute(select(*INCIDENT_COLUMNS).where(*in_period)
                                   .order_by(Incident.occurred_at, Incident.id))).mappings().all()
    by_incident: dict[int, list[Any]] = {i["id"]: [] for i in found}
    for row in (await session.execute(
            select(*OBLIGATION_COLUMNS).join(Incident, Incident.id == Obligation.incident_id).where(*in_period)
            .order_by(Obligation.due_at, Obligation.id))).mappings():
        by_incident[row["incident_id"]].append(row)
    by_department: dict[int, list[Any]] = {d.id: [] for d in departments}
    for incident in found:
        by_department.setdefault(incident["department_id"], []).append(incident)
    rows = [_department(d, by_department[d.id], by_incident, code_of[d.id]) for d in departments]
    names = {d.code: d.name for d in district_rows.values()}
    return ComplianceReport(from_=start, to=end, kind=kind, departments=rows, kinds=_kinds(rows, kind),
                            district=district.code if district else None, districts=_districts(rows, names))


def _kinds(rows: list[DepartmentCompliance], only: str | None) -> list[KindCompliance]:
    totals = {k: KindCompliance(kind=k) for k in MatterKind if only is None or k == only}
    for row in rows:
        for kind, tally in row.by_kind.items():
            totals.setdefault(kind, KindCompliance(kind=kind)).merge(tally)
    return list(totals.values())


def _districts(rows: list[DepartmentCompliance], names: dict[str, str]) -> list[DistrictCompliance]:
    grouped: dict[str, list[DepartmentCompliance]] = {}
    for row in rows:
        grouped.setdefault(row.district, []).append(row)
    summaries = []
    for code, members in grouped.items():
        totals = {key: sum(getattr(m, key) for m in members)
                  for key in ("incidents", "met", "met_late", "breached", "pending", "waived", "obligations", "rated")}
        releases = [t for m in members for t in m._release_times]
        summaries.append(DistrictCompliance(
            district=code, name=names.get(code, code), departments=len(members), **totals,
            on_time_rate=round(totals["met"] / totals["rated"], 4) if totals["rated"] else None,
            median_time_to_release_seconds=statistics.median(releases) if releases else None))
    return summaries


def _department(department: Department, found: list[Any], by_incident: dict[int, list[Any]],
                district: str = "default") -> DepartmentCompliance:
    states: dict[str, int] = {}
    rated = met = 0
    release_times: list[float] = []
    listed = []
    by_kind: dict[str, KindCompliance] = {}
    for incident in found:
        outcomes = []
        tally = by_kind.setdefault(incident["kind"], KindCompliance(kind=incident["kind"]))
        tally.incidents += 1
        for o in by_incident[incident["id"]]:
            state = o["state"]
            tally.add(state, o["breached_at"])
            states[state] = states.get(state, 0) + 1
            if state == ObligationState.MET:
                met += 1
                rated += 1
            elif settled_late(state, o["breached_at"]):
                rated += 1
            if o["key"] == RELEASE and o["fulfilled_at"] is not None:
                release_times.append((o["fulfilled_at"] - incident["occurred_at"]).total_seconds())
            outcomes.append(ObligationOutcome.model_validate(dict(o)))
        listed.append(IncidentCompliance(**incident, obligations=outcomes))
    row = DepartmentCompliance(
        department=department.code, name=department.name, district=district, incidents=len(found),
        met=states.get(ObligationState.MET, 0), met_late=states.get(ObligationState.MET_LATE, 0),
        breached=states.get(ObligationState.BREACHED, 0), pending=states.get(ObligationState.PENDING, 0),
        waived=states.get(ObligationState.WAIVED, 0), obligations=sum(states.values()),
        rated=rated, on_time_rate=round(met / rated, 4) if rated else None,
        median_time_to_release_seconds=statistics.median(release_times) if release_times else None,
        states=dict(sorted(states.items())), by_kind=dict(sorted(by_kind.items())), incident_list=listed)
    row._release_times = release_times
    return row


# The first eight columns are those of earlier versions, in their order.
CSV_HEADER = ("department", "name", "incidents", "met", "met_late", "breached", "on_time_rate",
              "median_time_to_release_seconds", "pending", "waived", "obligations", "rated", "district")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a name Excel would run as a formula
    return value


def to_csv(report: ComplianceReport) -> str:
    """One row per department, UTF-8 text starting with a byte-order mark."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.departments:
        writer.writerow([_cell(getattr(row, column)) for column in CSV_HEADER])
    return out.getvalue()


def csv_filename(report: ComplianceReport, zone: Any) -> str:
    # ``to`` is exclusive: a period ending at midnight ends on the day before.
    first, last = (t.astimezone(zone).strftime("%Y%m%d") for t in (report.from_, report.to - timedelta(microseconds=1)))
    return f"sunclock-compliance-{first}-{last}.csv"
