"""No silent gap (issue 12 item 2): a step whose recipients resolve to nobody is
recorded on the timeline, counted in a metric and shown in red; a step that
reaches nobody at all is `undeliverable`, not `fired`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pages_support import add_incident, page_client, signed_in
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from support import hours, retire_contacts

from monitor.models import EscalationStep, Notification, TimelineEntry
from tests.conftest import START

FINAL_WARNING = START + hours(5) - timedelta(minutes=30)


@pytest.fixture
async def pages(runtime):
    async with page_client(runtime) as client:
        yield client


async def run_at(runtime, clock, moment):
    clock.set(moment)
    while await runtime.scheduler.run_once():
        pass


async def entries(runtime, incident_id: int) -> list[TimelineEntry]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                                        .order_by(TimelineEntry.id))).scalars())


def card(board: str, incident_id: int) -> str:
    return board.split(f'href="/incidents/{incident_id}"', 1)[1].split("</li>", 1)[0]


async def test_a_step_that_reaches_nobody_is_undeliverable_counted_and_shown_in_red(pages, client, runtime):
    await retire_contacts(runtime, "HEALTH")  # its only contact, the head, has left
    incident_id = await add_incident(runtime, START - hours(1), department="HEALTH")
    await runtime.scheduler.run_once()

    async with runtime.sessions() as session:
        step = (await session.exec(select(EscalationStep).where(EscalationStep.kind == "registered"))).scalars().one()
        sent = (await session.exec(select(Notification))).scalars().all()
    assert (step.state, sent) == ("undeliverable", [])
    timeline = await entries(runtime, incident_id)
    assert "step_fired" not in [e.kind for e in timeline]
    [gap] = [e.detail for e in timeline if e.kind == "step_undeliverable"]
    assert (gap["step"], gap["obligation"], gap["groups"], gap["reached"]) == ("registered", None, ["head"], [])

    metrics = {(s.labels["department"], s.labels["obligation"]): s.value
               for family in text_string_to_metric_families((await client.get("/metrics")).text)
               for s in family.samples if s.name == "sunclock_steps_undeliverable_total"}
    assert metrics[("HEALTH", "")] == 1 and metrics[("EMB", "")] == 0
    assert metrics[("HEALTH", "authoritative_release")] == 0

    await signed_in(pages, "duty")
    shown = card((await pages.get("/")).text, incident_id)
    assert "提醒无法送达任何人" in shown and "尚未发送提醒" not in shown
    assert "<strong>无人可送达</strong>: 事件登记 · 主要负责人" in shown
    assert 'class="card unreached"' in (await pages.get("/")).text
    page = (await pages.get(f"/incidents/{incident_id}")).text
    assert 'class="alert error" role="alert" id="unreached"' in page
    assert "事件登记: 主要负责人 — 提醒无法送达任何人" in " ".join(page.split())


async def test_without_a_supervisory_office_the_final_warning_records_whom_it_missed(pages, runtime, clock):
    await retire_contacts(runtime, "GOV")  # nobody left in the supervisory office
    incident_id = await add_incident(runtime, START)
    await run_at(runtime, clock, FINAL_WARNING - timedelta(seconds=30))  # prepared ahead, as usual
    await run_at(runtime, clock, FINAL_WARNING)

    async with runtime.sessions() as session:
        step = (await session.exec(select(EscalationStep).where(
            EscalationStep.kind == "final_warning", EscalationStep.obligation_key == "authoritative_release"))
        ).scalars().one()
        told = (await session.exec(select(Notification.recipient_name).where(
            Notification.step_id == step.id))).scalars().all()
    assert step.state == "fired" and sorted(set(told)) == ["李副局长", "王局长"]
    assert step.unreached_groups == "supervisors"
    gaps = [e.detail for e in await entries(runtime, incident_id) if e.kind == "step_undeliverable"]
    assert [(g["step"], g["obligation"], g["groups"], g["reached"]) for g in gaps] == [
        ("final_warning", "authoritative_release", ["supervisors"], ["李副局长", "王局长"])]

    await signed_in(pages, "duty")
    shown = " ".join(card((await pages.get("/")).text, incident_id).split())
    assert "<strong>无人可送达</strong>: 最后预警 · 发布权威信息 · 督查单位" in shown
    assert "最新提醒: 最后预警" in shown  # the others were told
    metrics = (await pages.get("/metrics")).text
    assert ('sunclock_steps_undeliverable_total{department="EMB",district="default",'
            'obligation="authoritative_release"} 1.0') in metrics


async def test_a_department_without_deputies_is_noted_but_not_flagged_in_red(pages, runtime, clock):
    incident_id = await add_incident(runtime, START - hours(4), department="HEALTH")  # HEALTH has no deputy
    await runtime.scheduler.run_once()  # the warning, to head and deputies
    gaps = [e.detail for e in await entries(runtime, incident_id) if e.kind == "step_undeliverable"]
    assert [(g["step"], g["groups"], g["reached"]) for g in gaps] == [("warning", ["deputies"], ["张局长"])]
    await signed_in(pages, "duty")
    assert "无人可送达" not in card((await pages.get("/")).text, incident_id)
    metrics = (await pages.get("/metrics")).text
    assert ('sunclock_steps_undeliverable_total{department="HEALTH",district="default",'
            'obligation="authoritative_release"} 0.0') in metrics
