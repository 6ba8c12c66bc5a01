"""The clocks of the three kinds of matter (SPEC §13.1, §13.2): deadlines and
ladders in working days, in local time, checked against an independent oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import RulesInvalid, load_rules
from rules.deadlines import deadline, due_at, ladder_steps, overdue_steps
from rules.schema import Obligation, WorkingDays, parse_span
from rules.workdays import WorkTime, load_calendars

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORK = WorkTime(load_calendars(), SHANGHAI)
RULES = load_rules()
DISCLOSURE = next(r for r in RULES.rules if r.id == "disclosure_request_reply")
OPINION = next(r for r in RULES.rules if r.id == "public_opinion_response")
EMERGENCY = next(r for r in RULES.rules if r.id == "major_emergency_disclosure")
[REPLY] = DISCLOSURE.obligations
[RESPONSE] = OPINION.obligations
H = timedelta(hours=1)


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)


def oracle_working_day(start: date, n: int) -> date:
    """The n-th working day after ``start`` per chinesecalendar, counted one day at a time."""
    day = start
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return day


def worked(day: date) -> bool:
    """A working day per chinesecalendar; past 2026, which it does not know, a weekday."""
    return chinese_calendar.is_workday(day) if day.year <= 2026 else day.weekday() < 5


def test_each_kind_has_its_rule_and_only_its_rule():
    assert [r.id for r in RULES.applicable("emergency", "I")] == ["major_emergency_disclosure"]
    assert RULES.applicable("emergency", "III") == []
    for severity in ("I", "II", "III", "IV"):  # the other kinds apply whatever the severity
        assert [r.id for r in RULES.applicable("public_opinion", severity)] == ["public_opinion_response"]
        assert [r.id for r in RULES.applicable("disclosure_request", severity)] == ["disclosure_request_reply"]


def test_public_opinion_is_answered_within_48_hours_whatever_the_day():
    anchor = local(date(2025, 9, 30), 22, 15)  # the eve of National Day: hours are hours
    assert due_at(RESPONSE, anchor, WORK) == anchor + 48 * H
    assert [(s.kind, s.planned_at - anchor) for s in ladder_steps(OPINION, RESPONSE, anchor, WORK)] == [
        ("reminder", 36 * H), ("warning", 44 * H), ("final_warning", 47 * H), ("breached", 48 * H)]
    repeats = overdue_steps(OPINION, RESPONSE, anchor + 48 * H, WORK)
    assert [s.planned_at - anchor for s in repeats] == [(48 + 4 * n) * H for n in range(1, 7)]


def test_the_emergency_deadline_is_never_shifted_to_working_time():
    release = EMERGENCY.obligations[0]
    anchor = local(date(2025, 10, 1), 3, 0)  # a holiday, at 3 a.m.
    assert due_at(release, anchor, WORK) == anchor + 5 * H


@pytest.mark.parametrize(("received", "due_day"), [
    # Friday before National Day 2025: Sunday 28 September is worked (1), 1–8 October are off.
    (local(date(2025, 9, 26), 10, 0), date(2025, 10, 30)),
    (local(date(2025, 9, 30), 23, 30), date(2025, 11, 4)),  # late on the eve of the holiday
    (local(date(2025, 10, 3), 9, 0), date(2025, 11, 4)),    # received during the holiday
    (local(date(2026, 9, 25), 16, 0), date(2026, 10, 29)),  # National Day 2026
    (local(date(2026, 10, 1), 0, 5), date(2026, 11, 3)),
])
def test_disclosure_reply_is_due_at_the_end_of_the_twentieth_working_day(received, due_day):
    assert oracle_working_day(received.date(), 20) == due_day  # the table agrees with the oracle
    due = deadline(REPLY, received, WORK)
    assert due.at == local(due_day, 23, 59, 59) and not due.calendar_incomplete


def test_the_day_of_receipt_is_the_local_day():
    # 2025-09-26 17:30 UTC is already Saturday 27 September in Beijing.
    received = datetime(2025, 9, 26, 17, 30, tzinfo=UTC)
    assert due_at(REPLY, received, WORK) == local(oracle_working_day(date(2025, 9, 27), 20), 23, 59, 59)


def test_disclosure_ladder_goes_out_at_nine_on_working_days():
    received = local(date(2025, 9, 26), 10, 0)
    steps = {s.kind: s.planned_at for s in ladder_steps(DISCLOSURE, REPLY, received, WORK)}
    assert steps == {
        "reminder": local(date(2025, 10, 23), 9, 0),       # 5 working days before 30 October
        "warning": local(date(2025, 10, 28), 9, 0),        # 2 working days before
        "final_warning": local(date(2025, 10, 30), 9, 0),  # the last day
        "breached": local(date(2025, 10, 30), 23, 59, 59),
    }
    repeats = overdue_steps(DISCLOSURE, REPLY, steps["breached"], WORK)
    assert len(repeats) == 10
    assert [s.planned_at for s in repeats[:2]] == [local(date(2025, 10, 31), 9, 0), local(date(2025, 11, 3), 9, 0)]


def test_past_the_calendar_weekends_alone_count_and_the_deadline_says_so():
    received = local(date(2026, 12, 20), 10, 0)
    due = deadline(REPLY, received, WORK)
    assert due.calendar_incomplete
    assert due.at.astimezone(SHANGHAI).date() == date(2027, 1, 15)  # 20 weekdays, holidays of 2027 unknown
    assert not deadline(REPLY, local(date(2026, 11, 2), 10, 0), WORK).calendar_incomplete


def test_a_working_day_rule_needs_the_calendar():
    with pytest.raises(ValueError, match="working days"):
        due_at(REPLY, local(date(2025, 9, 26), 10, 0))


RECEIVED = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 31),
                        timezones=st.just(SHANGHAI))


@given(RECEIVED)
def test_no_step_of_a_disclosure_request_falls_on_a_non_working_day_or_at_night(received):
    due = deadline(REPLY, received, WORK).at
    planned = ladder_steps(DISCLOSURE, REPLY, received, WORK) + overdue_steps(DISCLOSURE, REPLY, due, WORK)
    for step in planned:
        moment = step.planned_at.astimezone(SHANGHAI)
        assert worked(moment.date()), step
        assert moment.time() in (time(9, 0), time(23, 59, 59)), step
        assert step.planned_at > received
    assert [s.planned_at for s in planned] == sorted(s.planned_at for s in planned)


@given(RECEIVED, st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=60))
def test_due_in_n_then_m_more_working_days_equals_due_in_n_plus_m(received, n, m):
    def spec(days: int) -> Obligation:
        return Obligation(key="reply", title="答复", due=f"{days}wd")

    first = deadline(spec(n), received, WORK).at
    assert deadline(spec(m), first, WORK).at == deadline(spec(n + m), received, WORK).at
    assert worked(first.astimezone(SHANGHAI).date())


@pytest.mark.parametrize(("text", "value"), [
    ("20wd", WorkingDays(20)), ("-5wd", WorkingDays(-5)), ("0wd@09:00", WorkingDays(0, time(9))),
    ("1wd@17:30", WorkingDays(1, time(17, 30))), ("5h", timedelta(hours=5)),
])
def test_spans_read_as_written(text, value):
    assert parse_span(text) == value and (not isinstance(value, WorkingDays) or str(value) == text)


@pytest.mark.parametrize("text", ["wd", "2.5wd", "5wd@9", "5wd@25:00", "5 wd", "-wd", "5wd@09:60"])
def test_bad_working_day_counts_are_refused(text):
    with pytest.raises(ValueError):
        parse_span(text)


SHIPPED = Path(__file__).resolve().parents[2] / "rules"
DISCLOSURE_TEXT = (SHIPPED / "disclosure_request.yaml").read_text(encoding="utf-8")
EMERGENCY_TEXT = (SHIPPED / "major_emergency.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("text", "change", "field", "line_of", "says"), [
    (DISCLOSURE_TEXT, ("due: 20wd", "due: 0wd"), "obligations[0].due", "due: 0wd", "positive count"),
    (DISCLOSURE_TEXT, ("at: -5wd", "at: 5wd"), "obligations[0].ladder[0]", "at: 5wd", "before the deadline"),
    (DISCLOSURE_TEXT, ("at: -5wd", "at: -20wd"), "obligations[0]", "- key: reply", "on or before the day"),
    (DISCLOSURE_TEXT, ("at: 0wd@09:00", "at: 0wd@25:00"), "obligations[0].ladder[2].at", "0wd@25:00",
     "time of day"),
    (DISCLOSURE_TEXT, ("at: 0wd@09:00", "at: 0wd"), "obligations[0].ladder[2]", "at: 0wd,", "0wd@09:00"),
    (DISCLOSURE_TEXT, ("{every: 1wd,", "{every: 0wd,"), "obligations[0].overdue.every", "{every: 0wd,", "1wd or more"),
    (DISCLOSURE_TEXT, ("kinds: [disclosure_request]", "kinds: [disclosure]"), "applies_to.kinds[0]",
     "kinds: [disclosure]", "disclosure_request"),
    (EMERGENCY_TEXT, ("at: -2h", "at: -2wd"), "obligations[0]", "- key: authoritative_release",
     "deadline is not"),
])
def test_a_bad_working_day_field_is_reported_with_file_line_and_field(tmp_path, text, change, field, line_of, says):
    changed = text.replace(*change, 1)
    assert changed != text
    path = tmp_path / "rule.yaml"
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    problem = caught.value.problems[0]
    expected_line = next(n for n, line in enumerate(changed.splitlines(), 1) if line_of in line)
    assert (problem.file, problem.field, problem.line) == (path, field, expected_line), str(caught.value)
    assert says in problem.message, problem.message
