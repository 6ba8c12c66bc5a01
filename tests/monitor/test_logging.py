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


def _logged(capsys, log_format: str, emit) -> str:  # noqa: ANN001
    configure_logging(log_format, "INFO")
    try:
        emit()
    finally:
        configure_logging("console", "INFO")
    return capsys.readouterr().err


def _raise_with_contacts() -> None:
    raise ValueError("cannot reach +8613800000001 or wang@emb.example.org")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_crash_traceback_and_an_exception_field_are_masked(capsys, log_format):
    def emit() -> None:
        log = structlog.get_logger("t")
        try:
            _raise_with_contacts()
        except ValueError as exc:
            log.exception("crashed")
            log.error("send_failed", error=exc, cause=[exc])

    out = _logged(capsys, log_format, emit)
    assert "Traceback" in out and "_raise_with_contacts" in out and "send_failed" in out
    assert "13800000001" not in out and "wang@" not in out
    assert out.count("+86138****0001") >= 3 and "w***@emb.example.org" in out


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_web_server_crash_report_through_standard_logging_is_masked(capsys, log_format):
    import logging

    def emit() -> None:
        try:
            _raise_with_contacts()
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

    out = _logged(capsys, log_format, emit)
    assert "Exception in ASGI application" in out and "uvicorn.error" in out and "ValueError" in out
    assert "13800000001" not in out and "wang@" not in out and "+86138****0001" in out


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_sql_parameters_of_an_integrity_error_are_masked(capsys, runtime, log_format):
    from sqlalchemy.exc import IntegrityError

    from monitor.models import Contact

    try:
        async with runtime.sessions() as session:  # no department 999: the foreign key refuses the row
            session.add(Contact(department_id=999, name="王局长", role="head", mobile="+8613800000001",
                                email="wang@emb.example.org"))
            await session.commit()
    except IntegrityError as exc:
        error = exc
    assert "+8613800000001" in str(error)  # SQLAlchemy quotes the parameters

    def emit() -> None:
        try:
            raise error
        except IntegrityError as exc:
            structlog.get_logger("t").exception("save_failed", error=exc)

    out = _logged(capsys, log_format, emit)
    assert "[parameters:" in out and "IntegrityError" in out
    assert "13800000001" not in out and "wang@" not in out and "+86138****0001" in out
