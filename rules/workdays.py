"""Working days on China's holiday calendar (SPEC §13.2), as data.

A working day is a weekday that is not a public holiday, or a weekend day that
is a make-up working day (调休上班). The State Council publishes each year's
arrangement late in the year before, so the calendar is data an admin extends
by dropping a file into ``rules/calendars/`` (one file per region and year,
naming its source notice), not code. Counting past the last year covered falls
back to weekends alone and says so (``incomplete``), so a deadline that far
out is flagged rather than silently wrong.

Pure: dates in, dates out; no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.loader import RuleProblem, RulesInvalid, load_yaml_model

CALENDARS_DIR = Path(__file__).resolve().parent / "calendars"
DEFAULT_REGION = "cn-mainland"
MAX_STEP_DAYS = 3660  # no legal clock counts further than this; a loop bound, not a rule


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Span(_Strict):
    """One day (``date``) or a run of days (``from`` … ``to``, both included)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    day: date | None = Field(default=None, alias="date")
    first: date | None = Field(default=None, alias="from")
    last: date | None = Field(default=None, alias="to")
    name: str = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_day_or_a_run(self) -> Span:
        if (self.day is None) == (self.first is None and self.last is None):
            raise ValueError("give either date, or from and to")
        if self.day is None and (self.first is None or self.last is None):
            raise ValueError("a run of days needs both from and to")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"to ({self.last}) comes before from ({self.first})")
        return self

    def days(self) -> list[date]:
        if self.day is not None:
            return [self.day]
        assert self.first is not None and self.last is not None
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class CalendarFile(_Strict):
    region: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=4, max_length=200, description="the notice this arrangement comes from")
    holidays: tuple[Span, ...] = ()
    workdays: tuple[Span, ...] = ()

    @field_validator("holidays", "workdays")
    @classmethod
    def _within_the_year(cls, spans: tuple[Span, ...], info: ValidationInfo) -> tuple[Span, ...]:
        year = info.data.get("year")
        for index, span in enumerate(spans):
            if year is not None and any(d.year != year for d in span.days()):
                raise ValueError(f"[{index}] ({span.name}) lies outside {year}")
        return spans

    @field_validator("workdays")
    @classmethod
    def _weekend_days_not_off(cls, spans: tuple[Span, ...], info: ValidationInfo) -> tuple[Span, ...]:
        off = {d for s in info.data.get("holidays", ()) for d in s.days()}
        for index, span in enumerate(spans):
            if weekdays := [d for d in span.days() if d.weekday() < 5]:
                raise ValueError(f"[{index}] ({span.name}): {weekdays[0]} is a weekday; "
                                 "only a weekend day can be a make-up working day")
            if both := sorted(set(span.days()) & off):
                raise ValueError(f"[{index}] ({span.name}): {both[0]} is listed as a holiday too")
        return spans


@dataclass(frozen=True)
class WorkingDay:
    """The answer of a count: the day, and whether days beyond the calendar
    were counted on weekends alone."""

    day: date
    incomplete: bool


@dataclass(frozen=True)
class WorkCalendar:
    region: str
    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days worked in exchange (调休上班)
    years: frozenset[int]
    files: tuple[Path, ...] = ()

    @property
    def covered_until(self) -> date | None:
        """The last day of the run of covered years that starts with the first one."""
        if not self.years:
            return None
        year = min(self.years)
        while year + 1 in self.years:
            year += 1
        return date(year, 12, 31)

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5

    def shift(self, start: date, working_days: int) -> WorkingDay:
        """The ``working_days``-th working day after ``start`` (before it when
        negative; ``start`` itself is never counted). With 0, ``start``."""
        step = 1 if working_days >= 0 else -1
        day, left, incomplete = start, abs(working_days), False
        for _ in range(MAX_STEP_DAYS):
            if left == 0:
                return WorkingDay(day, incomplete)
            day += timedelta(days=step)
            incomplete = incomplete or not self.covers(day)
            if self.is_working_day(day):
                left -= 1
        raise ValueError(f"{working_days} working days reach further than {MAX_STEP_DAYS} days")


@dataclass(frozen=True)
class WorkTime:
    """The calendar and the local time zone working-day clocks are counted in:
    a day of receipt is a local day, a deadline ends at local midnight."""

    calendar: WorkCalendar
    zone: tzinfo

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def moment(self, day: date, at: time) -> datetime:
        """``at`` local time on ``day``, in UTC."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)


def calendar_of(files: Iterable[CalendarFile], region: str = DEFAULT_REGION,
                paths: tuple[Path, ...] = ()) -> WorkCalendar:
    chosen = [f for f in files if f.region == region]
    return WorkCalendar(
        region=region,
        holidays=frozenset(d for f in chosen for s in f.holidays for d in s.days()),
        workdays=frozenset(d for f in chosen for s in f.workdays for d in s.days()),
        years=frozenset(f.year for f in chosen), files=paths)


def load_calendars(directory: Path | str | None = None, region: str = DEFAULT_REGION) -> WorkCalendar:
    """Every ``*.yaml`` file of ``directory`` (the shipped calendars by default),
    validated; problems name the file, the line and the field."""
    directory = Path(directory) if directory is not None else CALENDARS_DIR
    if not directory.is_dir():
        raise RulesInvalid([RuleProblem(directory, None, "", "the calendar directory does not exist")])
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    problems: list[RuleProblem] = []
    loaded: list[tuple[Path, CalendarFile]] = []
    for path in paths:
        try:
            loaded.append((path, load_yaml_model(path, CalendarFile, "a calendar file holds one mapping "
                                                                     "(region, year, source, holidays, workdays)")))
        except RulesInvalid as exc:
            problems.extend(exc.problems)
    seen: dict[tuple[str, int], Path] = {}
    for path, calendar in loaded:
        key = (calendar.region, calendar.year)
        if key in seen:
            problems.append(RuleProblem(path, None, "year",
                                        f"{calendar.region} {calendar.year} is also in {seen[key]}"))
        seen[key] = path
    if problems:
        raise RulesInvalid(problems)
    return calendar_of([c for _, c in loaded], region, tuple(p for p, _ in loaded))
