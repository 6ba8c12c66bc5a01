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
    field_validator,
    model_validator,
)

from rules.vocabulary import (
    DEFAULT_CHANNELS,
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
    at: Duration = Field(description="offset from the deadline; negative before it")
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    also: Also | None = None

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
    also: Also | None = None

    @field_validator("every")
    @classmethod
    def _positive(cls, every: timedelta) -> timedelta:
        if every < MIN_OVERDUE_EVERY:
            raise ValueError("overdue repeats must be at least 1m apart")
        return every


class Obligation(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=100)
    title_en: str | None = Field(default=None, max_length=100)
    due: Duration
    ladder: tuple[LadderStep, ...] = ()
    overdue: Overdue | None = None

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


class Registered(_Strict):
    to: tuple[Recipient, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    also: Also | None = None


class AppliesTo(_Strict):
    severities: tuple[Severity, ...] = Field(min_length=1)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    applies_to: AppliesTo
    anchor: Literal["occurred_at"] = "occurred_at"
    channels: tuple[Channel, ...] = Field(default=DEFAULT_CHANNELS, min_length=1)
    registered: Registered | None = None
    obligations: tuple[Obligation, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> Rule:
        if repeated := _repeated([o.key for o in self.obligations]):
            raise ValueError(f"obligation key {repeated} is used more than once")
        return self

    @model_validator(mode="after")
    def _also_adds_channels_for_some_recipients(self) -> Rule:
        steps = [("registered", self.registered)] + [
            (where, step) for n, o in enumerate(self.obligations) for where, step in (
                *((f"obligations[{n}].ladder[{i}]", s) for i, s in enumerate(o.ladder)),
                (f"obligations[{n}].overdue", o.overdue))]
        for where, step in steps:
            if step is None or step.also is None:
                continue
            if outside := [g for g in step.also.to if g not in step.to]:
                raise ValueError(f"{where}: also.to names {', '.join(outside)}, who is not in this step's to")
            if twice := [c for c in step.also.channels if c in (step.channels or self.channels)]:
                raise ValueError(f"{where}: also.channels names {', '.join(twice)}, which the step already uses "
                                 "for all its recipients")
        return self

    def applies(self, severity: str) -> bool:
        return severity in self.applies_to.severities

    def channels_for(self, step: LadderStep | Overdue | Registered) -> tuple[str, ...]:
        """The step's channels as stored on a planned step: ``also`` ones as "voice:head"."""
        extra = tuple(channel_entry(c, step.also.to) for c in step.also.channels) if step.also else ()
        return (step.channels or self.channels) + extra
