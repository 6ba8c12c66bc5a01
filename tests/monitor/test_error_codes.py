"""Errors carry a stable code, and a person reads the catalogue's text for it
(monitor/catalogue.py), never a translation found by matching English words."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from pages_support import add_incident, page_client, post, signed_in
from pydantic import BaseModel, model_validator
from support import hours, register, seed_departments

from monitor import catalogue, incidents
from monitor.errors import Conflict, ErrorCode, InvalidValue, SunclockError
from monitor.pages import i18n
from monitor.pages.forms import FormInvalid, service_errors, validate
from tests.conftest import START

MONITOR = Path(__file__).resolve().parents[2] / "monitor"
# Everything a person may be shown an error by; each is built with a code.
CODED = {"SunclockError", "Invalid", "NotFound", "Conflict", "Forbidden", "InvalidValue", "AckLinkInvalid"}


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(MONITOR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CODED:
                found.append((f"{path.relative_to(MONITOR.parent)}:{node.lineno}", node))
    return found


def _codes_used() -> set[str]:
    """Every ``ErrorCode.NAME`` written anywhere in monitor/."""
    return {node.attr for path in MONITOR.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode"}


def test_every_error_raised_in_monitor_names_a_declared_code():
    calls = _calls()
    assert len(calls) > 40
    for where, call in calls:
        code = next((k.value for k in call.keywords if k.arg == "code"), None)
        assert code is not None, f"{where}: an error without code="
        if isinstance(code, ast.Attribute):  # ErrorCode.NAME (other values are passed on, e.g. exc.code)
            assert isinstance(code.value, ast.Name) and code.value.id == "ErrorCode", where
            assert code.attr in ErrorCode.__members__, f"{where}: ErrorCode.{code.attr} is not declared"


def test_every_code_is_used_somewhere_and_has_a_chinese_and_an_english_text():
    assert {member.name for member in ErrorCode} == _codes_used()
    for code in ErrorCode:
        assert catalogue.ZH.get(code), code
        assert catalogue.EN.get(code), code


def test_both_languages_have_the_same_texts_with_the_same_placeholders():
    assert set(catalogue.ZH) == set(catalogue.EN)

    def names(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, text in catalogue.ZH.items():
        assert names(text) == names(catalogue.EN[key]), key


def test_codes_are_snake_case_and_do_not_shadow_a_page_word():
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", code) for code in ErrorCode)
    assert not set(catalogue.ZH) & (set(i18n.ZH) | set(i18n.EN))


def test_a_text_names_the_params_and_shows_a_missing_one_as_written():
    assert catalogue.phrase(ErrorCode.CASE_UNKNOWN, "en", case_id=7) == "No case 7."
    assert catalogue.phrase(ErrorCode.CASE_UNKNOWN, "zh") == "没有编号为 {case_id} 的问责案件。"
    assert catalogue.phrase(ErrorCode.INCIDENT_CLOSED, "fr") == "事件已结束。"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_the_page_says_the_code_whatever_the_english_message_says(code):
    for wording in ("the wording was changed", "was already recorded", "role must be one of"):
        error = SunclockError(wording, code=code, params={"case_id": 3, "incident_id": 4}, field="at")
        zh = service_errors(error, i18n.translator("zh"))
        en = service_errors(error, i18n.translator("en"))
        assert zh == {"at": catalogue.phrase(code, "zh", case_id=3, incident_id=4)}
        assert en == {"at": catalogue.phrase(code, "en", case_id=3, incident_id=4)}


def test_a_form_refused_by_a_body_validator_shows_its_code_not_its_message():
    class Body(BaseModel):
        severity: str | None = None

        @model_validator(mode="after")
        def _something(self) -> Body:
            raise InvalidValue("any words at all", code=ErrorCode.NOTHING_TO_CORRECT)

    with pytest.raises(FormInvalid) as refused:
        validate(Body, {}, i18n.translator("zh"))
    assert refused.value.errors == {"_form": "请修改发生时间或级别。"}


async def test_rewording_an_error_leaves_the_chinese_page_as_it_was(runtime, monkeypatch):
    class Reworded(Conflict):
        def __init__(self, _message: str, **coded: object):
            super().__init__("an entirely new English sentence", **coded)

    monkeypatch.setattr(incidents, "Conflict", Reworded)
    async with page_client(runtime) as pages:
        incident_id = await add_incident(runtime, START - hours(2))
        csrf = await signed_in(pages, "duty")
        url = f"/incidents/{incident_id}/milestone"
        done = await post(pages, url, csrf, obligation="authoritative_release", at="2026-11-28T09:45")
        assert done.status_code == 303
        again = await post(pages, url, csrf, obligation="authoritative_release", at="2026-11-28T09:50")
    assert again.status_code == 422
    assert "该时限要求已记录过。" in again.text and "entirely new" not in again.text


async def test_the_api_keeps_its_english_message_and_adds_the_code(client):
    await seed_departments(client)
    incident = await register(client, START - hours(1))
    url = f"/api/v1/incidents/{incident['id']}/milestones"
    await client.post(url, json={"obligation": "press_conference", "at": START.isoformat()})
    again = (await client.post(url, json={"obligation": "press_conference", "at": START.isoformat()})).json()
    assert again["detail"].startswith("press_conference was already recorded at ")
    assert again["code"] == "milestone_recorded" and again["params"]["obligation"] == "press_conference"

    future = await client.post(url, json={"obligation": "authoritative_release",
                                          "at": (START + hours(1)).isoformat()})
    item = future.json()["detail"][0]
    assert item == {"loc": ["body", "at"], "msg": "a milestone cannot be in the future", "type": "value_error",
                    "code": "milestone_future"}

    correction = await client.patch(f"/api/v1/incidents/{incident['id']}", json={"reason": "nothing"})
    item = correction.json()["detail"][0]
    assert item["msg"] == "Value error, say what to correct: occurred_at, severity or both"
    assert item["code"] == "nothing_to_correct"

