"""Keep publishing (持续发布, SPEC §13.4): obligations that come again.

A rule's ``recurring`` entry starts a series once its anchor obligation is met:
occurrence ``key#1`` is due ``every`` after that milestone, ``key#n+1`` is due
``every`` after the milestone of ``key#n``. Each occurrence is an ordinary
obligation row with its own ladder, breach and accountability case; only the
way it comes into being is particular, and how it ends: the duty lasts while
the incident is open, so closing waives an occurrence still pending (one
already breached keeps its breach and case, and is handled like any unmet duty).
An update a supervisor waives while the incident is open does not end the
series: the next one is due ``every`` after the waived one's deadline.

Occurrences are anchored on milestones, not on the start time: a start-time
correction does not move them. A severity change out of the rule's scope asks
for a waiver of the pending occurrence like any other duty, and no new
occurrence starts while out of scope; coming back into scope takes the series
up again from the last publication.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import planning, timeline
from monitor.models import Incident, Obligation
from rules import Rule, RuleSet
from rules.schema import Recurring, split_occurrence
from rules.vocabulary import UNMET, IncidentState, TimelineKind, WaiverState

FULFILLED = (planning.MET, planning.MET_LATE)


def occurrences(rows: dict[str, Obligation], series: Recurring) -> list[tuple[int, Obligation]]:
    """The stored occurrences of a series, first to last."""
    found = []
    for key, row in rows.items():
        base, n = split_occurrence(key)
        if base == series.key and n is not None:
            found.append((n, row))
    return sorted(found, key=lambda pair: pair[0])


async def continue_series(session: AsyncSession, incident: Incident, rules: RuleSet, now: datetime,
                          actor: str) -> list[Obligation]:
    """Start or continue every series of the rules that apply to an open
    incident, after a milestone or a severity change. Returns the new occurrences."""
    if incident.state != IncidentState.OPEN:
        return []
    rows = {o.key: o for o in (await session.exec(
        select(Obligation).where(Obligation.incident_id == incident.id))).scalars()}
    started = []
    for rule in rules.applicable(incident.kind, incident.severity):
        for series in rule.recurring:
            if (row := await _continue(session, incident, rule, series, rows, rules, now, actor)) is not None:
                started.append(row)
    return started


async def _continue(session: AsyncSession, incident: Incident, rule: Rule, series: Recurring,
                    rows: dict[str, Obligation], rules: RuleSet, now: datetime, actor: str) -> Obligation | None:
    stored = occurrences(rows, series)
    if stored:
        n, last = stored[-1]
        if last.state in UNMET:
            # Planned again as a correction would: a waiver requested when the
            # incident left the rule's scope lapses now that it is back.
            anchor = _anchor(rows, series, stored[-2][1] if len(stored) > 1 else None)
            if anchor is not None:
                await planning.replan_obligation(session, incident, rule, series.occurrence(n), last, rules, now,
                                                 actor, anchor=anchor)
            return None
        n, anchor = n + 1, _anchor(rows, series, last)
    else:
        n, anchor = 1, _anchor(rows, series, None)
    if anchor is None:
        return None
    spec = series.occurrence(n)
    row = await planning.add_obligation(session, incident, rule, spec, anchor, rules)
    rows[row.key] = row
    await planning.replan_obligation(session, incident, rule, spec, row, rules, now, actor, anchor=anchor)
    return row


def _anchor(rows: dict[str, Obligation], series: Recurring, previous: Obligation | None) -> datetime | None:
    """What the occurrence after ``previous`` (None: the first) is counted from:
    the publication that met the anchor obligation or the previous occurrence,
    or the deadline of a previous occurrence a supervisor waived, for the duty
    lasts as long as the incident is open. None: the series has not started."""
    if previous is None:
        first = rows.get(series.after)
        return first.fulfilled_at if first is not None and first.state in FULFILLED else None
    return previous.fulfilled_at if previous.state in FULFILLED and previous.fulfilled_at else previous.due_at


async def end_series(session: AsyncSession, incident: Incident, now: datetime, actor: str, reason: str) -> list[str]:
    """Closing ends every series: an occurrence still pending is waived with the
    closing reason, not left to a supervisor, because the duty to keep
    publishing lasts only while the incident is open. Returns the keys waived."""
    assert incident.id is not None
    pending = [o for o in (await session.exec(select(Obligation).where(
        Obligation.incident_id == incident.id, Obligation.state == planning.PENDING))).scalars()
        if split_occurrence(o.key)[1] is not None]
    for row in pending:
        row.state = planning.WAIVED
        row.waiver_state, row.waiver_reason = WaiverState.GRANTED, reason
        row.waiver_requested_by = row.waiver_decided_by = actor
        row.waiver_requested_at = row.waiver_decided_at = now
        await planning.cancel_steps(session, incident.id, row.key)
    keys = [row.key for row in pending]
    if keys:
        await timeline.record(session, incident.id, TimelineKind.SERIES_ENDED, actor, now, obligations=keys,
                              reason=reason)
    return keys
