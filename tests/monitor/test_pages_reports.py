"""The compliance report page (/reports, SPEC §11.6): a period picker, the
per-department table, an SVG chart, a CSV download; its figures are the API's."""

from __future__ import annotations

import csv
import io
import re

import pytest
from pages_support import add_incident, page_client, sign_in
from support import bearer, hours

from tests.conftest import ADMIN_TOKEN, START

# START is 10:00 on 2026-11-28 in Asia/Shanghai.
API = bearer(ADMIN_TOKEN)
ROW = re.compile(r'<tr data-department="(\w+)" data-rate="([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-col="(\w+)">(?:<strong>)?([^<]*)')


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def _incidents(runtime, pages) -> None:
    """EMB: one release on time, one breached, one outside the period; HEALTH: one still running."""
    on_time = await add_incident(runtime, START - hours(2), title="按时发布")
    response = await pages.post(f"/api/v1/incidents/{on_time}/milestones", headers=API, json={
        "obligation": "authoritative_release", "at": (START - hours(1)).isoformat()})
    assert response.status_code == 201, response.text
    await add_incident(runtime, START - hours(6), title="超时未发布")
    await add_incident(runtime, START - hours(1), department="HEALTH", title="卫生事件")
    await add_incident(runtime, START - hours(24 * 40), title="期间之外")


def _table(html: str) -> dict[str, dict[str, str]]:
    return {code: {"data-rate": rate} | dict(CELL.findall(cells)) for code, rate, cells in ROW.findall(html)}


async def test_the_page_shows_the_figures_the_api_gives_for_the_same_period(runtime, pages):
    await _incidents(runtime, pages)
    await sign_in(pages, "supervisor")
    page = await pages.get("/reports", params={"from": "2026-11-27", "to": "2026-11-28"})
    assert page.status_code == 200, page.text
    api = (await pages.get("/api/v1/reports/compliance", headers=API, params={
        "from": "2026-11-27T00:00:00+08:00", "to": "2026-11-29T00:00:00+08:00"})).json()
    shown = _table(page.text)
    assert set(shown) == {d["department"] for d in api["departments"]} == {"GOV", "EMB", "HEALTH"}
    for department in api["departments"]:
        row = shown[department["department"]]
        for column in ("incidents", "met", "met_late", "breached", "pending", "waived"):
            assert int(row[column]) == department[column], (department["department"], column)
        rate = department["on_time_rate"]
        assert row["data-rate"] == ("" if rate is None else str(rate))
        assert row["on_time_rate"].strip() == ("—" if rate is None else f"{rate * 100:.1f}%")
    emb = next(d for d in api["departments"] if d["department"] == "EMB")
    # Pending: the two press conferences and the first update after the release (keep_publishing#1).
    assert (emb["incidents"], emb["met"], emb["breached"], emb["pending"], emb["on_time_rate"]) == (2, 1, 1, 3, 0.5)
    assert "超时未发布" in page.text and "期间之外" not in page.text  # incidents listed under their department


async def test_the_page_draws_the_on_time_rates_as_an_svg_chart(runtime, pages):
    await _incidents(runtime, pages)
    await sign_in(pages, "supervisor")
    html = (await pages.get("/reports")).text
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg
    bars = re.findall(r'<g class="bar" data-department="([^"]+)">(.*?)</g>', svg, re.S)
    assert [name for name, _ in bars] == ["区应急管理局", "区政务公开办", "区卫生健康局"]
    emb = dict(bars)["区应急管理局"]
    assert 'width="180.0"' in emb and "50.0%" in emb  # half of the 360-unit track
    assert "另有 3 项进行中" in emb  # the rate never hides what is still running
    assert "暂无已有结果的时限" in dict(bars)["区卫生健康局"]
    assert "<script" not in html.replace('<script src="/static/sunclock.js" defer></script>', "")


async def test_a_hundred_percent_is_shown_with_the_deadline_still_running(runtime, pages):
    done = await add_incident(runtime, START - hours(2), department="HEALTH", title="按时发布")
    response = await pages.post(f"/api/v1/incidents/{done}/milestones", headers=API, json={
        "obligation": "authoritative_release", "at": (START - hours(1)).isoformat()})
    assert response.status_code == 201, response.text
    await sign_in(pages, "supervisor")
    html = (await pages.get("/reports")).text
    row = next(cells for code, _, cells in ROW.findall(html) if code == "HEALTH")
    rate = row[row.index('data-col="on_time_rate"'):]
    assert "100.0%" in rate and "另有 2 项进行中" in rate  # the press conference and the first update


async def test_the_period_defaults_to_the_last_30_days_in_local_time(runtime, pages):
    await sign_in(pages, "supervisor")
    html = (await pages.get("/reports")).text
    assert 'id="from" name="from" type="date" value="2026-10-30"' in html
    assert 'id="to" name="to" type="date" value="2026-11-28"' in html
    assert 'href="/reports/compliance.csv?from=2026-10-30&amp;to=2026-11-28"' in html


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"from": "2026-13-01"}, "from", "请填写有效日期"),
    ({"to": "1999-12-31"}, "to", "2000 年至 2100 年"),
    ({"from": "2026-11-28", "to": "2026-11-01"}, "from", "起始日期不能晚于截止日期"),
])
async def test_a_bad_period_is_refused_next_to_its_field(runtime, pages, query, field, message):
    await sign_in(pages, "supervisor")
    page = await pages.get("/reports", params=query)
    assert page.status_code == 422
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page.text)
    assert found and message in found.group(1)


async def test_the_csv_download_is_the_api_csv_with_a_byte_order_mark(runtime, pages):
    await _incidents(runtime, pages)
    await sign_in(pages, "supervisor")
    download = await pages.get("/reports/compliance.csv", params={"from": "2026-11-27", "to": "2026-11-28"})
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == 'attachment; filename="sunclock-compliance-20261127-20261128.csv"'
    api = await pages.get("/api/v1/reports/compliance", headers=API, params={
        "from": "2026-11-27T00:00:00+08:00", "to": "2026-11-29T00:00:00+08:00", "format": "csv"})
    assert download.content == api.content
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert next(r for r in rows if r["department"] == "HEALTH")["name"] == "区卫生健康局"


async def test_only_supervisors_and_admins_see_the_report_and_its_menu_entry(runtime, pages):
    for name, status in (("duty", 403), ("emb-head", 403), ("supervisor", 200), ("admin", 200)):
        await sign_in(pages, name)
        board = (await pages.get("/")).text
        assert ('href="/reports"' in board) == (status == 200), name
        assert (await pages.get("/reports")).status_code == status, name
        assert (await pages.get("/reports/compliance.csv")).status_code == status, name
    pages.cookies.clear()
    assert (await pages.get("/reports")).status_code == 303


async def test_the_report_page_prints_on_a4_without_the_menu(runtime, pages):
    await sign_in(pages, "supervisor")
    css = (await pages.get("/static/sunclock.css")).text
    printing = css[css.index("@media print"):]
    assert "size: A4" in css and ".top" in printing and ".no-print" in printing
    html = (await pages.get("/reports", params={"lang": "en"})).text
    assert "On-time rate by department" in html and '<html lang="en">' in html


async def test_the_page_gives_the_figures_of_each_kind_of_matter(runtime, pages):
    await _incidents(runtime, pages)
    response = await pages.post("/api/v1/incidents", headers=API, json={
        "title": "政府信息公开申请", "kind": "disclosure_request", "department": "EMB",
        "occurred_at": (START - hours(1)).isoformat()})
    assert response.status_code == 201, response.text
    await sign_in(pages, "supervisor")
    page = await pages.get("/reports", params={"from": "2026-11-27", "to": "2026-11-28"})
    rows = dict(re.findall(r'<tr data-kind="(\w+)">\s*<th scope="row">([^<]+)<', page.text))
    assert rows == {"emergency": "突发事件 ", "public_opinion": "政务舆情 ", "disclosure_request": "依申请公开 "}
    assert "依申请公开答复" in page.text
