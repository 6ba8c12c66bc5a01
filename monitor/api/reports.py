"""Reports for supervisors."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from monitor import reports
from monitor.api.deps import ClockDep, SessionDep, allowed
from monitor.errors import Invalid
from monitor.incidents import Actor
from monitor.schemas import UtcTime

router = APIRouter(prefix="/reports", tags=["reports"])
DEFAULT_PERIOD = timedelta(days=30)


@router.get("/compliance", response_model=reports.ComplianceReport, response_model_by_alias=True, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the report, as JSON or CSV"}})
async def compliance(session: SessionDep, clock: ClockDep, actor: Annotated[Actor, allowed("report")],
                     start: Annotated[UtcTime | None, Query(alias="from")] = None,
                     end: Annotated[UtcTime | None, Query(alias="to")] = None,
                     format: Literal["json", "csv"] = "json") -> Response | reports.ComplianceReport:  # noqa: A002
    """Per department: incidents that occurred in [from, to) (default: the last 30 days), their
    deadlines met / met late / breached, the on-time rate and the median time to the release."""
    end = end or clock.now()
    start = start or end - DEFAULT_PERIOD
    if start >= end:
        raise Invalid("'from' must be before 'to'", field="from", where="query")
    report = await reports.compliance(session, start, end)
    if format == "csv":
        return Response(reports.to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="sunclock-compliance.csv"'})
    return report
