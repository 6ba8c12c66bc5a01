"""Deadline arithmetic: pure functions of a rule, an anchor time and ``now``.

Nothing here reads a clock or a database; the service passes ``now`` in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

from rules.schema import LADDER_KINDS, Obligation, Rule
from rules.vocabulary import INCIDENT_NOTICES, PRE_DEADLINE_KINDS, ObligationState, StepKind
from rules.workdays import WorkCalendar

REGISTERED = StepKind.REGISTERED
# Supervisors are told that a waiver of unmet duties was requested (SPEC §11.1).
WAIVER_REQUESTED = StepKind.WAIVER_REQUESTED
INCIDENT_WIDE = ""  # obligation key of the incident-wide notices


@dataclass(frozen=True)
class PlannedStep:
    obligation_key: str  # INCIDENT_WIDE for the registered notice
    kind: str
    occurrence: int
    planned_at: datetime
    to: tuple[str, ...]
    channels: tuple[str, ...]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def due_at(obligation: Obligation, anchor: datetime) -> datetime:
    return _aware(anchor, "anchor") + obligation.due


def ladder_steps(rule: Rule, obligation: Obligation, anchor: datetime) -> list[PlannedStep]:
    """The steps around one deadline; overdue repeats come later, at the breach."""
    due = due_at(obligation, anchor)
    return [
        PlannedStep(obligation.key, step.step, 1, due + step.at, step.to, rule.channels_for(step))
        for step in obligation.ladder
    ]


def overdue_steps(rule: Rule, obligation: Obligation, due: datetime) -> list[PlannedStep]:
    if obligation.overdue is None:
        return []
    repeat = obligation.overdue
    return [
        PlannedStep(obligation.key, StepKind.OVERDUE, n, due + n * repeat.every, repeat.to, rule.channels_for(repeat))
        for n in range(1, repeat.max + 1)
    ]


def registered_step(rule: Rule, registered_at: datetime) -> PlannedStep | None:
    if rule.registered is None:
        return None
    return PlannedStep(
        INCIDENT_WIDE, REGISTERED, 1, _aware(registered_at, "registered_at"),
        rule.registered.to, rule.channels_for(rule.registered),
    )


def fulfilment_state(milestone_at: datetime, due: datetime) -> ObligationState:
    """``met`` when the milestone is at or before the deadline, else ``met_late``."""
    return ObligationState.MET if milestone_at <= due else ObligationState.MET_LATE


def is_overdue(due: datetime, now: datetime) -> bool:
    return now >= due


@dataclass(frozen=True)
class DueStep:
    id: int
    group: Hashable  # steps of one obligation of one incident share a group
    kind: str
    occurrence: int
    planned_at: datetime
    deadline: datetime | None  # the obligation's due time; None for the registered notice


# Of steps due at the same moment, the later rung of the ladder wins; overdue repeats come last.
_KIND_ORDER = {kind: rank for rank, kind in enumerate((*LADDER_KINDS, StepKind.OVERDUE))}


def select_due(steps: Iterable[DueStep], now: datetime) -> tuple[list[DueStep], list[DueStep]]:
    """Split steps whose time has come into those to send and those to skip.

    Catch-up (SPEC §4.5): of several due steps of one obligation only the latest
    is sent; a warning whose deadline has passed is never sent; the notices
    about the whole incident (registered, waiver requested) always go out.
    """
    groups: dict[Hashable, list[DueStep]] = {}
    fire: list[DueStep] = []
    skip: list[DueStep] = []
    for step in steps:
        if step.planned_at > now:
            continue
        if step.kind in INCIDENT_NOTICES:
            fire.append(step)
        else:
            groups.setdefault(step.group, []).append(step)
    for members in groups.values():
        members.sort(key=lambda s: (s.planned_at, _KIND_ORDER.get(s.kind, 9), s.occurrence))
        *older, latest = members
        skip.extend(older)
        too_late = latest.kind in PRE_DEADLINE_KINDS and latest.deadline is not None and now >= latest.deadline
        (skip if too_late else fire).append(latest)
    return fire, skip


# The ladder planned for an extended deadline is a second round of the
# ladder (the steps of the first may have gone out already: SPEC §13.3).
EXTENDED_ROUND = 2


def ladder_steps_at(rule: Rule, obligation: Obligation, due: datetime, round_: int = 1) -> list[PlannedStep]:
    """The ladder around a deadline given as a time (an extended or recurring one)."""
    due = _aware(due, "due")
    return [PlannedStep(obligation.key, step.step, round_, due + step.at, step.to, rule.channels_for(step))
            for step in obligation.ladder]


@dataclass(frozen=True)
class WorkingTime:
    """The working-day calendar and the local time zone a legal clock counts in."""

    calendar: WorkCalendar
    zone: tzinfo


@dataclass(frozen=True)
class Extended:
    due: datetime
    calendar_incomplete: bool  # counted past the last year the calendar covers


# The end of a local day, as the law counts a deadline given in days.
END_OF_DAY = time(23, 59, 59)


def extended_due(due: datetime, working_days: int, working: WorkingTime) -> Extended:
    """SPEC §13.3: 23:59:59 local time of the ``working_days``-th working day
    after the local day of the current deadline."""
    if working_days < 1:
        raise ValueError("an extension is at least one working day")
    day = working.calendar.shift(_aware(due, "due").astimezone(working.zone).date(), working_days)
    return Extended(datetime.combine(day.day, END_OF_DAY, tzinfo=working.zone).astimezone(UTC), day.incomplete)
