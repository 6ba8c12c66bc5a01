"""Every kind of timeline entry reads as a Chinese sentence without internal
keys (issue 19), whatever its details, including kinds without a phrase."""

from __future__ import annotations

import re
from datetime import UTC

import pytest

from monitor.pages.i18n import translator
from monitor.pages.sentences import PHRASES, Speaker
from rules.vocabulary import Channel, Decision, NotificationState, ObligationState, StepKind, TimelineKind

AT = "2026-11-28T02:00:00+00:00"
DETAILS = {
    "obligation": "authoritative_release", "step": "final_warning", "occurrence": 2, "planned_at": AT,
    "due_at": AT, "breached_at": AT, "fulfilled_at": AT, "state": "met_late", "from_state": "met",
    "to_state": "met_late", "decision": "summons", "reason": "误记", "channel": "sms, email", "fallback": "email",
    "recipient": "王局长, 陈主任", "recipients": ["王局长"], "groups": ["head", "supervisors"], "reached": [],
    "via": "sms", "why": "skipped: its obligation is waived", "error": "its accountability case was decided (notice)",
    "attempt": 2, "retry_at": AT, "notifications": 4, "late": True, "detected_late": True, "title": "白蕉镇化工厂爆炸",
    "severity": "I", "department": "EMB", "occurred_at": AT, "obligations": ["authoritative_release",
                                                                              "press_conference"],
    "steps": [{"obligation": None, "step": "registered", "occurrence": 1, "at": AT},
              {"obligation": "press_conference", "step": "overdue", "occurrence": 3, "at": AT}],
    "was": "met", "steps_cancelled": 3, "late_registration": True, "late_by": 7300,
}
KEYS = {"authoritative_release", "press_conference"} | {m.value for e in (
    StepKind, ObligationState, NotificationState, Decision, TimelineKind, Channel) for m in e}


def speaker(lang: str = "zh") -> Speaker:
    local = lambda at: at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    titles = {"authoritative_release": "发布权威信息", "press_conference": "举行新闻发布会"}
    return Speaker(lang, translator(lang), titles, {"EMB": "区应急管理局"}, local, local)


@pytest.mark.parametrize("kind", [*TimelineKind, "extended"])
def test_every_kind_reads_without_keys(kind):
    said = speaker().sentence(kind, DETAILS)
    found = [k for k in KEYS if re.search(rf"(?<![A-Za-z_]){k}(?![A-Za-z_])", said)]
    assert found == [] and said, (kind, said)


def test_every_timeline_kind_has_a_phrase_in_both_languages():
    assert set(TimelineKind) <= set(PHRASES)
    assert all(zh and en for zh, en in PHRASES.values())


def test_a_late_registration_says_by_how_much():
    said = speaker().sentence(TimelineKind.REGISTERED, {"title": "台风", "severity": "II", "department": "EMB",
                                                        "occurred_at": AT, "late_registration": True, "late_by": 7300})
    assert said == ("登记事件「台风」：重大（II 级），责任单位区应急管理局，发生于 2026-11-28 02:00。"
                    "发生 2 小时 1 分钟后才登记，属延迟登记，法定时限仍从发生时间起算。")
