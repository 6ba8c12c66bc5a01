"""Whether a step's message still means something when it goes out late.

A first send goes out the moment its step fires, so it is never checked here
(one fired ahead is checked when its moment comes, monitor/on_time.py).
A retry, a fallback to the other channel or a lease reclaimed after a crash
can come minutes later: by then the duty may be done, waived or decided, and a
"30 minutes left" would be a lie. Just before they are sent, :class:`Recheck`
skips those whose step :func:`why_stale` finds stale (one query for the batch)
and renders the others again, as of the moment they go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import timeline
from monitor.bulk import among
from monitor.messages import Directory, DirectoryLoader, render_notification
from monitor.metrics import Metrics
from monitor.models import AccountabilityCase, Contact, EscalationStep, Notification, Obligation
from monitor.planning import SCHEDULER
from monitor.rows import ClaimedNotification, StepStanding, typed
from monitor.settings import Settings
from rules.vocabulary import (
    PRE_DEADLINE_KINDS,
    UNMET,
    Decision,
    NotificationState,
    ObligationState,
    Outcome,
    StepKind,
    TimelineKind,
)

log = structlog.get_logger("sunclock.delivery")

class Duty(Protocol):
    state: str
    due_at: datetime


def why_stale(kind: str, obligation: Duty | None, case_decision: str | None, now: datetime) -> str | None:
    """Why a message of step ``kind`` would no longer be true at ``now``, or None
    while it still is. ``obligation`` is None for an incident-wide notice (the
    ``registered`` step); ``case_decision`` is that of the obligation's
    accountability case, None when it has none."""
    if obligation is None:
        return None
    if obligation.state not in UNMET:
        return f"its obligation is {obligation.state}"
    if kind in PRE_DEADLINE_KINDS and now >= obligation.due_at:
        return "its deadline has passed"
    if kind == StepKind.BREACHED and now < obligation.due_at:
        return "its deadline lies in the future again"
    if kind == StepKind.OVERDUE:
        if obligation.state != ObligationState.BREACHED:
            return "its obligation is no longer breached"
        if case_decision not in (None, Decision.PENDING):
            return f"its accountability case was decided ({case_decision})"
    return None


async def stale_steps(session: AsyncSession, steps: Iterable[tuple[int, str]], now: datetime) -> dict[int, str]:
    """Of ``(step id, step kind)`` pairs, the steps whose messages are stale at
    ``now``, with the reason; one query for the whole batch."""
    kinds = dict(steps)
    if not kinds:
        return {}
    rows = typed(StepStanding, await session.execute(
        select(EscalationStep.id, Obligation.state, Obligation.due_at, AccountabilityCase.id,
               AccountabilityCase.decision)
        .outerjoin(Obligation, Obligation.id == EscalationStep.obligation_id)
        .outerjoin(AccountabilityCase, AccountabilityCase.obligation_id == Obligation.id)
        .where(among(session, EscalationStep.id, list(kinds)))))
    # An obligation breached, withdrawn and breached again may have had two
    # cases: the latest one speaks.
    latest: dict[int, StepStanding] = {}
    for row in rows:
        if row.id not in latest or (row.case_id or 0) > (latest[row.id].case_id or 0):
            latest[row.id] = row
    stale = {}
    for step_id, row in latest.items():
        duty = row if row.state is not None else None
        if (reason := why_stale(kinds[step_id], duty, row.decision, now)) is not None:
            stale[step_id] = reason
    return stale


_N = Notification.__table__.c
_SKIPPED = (update(Notification.__table__)
            .where(_N.id == bindparam("nid"), _N.claim_token == bindparam("tok"), _N.state == NotificationState.SENDING)
            .values(state=NotificationState.SKIPPED, claimed_until=None, attempts=_N.attempts - 1,
                    last_error=bindparam("why")))
_TEXT = (update(Notification.__table__).where(_N.id == bindparam("nid"))
         .values(subject=bindparam("new_subject"), body=bindparam("new_body"), html=bindparam("new_html")))


@dataclass(kw_only=True)
class Recheck:
    """Retries, fallbacks and reclaimed leases, just before they go out (§4.5):
    a message whose step no longer means anything is skipped, the others are
    rendered again, so that they tell the time left now, not at their first try."""

    settings: Settings
    metrics: Metrics
    load_directory: DirectoryLoader = Directory.load

    async def __call__(self, session: AsyncSession, claimed: list[ClaimedNotification], now: datetime,
                       token: str) -> list[ClaimedNotification]:
        return await self._render_again(session, await self.skip_stale(session, claimed, now, token), now)

    async def skip_stale(self, session: AsyncSession, claimed: list[ClaimedNotification], now: datetime,
                         token: str) -> list[ClaimedNotification]:
        """The claimed rows still true at ``now``; the others are skipped. (Messages
        fired ahead are checked so at their moment, monitor/on_time.py: their text
        already reads as of it.)"""
        stale = await stale_steps(session, {(row.step_id, row.step) for row in claimed}, now)
        if stale:
            await self._skip(session, [row for row in claimed if row.step_id in stale], stale, token, now)
        return [row for row in claimed if row.step_id not in stale]

    async def _skip(self, session: AsyncSession, rows: list[ClaimedNotification], stale: dict[int, str], token: str,
                    now: datetime) -> None:
        """Claimed messages that will not be sent (no attempt is counted), with
        their reason on the timeline, one entry per step."""
        await session.execute(_SKIPPED, [{"nid": r.id, "tok": token, "why": f"skipped: {stale[r.step_id]}"}
                                         for r in rows])
        by_step: dict[int, list[ClaimedNotification]] = {}
        for row in sorted(rows, key=lambda r: r.id):
            by_step.setdefault(row.step_id, []).append(row)
            self.metrics.notifications.labels(row.channel, Outcome.SKIPPED).inc()
            log.info("notification_skipped", notification_id=row.id, incident_id=row.incident_id, step=row.step,
                     channel=row.channel, to=row.to, reason=stale[row.step_id])
        await timeline.record_many(session, [timeline.entry(
            same[0].incident_id, TimelineKind.NOTIFICATION_SKIPPED, SCHEDULER, now, step=same[0].step,
            recipient=", ".join(dict.fromkeys(r.recipient_name for r in same)),
            channel=", ".join(dict.fromkeys(r.channel for r in same)), why=stale[step_id])
            for step_id, same in by_step.items()])

    async def _render_again(self, session: AsyncSession, rows: list[ClaimedNotification],
                            now: datetime) -> list[ClaimedNotification]:
        """The claimed rows with their text rendered as of ``now``, stored too (the
        record shows what was sent); a few queries for the whole batch."""
        if not rows:
            return rows
        steps = {s.id: s for s in (await session.exec(select(EscalationStep).where(
            among(session, EscalationStep.id, list({r.step_id for r in rows}))))).scalars()}
        contacts = {c.id: c for c in (await session.exec(select(Contact).where(
            among(session, Contact.id, list({r.contact_id for r in rows}))))).scalars()}
        directory = await self.load_directory(session, {r.incident_id for r in rows})
        fresh, params = [], []
        for row in rows:
            content = render_notification(directory, steps[row.step_id], contacts[row.contact_id], row.channel, now,
                                          self.settings)
            text = {"subject": content["subject"], "body": content["body"], "html": content["html"]}
            params.append({"nid": row.id} | {f"new_{k}": v for k, v in text.items()})
            fresh.append(row._replace(**text))
        await session.execute(_TEXT, params)
        return fresh
