"""Structured logs: JSON events with the fields that matter, contacts masked."""

from __future__ import annotations

import json

import pytest
import structlog

from monitor.logging import configure_logging, mask, mask_mobile


@pytest.mark.parametrize(("text", "masked"), [
    ("+8613800000001", "+86138****0001"),
    ("to +8613800000001 and h.wang@emb.example.org", "to +86138****0001 and h***@emb.example.org"),
    ("no contact here", "no contact here"),
])
def test_contacts_are_masked(text, masked):
    assert mask(text) == masked


def test_short_numbers_are_masked_too():
    assert "0001" not in mask_mobile("+1200001")


def test_json_events_carry_fields_and_never_a_full_number(capsys):
    configure_logging("json", "INFO")
    try:
        structlog.get_logger("t").info("step_sent", incident_id=7, step="warning", channel="sms",
                                       to="+8613800000001", detail={"email": "wang@emb.example.org"})
    finally:
        configure_logging("console", "INFO")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event"] == "step_sent" and event["incident_id"] == 7 and event["channel"] == "sms"
    assert event["to"] == "+86138****0001" and event["detail"]["email"] == "w***@emb.example.org"
    assert "13800000001" not in line


async def test_a_scheduler_run_poked_by_a_request_does_not_carry_its_request_id(client, runtime):
    from structlog.testing import capture_logs
    from support import register, seed_departments

    from tests.conftest import START

    await seed_departments(client)
    await runtime.scheduler.start()
    try:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            await register(client, START)  # the API binds a request id, then pokes the scheduler
            await runtime.scheduler._task
    finally:
        await runtime.scheduler.stop()
    fired = [event for event in logs if event["event"] == "step_fired"]
    assert fired and all("request_id" not in event for event in fired), logs
