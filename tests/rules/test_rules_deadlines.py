"""Deadline arithmetic and catch-up: tables of cases, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import load_rules
from rules.deadlines import (
    DueStep,
    due_at,
    fulfilment_state,
    ladder_steps,
    overdue_steps,
    registered_step,
    select_due,
)

RULE = next(r for r in load_rules().rules if r.id == "major_emergency_disclosure")
RELEASE, PRESS = RULE.obligations
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_due_times_follow_the_anchor():
    assert due_at(RELEASE, T0) == T0 + 5 * H
    assert due_at(PRESS, T0) == T0 + 24 * H
    with pytest.raises(ValueError):
        due_at(RELEASE, T0.replace(tzinfo=None))


def test_ladder_times_for_the_release():
    assert [(s.kind, s.planned_at - T0) for s in ladder_steps(RULE, RELEASE, T0)] == [
        ("reminder", 3 * H), ("warning", 4 * H), ("final_warning", 4.5 * H), ("breached", 5 * H)]
    assert [s.planned_at - T0 for s in overdue_steps(RULE, RELEASE, T0 + 5 * H)][:3] == [6 * H, 7 * H, 8 * H]
    assert len(overdue_steps(RULE, PRESS, T0 + 24 * H)) == 12
    notice = registered_step(RULE, T0)
    assert (notice.kind, notice.obligation_key, notice.to) == ("registered", "", ("head",))


@pytest.mark.parametrize(("milestone", "state"), [
    (T0 + 5 * H, "met"), (T0 + 5 * H - timedelta(seconds=1), "met"), (T0 + 5 * H + timedelta(seconds=1), "met_late"),
])
def test_milestone_at_the_deadline_is_still_met(milestone, state):
    assert fulfilment_state(milestone, T0 + 5 * H) == state


def _due(steps, group=("i", "release"), deadline=T0 + 5 * H):
    return [DueStep(n, group, s.kind, s.occurrence, s.planned_at, deadline) for n, s in enumerate(steps)]


ALL_RELEASE = ladder_steps(RULE, RELEASE, T0) + overdue_steps(RULE, RELEASE, T0 + 5 * H)


@pytest.mark.parametrize(("now", "fired", "skipped"), [
    (T0 + 3 * H, ["reminder"], []),
    (T0 + 4 * H + timedelta(minutes=1), ["warning"], ["reminder"]),
    (T0 + 4.9 * H, ["final_warning"], ["reminder", "warning"]),
    (T0 + 5 * H, ["breached"], ["reminder", "warning", "final_warning"]),
    (T0 + 8.5 * H, ["overdue"], ["reminder", "warning", "final_warning", "breached", "overdue", "overdue"]),
])
def test_catch_up_sends_only_the_latest_due_step(now, fired, skipped):
    fire, skip = select_due(_due(ALL_RELEASE), now)
    assert [s.kind for s in fire] == fired
    assert sorted(s.kind for s in skip) == sorted(skipped)


def test_a_lone_warning_is_skipped_once_its_deadline_has_passed():
    warning = [s for s in ladder_steps(RULE, RELEASE, T0) if s.kind == "warning"]
    fire, skip = select_due(_due(warning), T0 + 5 * H)
    assert fire == [] and [s.kind for s in skip] == ["warning"]


def test_the_registered_notice_always_goes_out():
    notice = registered_step(RULE, T0)
    fire, skip = select_due([DueStep(1, ("i", ""), "registered", 1, T0, None)], T0 + 30 * H)
    assert [s.kind for s in fire] == [notice.kind] and skip == []


anchors = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))


@given(anchor=anchors)
def test_no_deadline_or_step_precedes_its_anchor(anchor):
    for obligation in RULE.obligations:
        assert due_at(obligation, anchor) > anchor
        assert all(s.planned_at >= anchor for s in ladder_steps(RULE, obligation, anchor))


@given(anchor=anchors, elapsed=offsets)
def test_catch_up_sends_at_most_one_step_per_obligation(anchor, elapsed):
    steps = []
    for obligation in RULE.obligations:
        due = due_at(obligation, anchor)
        planned = ladder_steps(RULE, obligation, anchor) + overdue_steps(RULE, obligation, due)
        steps += [DueStep(len(steps) + n, obligation.key, s.kind, s.occurrence, s.planned_at, due)
                  for n, s in enumerate(planned)]
    fire, skip = select_due(steps, anchor + elapsed)
    assert len(fire) <= len(RULE.obligations)
    assert len({s.group for s in fire}) == len(fire)
    due_now = [s for s in steps if s.planned_at <= anchor + elapsed]
    assert len(fire) + len(skip) == len(due_now)
    for step in fire:
        assert step.kind not in ("reminder", "warning", "final_warning") or anchor + elapsed < step.deadline


@given(anchor=anchors, before=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=5)))
def test_a_milestone_before_the_deadline_never_yields_a_breach(anchor, before):
    due = due_at(RELEASE, anchor)
    assert fulfilment_state(due - before, due) == "met"
