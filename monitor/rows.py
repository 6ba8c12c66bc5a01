"""The shapes of the rows the engine reads in bulk, declared once.

The dispatcher and the deliverer select or return a few columns of many rows
(``RETURNING`` after a claim); each shape here names those columns, and
:func:`columns` turns it into the column list of the statement, so that a
statement and the code reading its rows cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, TypeVar

from sqlalchemy import ColumnElement

from monitor.models import EscalationStep, Notification

Shape = TypeVar("Shape", bound=tuple)


class ClaimedNotification(NamedTuple):
    """A notification this process holds the lease on, with what sending it needs."""

    id: int
    step_id: int
    incident_id: int
    contact_id: int
    channel: str
    to: str
    subject: str | None
    body: str
    html: str | None
    planned_at: datetime
    attempts: int
    step: str
    recipient_name: str
    claimed_until: datetime | None


class StepRow(NamedTuple):
    """An escalation step as it is fired or prepared: what to send, to whom."""

    id: int
    incident_id: int
    obligation_key: str
    kind: str
    occurrence: int
    planned_at: datetime
    recipients: list[str]
    channels: list[str]
    late: bool
    prepared_at: datetime | None


class StepStanding(NamedTuple):
    """Where a step's obligation and its accountability case stand (both may be missing)."""

    id: int
    state: str | None
    due_at: datetime | None
    case_id: int | None
    decision: str | None


def columns(model: type, shape: type[tuple]) -> tuple[ColumnElement, ...]:
    """The columns of ``model`` named by the fields of ``shape``, in its order."""
    return tuple(getattr(model, name) for name in shape._fields)


def typed(shape: type[Shape], rows: Iterable) -> list[Shape]:
    return [shape._make(row) for row in rows]


CLAIMED = columns(Notification, ClaimedNotification)
STEP = columns(EscalationStep, StepRow)
