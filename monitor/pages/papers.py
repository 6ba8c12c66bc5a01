"""Papers for supervisors on the pages: the compliance report with its chart and
CSV, and the draft notice of a case. Both come from the same functions as the
API's (monitor/reports.py, monitor/notices.py), so the figures cannot differ."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import districts, notices, reports
from monitor.deps import MAX_ID, SessionDep
from monitor.errors import ErrorCode, Forbidden, NotFound, SunclockError
from monitor.models import District
from monitor.pages import overview
from monitor.pages.auth import SignedIn
from monitor.pages.render import Page, PageExit, PageRoute, refusal, render
from monitor.pages.render import _finish as finish  # headers and cookies of a page, on a non-template answer

router = APIRouter(route_class=PageRoute)
DEFAULT_DAYS = 30
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _allowed(page: Page, action: str) -> None:
    if not page.may(action):
        raise PageExit(refusal(page, 403, "error.forbidden"))


@router.get("/cases/{case_id}/notice")
async def case_notice(case_id: int, page: SignedIn, session: SessionDep) -> Response:
    """The same document as ``GET /api/v1/cases/{id}/notice``, for a signed-in person."""
    _allowed(page, "cases")
    assert page.actor is not None
    try:
        if not 0 < case_id <= MAX_ID:
            raise NotFound(f"no case {case_id}", code=ErrorCode.CASE_UNKNOWN, params={"case_id": case_id})
        facts = await notices.case_facts(session, case_id, page.actor)
    except NotFound:
        return refusal(page, 404, "error.not_found")
    except Forbidden:
        return refusal(page, 403, "error.other_department")
    html = notices.render(facts, page.runtime.settings.zone, page.runtime.clock.now(), back_href="/cases")
    return finish(page, HTMLResponse(html, headers={"Cache-Control": "no-store"}))


@dataclass
class Period:
    """The local dates a person picked; the report covers [first 00:00, last + 1 day 00:00) local time."""

    first: date
    last: date
    errors: dict[str, str]

    def bounds(self, page: Page) -> tuple[datetime, datetime]:
        zone = page.runtime.settings.zone
        return (datetime.combine(self.first, time(), zone),
                datetime.combine(self.last + timedelta(days=1), time(), zone))


def _period(page: Page) -> Period:
    today = page.runtime.clock.now().astimezone(page.runtime.settings.zone).date()
    default = Period(today - timedelta(days=DEFAULT_DAYS - 1), today, {})
    errors: dict[str, str] = {}
    picked = {}
    for name, fallback in (("from", default.first), ("to", default.last)):
        typed = page.request.query_params.get(name, "").strip()
        try:
            picked[name] = date.fromisoformat(typed) if typed else fallback
        except ValueError:
            errors[name] = page.t("err.date")
            continue
        if not EARLIEST <= picked[name] <= LATEST:
            errors[name] = page.t("err.date_range")
    if not errors and picked["from"] > picked["to"]:
        errors["from"] = page.t("err.period")
    if errors:
        return Period(default.first, default.last, errors)
    return Period(picked["from"], picked["to"], {})


@dataclass
class Bar:
    label: str
    rate: float | None
    note: str
    y: int


CHART_ROW = 34
CHART_LABEL = 170
CHART_BAR = 360


def chart(report: reports.ComplianceReport, page: Page) -> dict:
    """Positions of a horizontal bar per department (SVG, drawn by the template): the on-time rate,
    and beside it what the rate leaves out (deadlines still running, waived)."""
    bars = []
    for i, d in enumerate(report.departments):
        notes = []
        if d.pending:
            notes.append(page.t("report.note_pending", n=d.pending))
        if d.waived:
            notes.append(page.t("report.note_waived", n=d.waived))
        if d.on_time_rate is None:
            notes.insert(0, page.t("report.no_rate"))
        bars.append(Bar(d.name, d.on_time_rate, "，".join(notes), 24 + i * CHART_ROW))
    longest = max((len(b.note) for b in bars), default=0)
    return {"bars": bars, "height": 24 + max(1, len(bars)) * CHART_ROW + 8, "label": CHART_LABEL,
            "bar": CHART_BAR, "width": CHART_LABEL + CHART_BAR + 72 + 13 * longest, "row": CHART_ROW}


async def _district(page: Page, session: AsyncSession) -> tuple[District | None, dict[str, str]]:
    """The district picked (``?district=``), a scoped user's own, or all; an unknown one is an error."""
    assert page.actor is not None
    try:
        return await districts.report_scope(session, page.actor, page.request.query_params.get("district")), {}
    except Forbidden:
        raise PageExit(refusal(page, 403, "error.forbidden")) from None
    except SunclockError as exc:
        return await districts.report_scope(session, page.actor, None), {"district": page.t(exc.code, **exc.params)}


@router.get("/reports")
async def report_page(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "report")
    period = _period(page)
    start, end = period.bounds(page)
    district, problems = await _district(page, session)
    report = await reports.compliance(session, start, end, district=district)
    query = f"from={period.first.isoformat()}&to={period.last.isoformat()}"
    if district is not None:
        query += f"&district={district.code}"
    errors = period.errors | problems
    several = await districts.many(session)
    return render(page, "reports.html", status=422 if errors else 200, report=report, period=period,
                  errors=errors, chart=chart(report, page), csv_href=f"/reports/compliance.csv?{query}",
                  districts=[(d.code, d.name) for d in await districts.list_public(session, page.actor)]
                  if several else [], district=district.code if district else "",
                  typed={k: page.request.query_params.get(k, "") for k in ("from", "to")},
                  title_of=lambda o: overview.obligation_title(page.runtime.rules, o.key, o.title, page.lang))


@router.get("/reports/compliance.csv")
async def report_csv(page: SignedIn, session: SessionDep) -> Response:
    _allowed(page, "report")
    period = _period(page)
    if period.errors:
        return refusal(page, 422, "err.invalid")
    district, problems = await _district(page, session)
    if problems:
        return refusal(page, 422, "err.invalid")
    report = await reports.compliance(session, *period.bounds(page), district=district)
    filename = reports.csv_filename(report, page.runtime.settings.zone)
    return finish(page, Response(reports.to_csv(report).encode("utf-8"), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                          "Cache-Control": "no-store"}))
