"""Deadline arithmetic: pure functions of a rule, an anchor time and ``now``.

Nothing here reads a clock or a database; the service passes ``now`` in, and
for limits counted in working days the calendar and the local time zone
(:class:`rules.workdays.WorkTime`). Limits in hours are never shifted: a legal
emergency deadline is 5 hours whatever the day.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rules.schema import (
    END_OF_DAY,
    LADDER_KINDS,
    MIN_OVERDUE_EVERY,
    OFFICE_OPENS,
    LadderStep,
    Obligation,
    Overdue,
    Rule,
    WorkingDays,
)
from rules.vocabulary import INCIDENT_NOTICES, PRE_DEADLINE_KINDS, ObligationState, StepKind
from rules.workdays import WorkTime

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


@dataclass(frozen=True)
class Deadline:
    at: datetime
    # Counted past the calendar's last covered year, on weekends alone (SPEC §13.2).
    calendar_incomplete: bool = False


def _work_time(worktime: WorkTime | None, obligation: Obligation) -> WorkTime:
    if worktime is None:
        raise ValueError(f"{obligation.key} is counted in working days: pass the calendar and time zone (WorkTime)")
    return worktime


def deadline(obligation: Obligation, anchor: datetime, worktime: WorkTime | None = None) -> Deadline:
    """When ``obligation`` falls due for a clock started at ``anchor``. In
    working days the count starts the day after the local day of ``anchor``."""
    anchor = _aware(anchor, "anchor")
    if not isinstance(obligation.due, WorkingDays):
        return Deadline(anchor + obligation.due)
    work = _work_time(worktime, obligation)
    reached = work.calendar.shift(work.local_day(anchor), obligation.due.days)
    return Deadline(work.moment(reached.day, obligation.due.at or END_OF_DAY), reached.incomplete)


def due_at(obligation: Obligation, anchor: datetime, worktime: WorkTime | None = None) -> datetime:
    return deadline(obligation, anchor, worktime).at


def _step_at(step: LadderStep, obligation: Obligation, due: datetime, worktime: WorkTime | None) -> datetime:
    if not isinstance(step.at, WorkingDays):
        return due + step.at
    work = _work_time(worktime, obligation)
    day = work.calendar.shift(work.local_day(due), step.at.days).day
    return work.moment(day, step.at.at or OFFICE_OPENS)


def ladder_steps(rule: Rule, obligation: Obligation, anchor: datetime,
                 worktime: WorkTime | None = None) -> list[PlannedStep]:
    """The steps around one deadline; overdue repeats come later, at the breach."""
    return ladder_steps_at(rule, obligation, due_at(obligation, anchor, worktime), worktime)


def ladder_steps_at(rule: Rule, obligation: Obligation, due: datetime, worktime: WorkTime | None = None,
                    round_: int = 1) -> list[PlannedStep]:
    """The ladder around a deadline given as a time (an extended one too),
    with steps in working days at office hours like any other (SPEC §13.3)."""
    due = _aware(due, "due")
    return [
        PlannedStep(obligation.key, step.step, round_, _step_at(step, obligation, due, worktime), step.to,
                    rule.channels_for(step))
        for step in obligation.ladder
    ]


# The ladder planned for an extended deadline is a second round of the
# ladder (the steps of the first may have gone out already: SPEC §13.3).
EXTENDED_ROUND = 2


def extended_deadline(obligation: Obligation, anchor: datetime, working_days: int,
                      worktime: WorkTime | None) -> Deadline:
    """SPEC §13.3: the rule's deadline for ``anchor`` extended by ``working_days``
    working days, ending at 23:59:59 local time (or the time of day the rule
    gives a deadline in working days) of the ``working_days``-th working day
    after the local day of that deadline."""
    if working_days < 1:
        raise ValueError("an extension is at least one working day")
    rule_due = deadline(obligation, anchor, worktime)
    work = _work_time(worktime, obligation)
    reached = work.calendar.shift(work.local_day(rule_due.at), working_days)
    at = (obligation.due.at if isinstance(obligation.due, WorkingDays) else None) or END_OF_DAY
    return Deadline(work.moment(reached.day, at), rule_due.calendar_incomplete or reached.incomplete)


def _repeats(repeat: Overdue, obligation: Obligation, due: datetime, worktime: WorkTime | None) -> list[datetime]:
    if not isinstance(repeat.every, WorkingDays):
        return [due + n * repeat.every for n in range(1, repeat.max + 1)]
    work = _work_time(worktime, obligation)
    day, at = work.local_day(due), repeat.every.at or OFFICE_OPENS
    # Never sooner after the deadline than the engine's shortest repeat
    # (monitor.dispatch.FRESH_BREACH relies on it), whatever the time of day.
    earliest = due + MIN_OVERDUE_EVERY
    return [max(work.moment(work.calendar.shift(day, n * repeat.every.days).day, at), earliest)
            for n in range(1, repeat.max + 1)]


def overdue_steps(rule: Rule, obligation: Obligation, due: datetime,
                  worktime: WorkTime | None = None) -> list[PlannedStep]:
    if obligation.overdue is None:
        return []
    repeat = obligation.overdue
    return [
        PlannedStep(obligation.key, StepKind.OVERDUE, n, at, repeat.to, rule.channels_for(repeat))
        for n, at in enumerate(_repeats(repeat, obligation, due, worktime), 1)
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

