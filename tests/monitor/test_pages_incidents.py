"""The board, the register form and the incident page's forms, in Chinese,
with the same refusals as the API and nothing half-written."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pages_support import add_incident, count, error_of, page_client, post, signed_in
from sqlalchemy import select
from support import hours

from monitor import acks
from monitor.db import transaction
from monitor.models import Incident, Notification, Obligation, TimelineEntry
from monitor.pages.render import countdown
from tests.conftest import START  # 10:00 in Asia/Shanghai

VALID = {"title": "白蕉镇化工厂爆炸", "severity": "I", "department": "EMB", "occurred_at": "2026-11-28T09:30",
         "location": "白蕉镇工业园", "description": "厂区储罐爆炸，伤亡不明。"}

@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


def countdown_of(html: str, key: str) -> tuple[str, str]:
    row = html.split(f'id="obligation-{key}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(r'class="countdown (\w+)"[^>]*>.*?class="cd-time">([^<]+)<', row, re.DOTALL)
    assert found, row
    return found.group(2), found.group(1)


async def obligations(runtime, incident_id: int) -> dict[str, Obligation]:
    async with runtime.sessions() as session:
        rows = (await session.exec(select(Obligation).where(Obligation.incident_id == incident_id))).scalars()
        return {o.key: o for o in rows}


async def test_the_register_form_reads_local_time_and_opens_the_incident_page(pages, runtime):
    pokes = []
    runtime.poke = lambda: pokes.append(1)
    csrf = await signed_in(pages, "duty")
    form = await pages.get("/incidents/new")
    assert 'type="datetime-local" value="2026-11-28T10:00"' in form.text  # now, in Asia/Shanghai
    response = await post(pages, "/incidents/new", csrf, **VALID)
    assert response.status_code == 303 and pokes == [1]
    incident_id = int(re.fullmatch(r"/incidents/(\d+)\?saved=registered", response.headers["location"]).group(1))
    async with runtime.sessions() as session:
        incident = await session.get(Incident, incident_id)
    assert incident.occurred_at == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
    assert incident.registered_by == "duty" and incident.location == "白蕉镇工业园"
    page = await pages.get(response.headers["location"])
    assert "事件已登记，时限开始计算。" in page.text
    assert "2026-11-28 14:30" in page.text  # the release is due at 14:30 local time
    assert countdown_of(page.text, "authoritative_release") == ("4:30:00", "ok")
    assert countdown_of(page.text, "press_conference") == ("23:30:00", "ok")


async def test_each_problem_is_named_next_to_its_field_in_chinese_and_nothing_is_saved(pages, runtime):
    csrf = await signed_in(pages, "duty")
    empty = await post(pages, "/incidents/new", csrf, title="  ", occurred_at="")
    assert empty.status_code == 422
    assert "请修改下面标出的内容。" in empty.text
    for field in ("title", "severity", "occurred_at", "department"):
        assert error_of(empty.text, field) == "此项必填。", field
    cases = [
        ({"occurred_at": "yesterday"}, "occurred_at", "请填写有效的日期和时间。"),
        ({"occurred_at": "2026-11-28T10:06"}, "occurred_at", "发生时间不能晚于当前时间 5 分钟以上。"),
        ({"department": "NOPE"}, "department", "没有这个责任单位。"),
        ({"department": "1NOPE"}, "department", "以字母开头，只含字母、数字、- 或 _，最多 32 位。"),
        ({"severity": "V"}, "severity", "请选择一个有效选项。"),
        ({"title": "长" * 201}, "title", "不能超过 200 个字符。"),
    ]
    for change, field, message in cases:
        response = await post(pages, "/incidents/new", csrf, **(VALID | change))
        assert response.status_code == 422, change
        assert error_of(response.text, field) == message, change
        assert 'value="白蕉镇工业园"' in response.text  # what was typed is kept
    assert await count(runtime, Incident) == await count(runtime, TimelineEntry) == 0


async def test_the_countdown_turns_amber_within_the_hour_and_red_counting_up_when_overdue(pages, runtime, clock):
    incident_id = await add_incident(runtime, START - hours(4.5))
    await signed_in(pages, "duty")
    page = await pages.get(f"/incidents/{incident_id}")
    assert countdown_of(page.text, "authoritative_release") == ("0:30:00", "soon")
    assert f'data-due="{(START + hours(0.5)).isoformat()}"' in page.text
    assert f'data-server-now="{START.isoformat()}"' in page.text
    clock.advance(minutes=31, seconds=5)
    page = await pages.get(f"/incidents/{incident_id}")
    assert countdown_of(page.text, "authoritative_release") == ("+0:01:05", "overdue")


async def test_the_board_lists_open_incidents_most_urgent_first_with_latest_message_and_acknowledgements(
        pages, runtime):
    later = await add_incident(runtime, START - hours(1), title="台风致城区严重内涝")
    urgent = await add_incident(runtime, START - hours(4), title="学校食堂集体食物中毒", department="HEALTH",
                                severity="II")
    await add_incident(runtime, START, title="国道货车侧翻", severity="III")
    while await runtime.scheduler.run_once():
        pass
    async with transaction(runtime.sessions) as session:
        sent = (await session.exec(select(Notification).where(Notification.incident_id == later)
                                   .order_by(Notification.id))).scalars().first()
        target = await acks.load_target(session, sent.step_id, sent.contact_id)
        await acks.acknowledge(session, target, "link", START)
    await signed_in(pages, "duty")
    board = " ".join((await pages.get("/")).text.split())
    assert board.index("学校食堂集体食物中毒") < board.index("台风致城区严重内涝") < board.index("国道货车侧翻")
    assert board.index(f'href="/incidents/{urgent}"') < board.index(f'href="/incidents/{later}"')
    assert "最新提醒: 事件登记 · " in board and "已发送" in board
    assert "已签收: 王局长 (10:00)" in board
    assert "本级别事件无发布时限要求。" in board
    assert 'data-refresh-url="/board/fragment"' in board
    fragment = (await pages.get("/board/fragment")).text
    assert fragment.lstrip().startswith('<div class="board"') and "<html" not in fragment
    assert "学校食堂集体食物中毒" in fragment
    incident = (await pages.get(f"/incidents/{later}")).text
    assert "已签收</span> 2026-11-28 10:00" in incident and "+8613800000001" in incident


async def test_recording_the_release_shows_it_met_and_wakes_the_scheduler(pages, runtime):
    incident_id = await add_incident(runtime, START - hours(2))
    csrf = await signed_in(pages, "duty")
    pokes = []
    runtime.poke = lambda: pokes.append(1)
    response = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
                          at="2026-11-28T09:45", evidence_url="https://www.doumen.gov.cn/release/1", note="官网首发")
    assert response.status_code == 303 and pokes == [1]
    release = (await obligations(runtime, incident_id))["authoritative_release"]
    assert release.state == "met" and release.fulfilled_at == datetime(2026, 11, 28, 1, 45, tzinfo=UTC)
    assert release.recorded_by == "duty"
    page = (await pages.get(response.headers["location"])).text
    row = page.split('id="obligation-authoritative_release"', 1)[1].split("</tr>", 1)[0]
    assert "按时完成" in row and "countdown" not in row and "官网首发" in row


async def test_a_refused_milestone_says_why_next_to_the_field_and_records_nothing(pages, runtime):
    incident_id = await add_incident(runtime, START - hours(2))
    csrf = await signed_in(pages, "duty")
    cases = [
        ({"at": "2026-11-28T10:30"}, "milestone-at", "完成时间不能晚于当前时间。"),
        ({"at": "2026-11-28T07:00"}, "milestone-at", "完成时间不能早于事件发生时间。"),
        ({"at": ""}, "milestone-at", "此项必填。"),
        ({"evidence_url": "ftp://files.example/1"}, "milestone-evidence", "请填写以 http:// 或 https:// 开头的链接。"),
        ({"obligation": "press_release"}, "milestone-obligation", "请选择一个有效选项。"),
    ]
    for change, field_id, message in cases:
        data = {"obligation": "authoritative_release", "at": "2026-11-28T09:45"} | change
        response = await post(pages, f"/incidents/{incident_id}/milestone", csrf, **data)
        assert response.status_code == 422, change
        assert error_of(response.text, field_id) == message, change
    assert all(o.state == "pending" for o in (await obligations(runtime, incident_id)).values())
    done = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
                      at="2026-11-28T09:45")
    assert done.status_code == 303
    again = await post(pages, f"/incidents/{incident_id}/milestone", csrf, obligation="authoritative_release",
                       at="2026-11-28T09:50")
    assert again.status_code == 422 and "该时限要求已记录过。" in again.text


async def test_a_correction_needs_a_reason_and_moves_the_deadlines(pages, runtime):
    incident_id = await add_incident(runtime, START - hours(1))
    csrf = await signed_in(pages, "duty")
    unchanged = await post(pages, f"/incidents/{incident_id}/correct", csrf, occurred_at="2026-11-28T09:00",
                           severity="I", reason="核对")
    assert unchanged.status_code == 422 and "请修改发生时间或级别。" in unchanged.text
    no_reason = await post(pages, f"/incidents/{incident_id}/correct", csrf, occurred_at="2026-11-28T08:00",
                           severity="I", reason="")
    assert no_reason.status_code == 422 and error_of(no_reason.text, "correct-reason") == "此项必填。"
    assert (await obligations(runtime, incident_id))["authoritative_release"].due_at == START + hours(4)
    done = await post(pages, f"/incidents/{incident_id}/correct", csrf, occurred_at="2026-11-28T08:00",
                      severity="I", reason="经核实，事故发生于 8 时")
    assert done.status_code == 303
    assert (await obligations(runtime, incident_id))["authoritative_release"].due_at == START + hours(3)
    page = (await pages.get(done.headers["location"])).text
    assert "更正已保存。" in page and "经核实，事故发生于 8 时" in page


async def test_closing_needs_a_reason(pages, runtime):
    incident_id = await add_incident(runtime, START - hours(1))
    csrf = await signed_in(pages, "duty")
    refused = await post(pages, f"/incidents/{incident_id}/close", csrf, reason=" ")
    assert refused.status_code == 422 and error_of(refused.text, "close-reason") == "此项必填。"
    closed = await post(pages, f"/incidents/{incident_id}/close", csrf, reason="误报，已核实无事故")
    assert closed.status_code == 303
    async with runtime.sessions() as session:
        assert (await session.get(Incident, incident_id)).state == "closed"
    # Closing discharges nothing: the duties stay owed, with a waiver requested,
    # and the incident stays on the board until a supervisor decides.
    assert {(o.state, o.waiver_state) for o in (await obligations(runtime, incident_id)).values()} == {
        ("pending", "requested")}
    assert "白蕉镇化工厂爆炸" in (await pages.get("/")).text


async def test_a_department_head_sees_and_acts_on_their_own_department_only(pages, runtime):
    own = await add_incident(runtime, START - hours(1), title="本局事件")
    other = await add_incident(runtime, START - hours(1), title="卫健事件", department="HEALTH")
    csrf = await signed_in(pages, "emb-head")
    board = (await pages.get("/")).text
    assert "本局事件" in board and "卫健事件" not in board
    assert (await pages.get(f"/incidents/{other}")).status_code == 403
    refused = await post(pages, f"/incidents/{other}/milestone", csrf, obligation="authoritative_release",
                         at="2026-11-28T09:45")
    assert refused.status_code == 403 and "该事件属于其他单位。" in refused.text
    assert (await obligations(runtime, other))["authoritative_release"].state == "pending"
    page = (await pages.get(f"/incidents/{own}")).text
    assert "记录完成情况" in page and "结束事件" not in page and "更正发生时间或级别" not in page
    assert (await pages.get("/incidents/new")).status_code == 403
    assert (await post(pages, f"/incidents/{own}/close", csrf, reason="x")).status_code == 403
    assert (await post(pages, "/incidents/new", csrf, **VALID)).status_code == 403
    recorded = await post(pages, f"/incidents/{own}/milestone", csrf, obligation="authoritative_release",
                          at="2026-11-28T09:45")
    assert recorded.status_code == 303
    assert await count(runtime, Incident) == 2


async def test_a_supervisor_reads_every_department_but_does_not_register(pages, runtime):
    await add_incident(runtime, START - hours(1), title="本局事件")
    other = await add_incident(runtime, START - hours(1), title="卫健事件", department="HEALTH")
    await signed_in(pages, "supervisor")
    board = (await pages.get("/")).text
    assert "本局事件" in board and "卫健事件" in board and 'href="/incidents/new"' not in board
    page = await pages.get(f"/incidents/{other}")
    assert page.status_code == 200 and "记录完成情况" not in page.text
    assert (await pages.get("/incidents/999999")).status_code == 404
    assert (await pages.get("/incidents/99999999999")).status_code == 404


async def test_the_outbox_shows_stored_messages_to_those_who_may_see_them(pages, runtime):
    await add_incident(runtime, START - hours(1), title="本局事件")
    await add_incident(runtime, START - hours(1), title="卫健事件", department="HEALTH")
    while await runtime.scheduler.run_once():
        pass
    await signed_in(pages, "duty")
    outbox = (await pages.get("/outbox")).text
    assert outbox.count('class="message"') == 4  # the registered notice, SMS and email, to each head
    assert "王局长 &lt;+8613800000001&gt;" in outbox and "张局长 &lt;zhang@health.example.org&gt;" in outbox
    assert "本局事件" in outbox and "短信" in outbox and "邮件" in outbox
    await signed_in(pages, "emb-head")
    own = (await pages.get("/outbox")).text
    assert own.count('class="message"') == 2 and "卫健事件" not in own


def test_countdown_text_and_colour_match_what_the_browser_shows():
    # The same arithmetic runs every second in static/sunclock.js.
    cases = [
        (hours(4.5), ("4:30:00", "ok")),
        (hours(1), ("1:00:00", "ok")),
        (hours(1) - timedelta(seconds=1), ("0:59:59", "soon")),
        (timedelta(0), ("0:00:00", "soon")),
        (-timedelta(seconds=1), ("+0:00:01", "overdue")),
        (-hours(25.5), ("+25:30:00", "overdue")),
        (hours(72) - timedelta(seconds=1), ("71:59:59", "ok")),
        (hours(72), ("3d 00:00:00", "ok")),  # a reply due in working days: days apart
        (hours(24 * 19 + 8) + timedelta(minutes=21, seconds=27), ("19d 08:21:27", "ok")),
        (-hours(24 * 4 + 1), ("+4d 01:00:00", "overdue")),
    ]
    for left, expected in cases:
        assert countdown(START + left, START) == expected, left


async def test_the_register_form_takes_the_kind_and_the_pages_name_its_duty(pages, runtime):
    csrf = await signed_in(pages, "duty")
    form = await pages.get("/incidents/new")
    assert '<select id="kind" name="kind"' in form.text
    assert '<option value="disclosure_request">依申请公开 — 依申请公开答复</option>' in form.text
    response = await post(pages, "/incidents/new", csrf, title="关于环评材料的公开申请", kind="disclosure_request",
                          department="EMB", occurred_at="2026-11-28T09:30")
    assert response.status_code == 303, error_of(response.text, "severity")
    page = await pages.get(response.headers["location"])
    assert "事项类型" in page.text and "依申请公开" in page.text and "依申请公开答复" in page.text
    assert "2026-12-25 23:59" in page.text  # the 20th working day after 28 November, Asia/Shanghai
    opinion = await post(pages, "/incidents/new", csrf, title="网传化工厂排污", kind="public_opinion",
                         severity="III", department="EMB", occurred_at="2026-11-28T09:30")
    assert opinion.status_code == 303
    board = (await pages.get("/")).text
    assert "政务舆情 · 舆情回应" in board and "依申请公开 · 依申请公开答复" in board
    emergency = await post(pages, "/incidents/new", csrf, **(VALID | {"kind": "emergency", "severity": ""}))
    assert emergency.status_code == 422 and error_of(emergency.text, "severity") == "此项必填。"
    async with runtime.sessions() as session:
        kinds = sorted((await session.exec(select(Incident.kind))).scalars())
    assert kinds == ["disclosure_request", "public_opinion"]
