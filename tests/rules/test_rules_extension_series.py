"""Rule data for the extension (SPEC §13.3) and keep publishing (§13.4): the
schema refuses what cannot work, and the arithmetic counts working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import RulesInvalid, load_rules
from rules.deadlines import deadline, extended_deadline, ladder_steps_at
from rules.schema import Obligation, WorkingDays, series_key, split_occurrence
from rules.workdays import WorkTime, load_calendars

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORK = WorkTime(load_calendars(), SHANGHAI)
SHIPPED = Path(__file__).resolve().parents[2] / "rules"
# A deadline in hours, so that a test can put the rule's deadline where it likes.
HOURLY = Obligation(key="reply", title="答复", due="1h")

RULE = """
id: district_reply
title: 答复时限
applies_to: {severities: [III]}
obligations:
  - key: reply
    title: 答复
    due: 480h
    extension: {max_working_days: 20}
    ladder:
      - {step: breached, at: 0, to: [head]}
recurring:
  - key: keep_publishing
    title: 持续发布
    after: reply
    every: 24h
    ladder:
      - {step: reminder, at: -2h, to: [head]}
"""


def _load(tmp_path: Path, text: str):
    (tmp_path / "rule.yaml").write_text(text, encoding="utf-8")
    return load_rules(tmp_path)


def test_a_rule_declares_an_extension_and_a_series(tmp_path):
    rules = _load(tmp_path, RULE)
    rule, spec = rules.obligation("reply")
    assert spec.extension.max_working_days == 20
    _, third = rules.obligation("keep_publishing#3")
    assert (third.key, third.title, third.due) == ("keep_publishing#3", "持续发布 #3", timedelta(hours=24))
    assert rules.obligation("keep_publishing#0") is None and rules.obligation("keep_publishing") is None
    assert rules.obligation_keys() == ["reply", "keep_publishing"]
    assert rule.recurring_after("reply")[0].key == "keep_publishing"


@pytest.mark.parametrize(("change", "field", "words"), [
    (("after: reply", "after: press"), "recurring", "'press' is not an obligation of this rule"),
    (("key: keep_publishing", "key: reply"), "recurring", "key reply is used more than once"),
    (("key: keep_publishing", "key: Keep-Publishing"), "recurring[0].key", "pattern"),
    (("every: 24h", "every: 30s"), "recurring[0].every", "at least 1m"),
    (("every: 24h", "every: 1h"), "recurring[0]", "before the previous publication"),
    (("{max_working_days: 20}", "{max_working_days: 0}"), "obligations[0].extension.max_working_days", "greater"),
    (("{max_working_days: 20}", "{max_days: 20}"), "obligations[0].extension.max_days", "unknown field"),
    (("{step: reminder, at: -2h, to: [head]}", "{step: reminder, at: -2h, to: [head], also: {channels: [voice], "
      "to: [deputies]}}"), "", "recurring[0].ladder[0]: also.to names deputies"),
])
def test_a_bad_series_or_extension_is_named_by_file_line_and_field(tmp_path, change, field, words):
    with pytest.raises(RulesInvalid) as caught:
        _load(tmp_path, RULE.replace(*change))
    problem = next(p for p in caught.value.problems if p.field.startswith(field))
    assert words in problem.message and problem.line is not None


def test_the_shipped_emergency_rule_keeps_publishing_every_day_after_the_release():
    rule = next(r for r in load_rules(SHIPPED).rules if r.id == "major_emergency_disclosure")
    [series] = rule.recurring
    assert (series.key, series.after, series.every) == ("keep_publishing", "authoritative_release", timedelta(hours=24))
    assert [(s.step, s.at, s.to) for s in series.ladder] == [
        ("reminder", -timedelta(hours=2), ("head",)), ("breached", timedelta(0), ("head", "supervisors"))]


def test_occurrence_keys_split_and_label_without_their_number():
    assert split_occurrence("keep_publishing#12") == ("keep_publishing", 12)
    assert split_occurrence("authoritative_release") == ("authoritative_release", None)
    assert split_occurrence("keep_publishing#x") == ("keep_publishing#x", None)
    assert series_key("keep_publishing#12") == "keep_publishing"


@pytest.mark.parametrize(("due", "days", "expected", "incomplete"), [
    # The National Day week is off; Saturday 10 October 2026 is a make-up working day.
    (datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI), 3, datetime(2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI), False),
    # Counted from the local day: 20:00 UTC on Friday is already Saturday in Shanghai.
    (datetime(2026, 12, 4, 20, 0, tzinfo=UTC), 1, datetime(2026, 12, 7, 23, 59, 59, tzinfo=SHANGHAI), False),
    (datetime(2026, 12, 18, 9, 0, tzinfo=SHANGHAI), 5, datetime(2026, 12, 25, 23, 59, 59, tzinfo=SHANGHAI), False),
    # Past the last year covered: weekends alone, and flagged.
    (datetime(2026, 12, 18, 9, 0, tzinfo=SHANGHAI), 20, datetime(2027, 1, 15, 23, 59, 59, tzinfo=SHANGHAI), True),
])
def test_an_extension_ends_at_the_end_of_a_working_day(due, days, expected, incomplete):
    extended = extended_deadline(HOURLY, due - timedelta(hours=1), days, WORK)
    assert extended.at == expected and extended.at.tzinfo == UTC
    assert extended.calendar_incomplete is incomplete
    assert WORK.calendar.is_working_day(extended.at.astimezone(SHANGHAI).date())


def test_an_extension_of_no_days_is_refused():
    with pytest.raises(ValueError):
        extended_deadline(HOURLY, datetime(2026, 12, 18, tzinfo=UTC), 0, WORK)


def test_an_extension_needs_the_calendar():
    with pytest.raises(ValueError, match="WorkTime"):
        extended_deadline(HOURLY, datetime(2026, 12, 18, tzinfo=UTC), 3, None)


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=20))
def test_extending_a_deadline_in_working_days_adds_to_its_count(received, days):
    """The shipped reply (20wd) extended by N is the reply counted in 20 + N working days."""
    reply = next(r for r in load_rules(SHIPPED).rules if r.id == "disclosure_request_reply").obligations[0]
    longer = reply.model_copy(update={"due": WorkingDays(reply.due.days + days, reply.due.at)})
    assert extended_deadline(reply, received, days, WORK) == deadline(longer, received, WORK)


def test_the_ladder_is_planned_around_a_given_deadline(tmp_path):
    rules = _load(tmp_path, RULE)
    rule, spec = rules.obligation("keep_publishing#2")
    due = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    [reminder] = ladder_steps_at(rule, spec, due, round_=2)
    assert (reminder.obligation_key, reminder.kind, reminder.occurrence, reminder.planned_at) == (
        "keep_publishing#2", "reminder", 2, due - timedelta(hours=2))
    assert date(2026, 12, 1) == reminder.planned_at.date()


def test_an_extended_ladder_in_working_days_goes_out_at_office_hours():
    rule = next(r for r in load_rules(SHIPPED).rules if r.id == "disclosure_request_reply")
    [reply] = rule.obligations
    # Received on Friday 26 September 2025, before National Day (1-8 October off,
    # Sunday 28 September and Saturday 11 October worked): due Thursday 30 October,
    # extended by 20 to Thursday 27 November.
    extended = extended_deadline(reply, datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI), 20, WORK)
    assert extended.at == datetime(2025, 11, 27, 23, 59, 59, tzinfo=SHANGHAI)
    steps = {s.kind: (s.occurrence, s.planned_at.astimezone(SHANGHAI))
             for s in ladder_steps_at(rule, reply, extended.at, WORK, round_=2)}
    assert steps == {
        "reminder": (2, datetime(2025, 11, 20, 9, 0, tzinfo=SHANGHAI)),
        "warning": (2, datetime(2025, 11, 25, 9, 0, tzinfo=SHANGHAI)),
        "final_warning": (2, datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI)),
        "breached": (2, extended.at),
    }


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=20))
def test_an_extension_adds_exactly_n_working_days_and_ends_on_one(due, days):
    extended = extended_deadline(HOURLY, due - timedelta(hours=1), days, WORK)
    start, end = due.astimezone(SHANGHAI).date(), extended.at.astimezone(SHANGHAI)
    assert extended.at > due and (end.hour, end.minute, end.second) == (23, 59, 59)
    between = [start + timedelta(days=n) for n in range(1, (end.date() - start).days + 1)]
    assert sum(WORK.calendar.is_working_day(d) for d in between) == days
    assert WORK.calendar.is_working_day(end.date()) and not extended.calendar_incomplete
