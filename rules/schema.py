"""The shape of a rule file, validated with pydantic.

A rule says which incidents it applies to, which obligations they carry, when
each is due after the clock anchor, and the ladder of escalation steps around
each deadline. Durations are written the way duty officers say them: ``5h``,
``30m``, ``1h30m``; offsets before a deadline are negative (``-2h``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.vocabulary import (
    PRE_DEADLINE_KINDS,  # noqa: F401 - monitor.dispatch imports it from here
    Channel,
    Recipient,
    Severity,
    StepKind,
    one_of,
)

# The steps a rule's ladder may name, in the order they come.
LADDER_KINDS: tuple[StepKind, ...] = (StepKind.REMINDER, StepKind.WARNING, StepKind.FINAL_WARNING, StepKind.BREACHED)
LadderKind = one_of(*LADDER_KINDS)

_DURATION = re.compile(r"^(?P<sign>[-+])?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_duration(value: object) -> timedelta:
    """``"1h30m"`` → 1:30:00, ``"-2h"`` → -2:00:00, ``0`` → 0."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("a duration is written like 5h, 30m, 1h30m or -2h")
    if isinstance(value, int):
        if value != 0:
            raise ValueError("a bare number is ambiguous; write a unit, like 5h or 30m")
        return timedelta(0)
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None or not any(match.group(u) for u in "dhms"):
        raise ValueError(f"{value!r} is not a duration; write it like 5h, 30m, 1h30m or -2h")
    total = timedelta(
        days=int(match.group("d") or 0),
        hours=int(match.group("h") or 0),
        minutes=int(match.group("m") or 0),
        seconds=int(match.group("s") or 0),
    )
    return -total if match.group("sign") == "-" else total


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _repeated(items: list[str]) -> str:
    return ", ".join(sorted({item for item in items if items.count(item) > 1}))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LadderStep(_Strict):
    step: LadderKind
    at: Duration = Field(description="offset from the deadline; negative before it")
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _offset_fits_kind(self) -> LadderStep:
        if self.step == StepKind.BREACHED and self.at != timedelta(0):
            raise ValueError("the breached step fires at the deadline: its offset must be 0")
        if self.step != StepKind.BREACHED and self.at >= timedelta(0):
            raise ValueError(f"a {self.step} comes before the deadline: its offset must be negative, like -1h")
        return self


# The engine relies on it: a breach recorded within half of this after its
# deadline cannot have an overdue repeat due yet (monitor.dispatch.FRESH_BREACH).
MIN_OVERDUE_EVERY = timedelta(minutes=1)


class Overdue(_Strict):
    every: Duration
    max: int = Field(ge=1, le=1000)
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)

    @field_validator("every")
    @classmethod
    def _positive(cls, every: timedelta) -> timedelta:
        if every < MIN_OVERDUE_EVERY:
            raise ValueError("overdue repeats must be at least 1m apart")
        return every


class Extension(_Strict):
    """A deadline that may be extended once, by at most this many working days."""

    max_working_days: int = Field(ge=1, le=366)


class Obligation(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=100)
    title_en: str | None = Field(default=None, max_length=100)
    due: Duration
    ladder: tuple[LadderStep, ...] = ()
    overdue: Overdue | None = None
    # The one extension the deadline may get (SPEC §13.3); None: it may not be extended.
    extension: Extension | None = None

    @field_validator("due")
    @classmethod
    def _due_after_anchor(cls, due: timedelta) -> timedelta:
        if due <= timedelta(0):
            raise ValueError("an obligation falls due after its anchor: use a positive duration like 5h")
        return due

    @model_validator(mode="after")
    def _ladder_is_consistent(self) -> Obligation:
        if repeated := _repeated([s.step for s in self.ladder]):
            raise ValueError(f"ladder lists {repeated} more than once")
        for step in self.ladder:
            if -step.at > self.due:
                raise ValueError(f"{step.step} at {step.at} would come before the clock anchor (due is {self.due})")
        return self


# An occurrence of a recurring obligation is stored as ``<key>#<n>`` (SPEC §13.4).
OCCURRENCE_MARK = "#"


class Recurring(_Strict):
    """An obligation that comes again and again while the incident is open:
    the first occurrence is due ``every`` after the obligation ``after`` is met,
    each next one ``every`` after the previous occurrence was met (SPEC §13.4)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,55}$")  # room for "#<n>" in a 64-character key
    title: str = Field(min_length=1, max_length=90)
    title_en: str | None = Field(default=None, max_length=90)
    after: str = Field(min_length=1, description="the key of the obligation whose milestone starts the series")
    every: Duration
    ladder: tuple[LadderStep, ...] = ()
    overdue: Overdue | None = None

    @field_validator("every")
    @classmethod
    def _at_least_a_minute(cls, every: timedelta) -> timedelta:
        if every < MIN_OVERDUE_EVERY:
            raise ValueError("a recurring obligation comes again at least 1m later; write it like 24h")
        return every

    @model_validator(mode="after")
    def _ladder_fits(self) -> Recurring:
        if repeated := _repeated([s.step for s in self.ladder]):
            raise ValueError(f"ladder lists {repeated} more than once")
        for step in self.ladder:
            if -step.at > self.every:
                raise ValueError(f"{step.step} at {step.at} would come before the previous publication "
                                 f"(every is {self.every})")
        return self

    def occurrence(self, n: int) -> Obligation:
        """Occurrence ``n`` as an obligation due ``every`` after its anchor (the
        previous publication). Built without validation: its key carries ``#n``."""
        return Obligation.model_construct(
            key=occurrence_key(self.key, n), title=f"{self.title} #{n}",
            title_en=f"{self.title_en} #{n}" if self.title_en else None,
            due=self.every, ladder=self.ladder, overdue=self.overdue, extension=None)


def occurrence_key(key: str, n: int) -> str:
    return f"{key}{OCCURRENCE_MARK}{n}"


def split_occurrence(key: str) -> tuple[str, int | None]:
    """``keep_publishing#3`` → ("keep_publishing", 3); a plain key → (key, None)."""
    base, mark, number = key.partition(OCCURRENCE_MARK)
    if not mark or not number.isascii() or not number.isdigit() or number.startswith("0"):
        return key, None
    return base, int(number)


def series_key(key: str) -> str:
    """The key without ``#n``: metric labels stay few however long a series runs."""
    return split_occurrence(key)[0]


class Registered(_Strict):
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)


class AppliesTo(_Strict):
    severities: tuple[Severity, ...] = Field(min_length=1)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    applies_to: AppliesTo
    anchor: Literal["occurred_at"] = "occurred_at"
    channels: tuple[Channel, ...] = Field(default=tuple(Channel), min_length=1)
    registered: Registered | None = None
    obligations: tuple[Obligation, ...] = Field(min_length=1)
    recurring: tuple[Recurring, ...] = ()

    @model_validator(mode="after")
    def _unique_keys(self) -> Rule:
        if repeated := _repeated([o.key for o in self.obligations]):
            raise ValueError(f"obligation key {repeated} is used more than once")
        return self

    @field_validator("recurring")
    @classmethod
    def _recurring_fits(cls, recurring: tuple[Recurring, ...], info: ValidationInfo) -> tuple[Recurring, ...]:
        keys = [o.key for o in info.data.get("obligations", ())]
        if repeated := _repeated([r.key for r in recurring] + keys):
            raise ValueError(f"key {repeated} is used more than once (or also by an obligation)")
        for index, series in enumerate(recurring):
            if keys and series.after not in keys:
                raise ValueError(f"[{index}].after: {series.after!r} is not an obligation of this rule "
                                 f"(one of {', '.join(keys)})")
        return recurring

    def recurring_after(self, key: str) -> list[Recurring]:
        """The series that start when ``key`` is met."""
        return [r for r in self.recurring if r.after == key]

    def applies(self, severity: str) -> bool:
        return severity in self.applies_to.severities

    def channels_for(self, step: LadderStep | Overdue | Registered) -> tuple[Channel, ...]:
        return step.channels or self.channels
