"""The shape of a rule file, validated with pydantic.

A rule says which incidents it applies to, which obligations they carry, when
each is due after the clock anchor, and the ladder of escalation steps around
each deadline. Durations are written the way duty officers say them: ``5h``,
``30m``, ``1h30m``; offsets before a deadline are negative (``-2h``).

A legal time limit may also be counted in working days on the holiday calendar
(SPEC §13.2): ``due: 20wd`` is the end (23:59:59 local time) of the 20th working
day after the day the clock starts; ``at: -5wd`` is 09:00 local time on the
working day five working days before the due day; ``at: 0wd@09:00`` is the due
day itself at 09:00; ``every: 1wd`` repeats at 09:00 on each working day. The
time after ``@`` may be given to any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.vocabulary import (
    DEFAULT_CHANNELS,
    PRE_DEADLINE_KINDS,  # noqa: F401 - monitor.dispatch imports it from here
    Channel,
    MatterKind,
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


# A deadline counted in working days ends with its last day; a step counted in
# working days goes out when the office opens.
END_OF_DAY = time(23, 59, 59)
OFFICE_OPENS = time(9, 0)
_WORKING_DAYS = re.compile(r"^(?P<sign>[-+])?(?P<n>\d{1,3})wd(?:@(?P<h>\d{2}):(?P<m>\d{2}))?$")


@dataclass(frozen=True)
class WorkingDays:
    """``days`` working days on the calendar (negative: before), reaching a day
    at local time ``at`` (None: the default of where it is used, END_OF_DAY
    for a deadline, OFFICE_OPENS for a step)."""

    days: int
    at: time | None = None

    def __str__(self) -> str:
        return f"{self.days}wd" + (f"@{self.at:%H:%M}" if self.at is not None else "")


def parse_span(value: object) -> timedelta | WorkingDays:
    """A duration (see :func:`parse_duration`) or a count of working days:
    ``20wd``, ``-5wd``, ``0wd@09:00``."""
    if isinstance(value, WorkingDays):
        return value
    if isinstance(value, str) and "wd" in value:
        match = _WORKING_DAYS.match(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a count of working days; write it like 20wd, -5wd or 0wd@09:00")
        days = int(match.group("n")) * (-1 if match.group("sign") == "-" else 1)
        if match.group("h") is None:
            return WorkingDays(days)
        hour, minute = int(match.group("h")), int(match.group("m"))
        if hour > 23 or minute > 59:
            raise ValueError(f"{value!r}: the time after @ is a time of day, like 09:00 or 17:30")
        return WorkingDays(days, time(hour, minute))
    return parse_duration(value)


def _span_dump(value: timedelta | WorkingDays) -> timedelta | str:
    return str(value) if isinstance(value, WorkingDays) else value


Span = Annotated[timedelta | WorkingDays, PlainValidator(parse_span), PlainSerializer(_span_dump)]


def _repeated(items: list[str]) -> str:
    return ", ".join(sorted({item for item in items if items.count(item) > 1}))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Also(_Strict):
    """More channels for some of a step's recipients: ``{channels: [voice], to: [head]}``
    on a step to head, deputies and supervisors calls the head on top of the
    messages everyone gets. A step names one ``to`` and one ``channels``; this
    is how a rule says "and ring the head" without a second step of the same kind."""

    channels: tuple[Channel, ...] = Field(min_length=1)
    to: tuple[Recipient, ...] = Field(min_length=1)


# A planned step stores its channels as strings; a channel meant for some of its
# recipients only is written "voice:head" or "voice:head+deputies".
_ONLY, _AND = ":", "+"


def channel_entry(channel: str, groups: tuple[str, ...] | None = None) -> str:
    return f"{channel}{_ONLY}{_AND.join(groups)}" if groups else channel


def read_channel_entry(entry: str) -> tuple[str, tuple[str, ...] | None]:
    """``"voice:head"`` → ("voice", ("head",)); ``"sms"`` → ("sms", None): every recipient."""
    channel, only, groups = entry.partition(_ONLY)
    return channel, tuple(groups.split(_AND)) if only else None


class LadderStep(_Strict):
    step: LadderKind
    at: Span = Field(description="offset from the deadline; negative before it")
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    also: Also | None = None

    @model_validator(mode="after")
    def _offset_fits_kind(self) -> LadderStep:
        if self.step == StepKind.BREACHED:
            if self.at != timedelta(0):
                raise ValueError("the breached step fires at the deadline: its offset must be 0")
        elif isinstance(self.at, WorkingDays):
            if self.at.days > 0 or (self.at.days == 0 and self.at.at is None):
                raise ValueError(f"a {self.step} comes before the deadline: write -5wd (09:00 five working days "
                                 "before the due day) or 0wd@09:00 (the due day at 09:00)")
        elif self.at >= timedelta(0):
            raise ValueError(f"a {self.step} comes before the deadline: its offset must be negative, like -1h")
        return self


# The engine relies on it: a breach recorded within half of this after its
# deadline cannot have an overdue repeat due yet (monitor.dispatch.FRESH_BREACH).
MIN_OVERDUE_EVERY = timedelta(minutes=1)


def _forward(every: timedelta | WorkingDays, what: str) -> timedelta | WorkingDays:
    if isinstance(every, WorkingDays):
        if every.days < 1:
            raise ValueError(f"{what} count forward: write 1wd or more")
    elif every < MIN_OVERDUE_EVERY:
        raise ValueError(f"{what} must be at least 1m apart")
    return every


class Overdue(_Strict):
    every: Span
    max: int = Field(ge=1, le=1000)
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    also: Also | None = None

    @field_validator("every")
    @classmethod
    def _positive(cls, every: timedelta | WorkingDays) -> timedelta | WorkingDays:
        return _forward(every, "overdue repeats")


class Extension(_Strict):
    """A deadline that may be extended once, by at most this many working days."""

    max_working_days: int = Field(ge=1, le=366)


class Obligation(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=100)
    title_en: str | None = Field(default=None, max_length=100)
    due: Span
    ladder: tuple[LadderStep, ...] = ()
    overdue: Overdue | None = None
    # The one extension the deadline may get (SPEC §13.3); None: it may not be extended.
    extension: Extension | None = None

    @field_validator("due")
    @classmethod
    def _due_after_anchor(cls, due: timedelta | WorkingDays) -> timedelta | WorkingDays:
        if isinstance(due, WorkingDays):
            if due.days < 1:
                raise ValueError("an obligation falls due after its anchor: use a positive count like 20wd")
        elif due <= timedelta(0):
            raise ValueError("an obligation falls due after its anchor: use a positive duration like 5h")
        return due

    @model_validator(mode="after")
    def _ladder_is_consistent(self) -> Obligation:
        _check_ladder(self.ladder, self.due, "the clock anchor", "due")
        return self


def _before_anchor(at: timedelta | WorkingDays, due: timedelta | WorkingDays, anchor: str, name: str) -> str | None:
    """Why a step at ``at`` around a deadline ``due`` after the anchor could
    come before the anchor, or None when it cannot."""
    if isinstance(due, timedelta):
        if isinstance(at, WorkingDays):
            return (f"counts working days, but the deadline is not: write {name} in working days (like 20wd) "
                    "or at in hours")
        return f"would come before {anchor} ({name} is {due})" if -at > due else None
    due_time = due.at or END_OF_DAY
    if isinstance(at, WorkingDays):
        if -at.days >= due.days:
            return f"would come on or before the day of {anchor} ({name} is {due})"
        if at.days == 0 and (at.at or OFFICE_OPENS) >= due_time:
            return f"must come before the deadline's time of day ({due_time:%H:%M:%S})"
        return None
    # The due day is at least due.days - 1 whole days after the anchor's day, plus its time of day.
    reach = timedelta(days=due.days - 1, hours=due_time.hour, minutes=due_time.minute, seconds=due_time.second)
    return f"could come before {anchor} (reach back at most {reach})" if -at > reach else None


def _check_ladder(ladder: tuple[LadderStep, ...], due: timedelta | WorkingDays, anchor: str, name: str) -> None:
    if repeated := _repeated([s.step for s in ladder]):
        raise ValueError(f"ladder lists {repeated} more than once")
    for index, step in enumerate(ladder):
        if problem := _before_anchor(step.at, due, anchor, name):
            raise ValueError(f"ladder[{index}]: {step.step} at {step.at} {problem}")


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
    every: Span
    ladder: tuple[LadderStep, ...] = ()
    overdue: Overdue | None = None

    @field_validator("every")
    @classmethod
    def _at_least_a_minute(cls, every: timedelta | WorkingDays) -> timedelta | WorkingDays:
        return _forward(every, "the occurrences of a series")

    @model_validator(mode="after")
    def _ladder_fits(self) -> Recurring:
        _check_ladder(self.ladder, self.every, "the previous publication", "every")
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
    also: Also | None = None


class AppliesTo(_Strict):
    """The kinds of matter (SPEC §13.1) and, optionally, the severities a rule
    applies to; without ``severities`` it applies whatever the severity."""

    kinds: tuple[MatterKind, ...] = Field(default=(MatterKind.EMERGENCY,), min_length=1)
    severities: tuple[Severity, ...] | None = Field(default=None, min_length=1)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    applies_to: AppliesTo
    anchor: Literal["occurred_at"] = "occurred_at"
    channels: tuple[Channel, ...] = Field(default=DEFAULT_CHANNELS, min_length=1)
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

    @model_validator(mode="after")
    def _also_adds_channels_for_some_recipients(self) -> Rule:
        duties = [*((f"obligations[{n}]", o) for n, o in enumerate(self.obligations)),
                  *((f"recurring[{n}]", r) for n, r in enumerate(self.recurring))]
        steps = [("registered", self.registered)] + [
            (where, step) for name, o in duties for where, step in (
                *((f"{name}.ladder[{i}]", s) for i, s in enumerate(o.ladder)),
                (f"{name}.overdue", o.overdue))]
        for where, step in steps:
            if step is None or step.also is None:
                continue
            if outside := [g for g in step.also.to if g not in step.to]:
                raise ValueError(f"{where}: also.to names {', '.join(outside)}, who is not in this step's to")
            if twice := [c for c in step.also.channels if c in (step.channels or self.channels)]:
                raise ValueError(f"{where}: also.channels names {', '.join(twice)}, which the step already uses "
                                 "for all its recipients")
        return self

    def applies(self, kind: str, severity: str) -> bool:
        scope = self.applies_to
        return kind in scope.kinds and (scope.severities is None or severity in scope.severities)

    def channels_for(self, step: LadderStep | Overdue | Registered) -> tuple[str, ...]:
        """The step's channels as stored on a planned step: ``also`` ones as "voice:head"."""
        extra = tuple(channel_entry(c, step.also.to) for c in step.also.channels) if step.also else ()
        return (step.channels or self.channels) + extra
