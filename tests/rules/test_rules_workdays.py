"""Working-day arithmetic on the mainland holiday calendar (SPEC §13.2)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.loader import RulesInvalid
from rules.workdays import CALENDARS_DIR, WorkingDay, load_calendars

CALENDAR = load_calendars()
COVERED = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30))


def test_the_shipped_calendars_cover_2025_and_2026():
    assert CALENDAR.years == {2025, 2026}
    assert CALENDAR.covered_until == date(2026, 12, 31)


def test_every_day_of_2025_and_2026_agrees_with_chinesecalendar():
    """An independent oracle: the chinesecalendar package (it knows up to 2026)."""
    day, disagree = date(2025, 1, 1), []
    while day <= date(2026, 12, 31):
        if CALENDAR.is_working_day(day) != chinese_calendar.is_workday(day):
            disagree.append(day)
        day += timedelta(days=1)
    assert disagree == []


@pytest.mark.parametrize(("start", "n", "expected"), [
    # 依申请公开: 20 working days across National Day 2026 (10-01..07 off, 09-20 and 10-10 worked).
    (date(2026, 9, 28), 20, date(2026, 10, 30)),
    (date(2026, 9, 30), 1, date(2026, 10, 8)),
    (date(2026, 10, 9), 1, date(2026, 10, 10)),  # a Saturday worked in exchange
    (date(2026, 9, 19), 1, date(2026, 9, 20)),  # a Sunday worked in exchange
    # Spring Festival 2025: 01-28..02-04 off, 01-26 and 02-08 worked.
    (date(2025, 1, 24), 1, date(2025, 1, 26)),
    (date(2025, 1, 27), 1, date(2025, 2, 5)),
    (date(2026, 10, 30), -20, date(2026, 9, 28)),
    (date(2026, 10, 8), -1, date(2026, 9, 30)),
    (date(2026, 10, 3), 0, date(2026, 10, 3)),
])
def test_shift_counts_working_days_on_the_holiday_calendar(start, n, expected):
    assert CALENDAR.shift(start, n).day == expected
    assert not CALENDAR.shift(start, n).incomplete


@given(COVERED, st.integers(min_value=1, max_value=40))
def test_a_deadline_never_falls_on_a_non_working_day(start, n):
    assert CALENDAR.is_working_day(CALENDAR.shift(start, n).day)


@given(COVERED, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_adding_n_then_m_working_days_equals_adding_n_plus_m(start, n, m):
    assert CALENDAR.shift(CALENDAR.shift(start, n).day, m).day == CALENDAR.shift(start, n + m).day


@given(COVERED, st.integers(min_value=1, max_value=40))
def test_counting_back_from_a_deadline_returns_to_the_last_working_day_at_or_before_the_start(start, n):
    there = CALENDAR.shift(start, n).day
    back = CALENDAR.shift(there, -n).day
    assert back <= start and CALENDAR.is_working_day(back)
    assert all(not CALENDAR.is_working_day(back + timedelta(days=k)) for k in range(1, (start - back).days + 1))


def test_past_the_calendar_weekends_alone_count_and_the_answer_says_so():
    answer = CALENDAR.shift(date(2026, 12, 21), 10)
    # 12-22..12-31: 8 weekdays; then 2027-01-01 (Fri, no calendar: a working day) and 01-04.
    assert answer.day == date(2027, 1, 4) and answer.incomplete
    assert not CALENDAR.shift(date(2026, 12, 1), 5).incomplete


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


HEAD = "region: cn-mainland\nyear: 2027\nsource: 国办发明电〔2026〕1号\n"


@pytest.mark.parametrize(("text", "expected"), [
    (HEAD + "holidays:\n  - {date: 2026-10-01, name: 国庆}\n", "x.yaml:4: holidays: [0] (国庆) lies outside 2027"),
    (HEAD + "workdays:\n  - {date: 2027-01-05, name: 调休}\n",
     "x.yaml:4: workdays: [0] (调休): 2027-01-05 is a weekday"),
    (HEAD + "holidays:\n  - {date: 2027-01-02, name: 元旦}\nworkdays:\n  - {date: 2027-01-02, name: 调休}\n",
     "x.yaml:6: workdays: [0] (调休): 2027-01-02 is listed as a holiday too"),
    (HEAD + "holidays:\n  - {from: 2027-02-10, to: 2027-02-01, name: 春节}\n",
     "x.yaml:5: holidays[0]: to (2027-02-01) comes before from (2027-02-10)"),
    ("region: cn-mainland\nyear: 2027\nholidays: []\n", "x.yaml:1: source: Field required"),
    (HEAD + "holliday: []\n", "x.yaml:4: holliday: unknown field (check its spelling)"),
    ("region: cn-mainland\nyear: 2027\nsource: [unclosed\n", "x.yaml:4: not valid YAML"),
])
def test_a_broken_calendar_file_is_refused_naming_file_line_and_field(tmp_path, text, expected):
    write(tmp_path, "x.yaml", text)
    with pytest.raises(RulesInvalid) as refused:
        load_calendars(tmp_path)
    assert expected in str(refused.value)


def test_two_files_for_one_year_are_refused(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        write(tmp_path, name, (CALENDARS_DIR / "cn-mainland-2026.yaml").read_text(encoding="utf-8"))
    with pytest.raises(RulesInvalid, match="cn-mainland 2026 is also in"):
        load_calendars(tmp_path)


def test_an_admin_extends_the_calendar_by_dropping_in_a_file(tmp_path):
    for year in (2025, 2026):
        write(tmp_path, f"cn-mainland-{year}.yaml", (CALENDARS_DIR / f"cn-mainland-{year}.yaml").read_text("utf-8"))
    write(tmp_path, "cn-mainland-2027.yaml", "region: cn-mainland\nyear: 2027\nsource: 国办发明电〔2026〕1号\n"
          "holidays:\n  - {date: 2027-01-01, name: 元旦}\n")
    extended = load_calendars(tmp_path)
    assert extended.covered_until == date(2027, 12, 31)
    assert extended.shift(date(2026, 12, 31), 1) == WorkingDay(date(2027, 1, 4), incomplete=False)
