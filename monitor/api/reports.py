"""Papers for supervisors: the compliance report and the draft notice of a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from monitor import districts, notices, reports
from monitor.actors import Actor
from monitor.api.responses import json_errors_of_html_route
from monitor.deps import ClockDep, Id, RuntimeDep, SessionDep, allowed
from monitor.errors import ErrorCode, Invalid
from monitor.schemas import Code, UtcTime
from rules.vocabulary import MatterKind

router = APIRouter()
DEFAULT_PERIOD = timedelta(days=30)


@router.get("/reports/compliance", response_model=reports.ComplianceReport, response_model_by_alias=True,
            tags=["reports"], responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                               "description": "the report, as JSON or CSV"}})
async def compliance(session: SessionDep, clock: ClockDep, runtime: RuntimeDep,
                     actor: Annotated[Actor, allowed("report")],
                     start: Annotated[UtcTime | None, Query(alias="from")] = None,
                     end: Annotated[UtcTime | None, Query(alias="to")] = None,
                     kind: MatterKind | None = None,
                     format: Literal["json", "csv"] = "json",  # noqa: A002
                     district: Annotated[Code | None, Query()] = None) -> Response | reports.ComplianceReport:
    """By district, then department (of ``district`` only, if named; a user scoped to a district
    gets theirs): incidents that occurred in [from, to) (default: the last 30 days), their
    deadlines met / met late / breached / pending / waived, the on-time rate (met over settled
    deadlines), the median time to the release, and each incident with its deadlines' states;
    the same figures per kind of matter (``by_kind``, and ``kinds`` over all departments), or
    for one kind only with ``kind``. The CSV starts with a byte-order mark, so that Excel reads it as UTF-8."""
    end = end or clock.now()
    start = start or end - DEFAULT_PERIOD
    if start >= end:
        raise Invalid("'from' must be before 'to'", field="from", where="query", code=ErrorCode.PERIOD_REVERSED)
    chosen = await districts.report_scope(session, actor, district)
    report = await reports.compliance(session, start, end, kind, district=chosen)
    if format == "csv":
        filename = reports.csv_filename(report, runtime.settings.zone)
        return Response(reports.to_csv(report).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return report


@router.get("/cases/{case_id}/notice", response_class=HTMLResponse, tags=["cases"],
            responses=json_errors_of_html_route(401, 403, 404, 413, 422, 503))
async def case_notice(case_id: Id, session: SessionDep, runtime: RuntimeDep,
                      actor: Annotated[Actor, allowed("cases")]) -> HTMLResponse:
    """A printable draft circulated notice (通报, Chinese, A4) from the case's facts: department,
    incident, deadline, breach time, when the duty was done, and the decision with its reason."""
    facts = await notices.case_facts(session, case_id, actor)
    html = notices.render(facts, runtime.settings.zone, runtime.clock.now())
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
