"""The stored tables.

The planned escalation steps are the single truth of what will fire; the
scheduler only asks the database what is due (indexes on ``(state, due time)``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import AutoString, Field, SQLModel

from monitor.db import UTCDateTime
from rules.vocabulary import Decision, IncidentState, MatterKind, NotificationState, ObligationState, StepState


def _time(index: bool = False, nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


class Department(SQLModel, table=True):
    # Codes are unique regardless of case: EMB and emb are one department (migration 0006).
    __table_args__ = (Index("uq_department_code_upper", text("upper(code)"), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    supervisory: bool = False
    created_at: datetime = _time()
    # Its district (SPEC §14.1); a one-district install keeps them all in ``default``.
    district_id: int | None = Field(default=None, foreign_key="district.id", index=True)


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)  # a ContactRole
    mobile: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    retired_at: datetime | None = _time(nullable=True)  # replaced in the department; kept for the record


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=32)  # a Role
    department_id: int | None = Field(default=None, foreign_key="department.id")
    password_hash: str | None = Field(default=None, max_length=256)
    active: bool = True
    created_at: datetime = _time()
    # Scoped to one district: sees and acts on its departments only (SPEC §14.1).
    district_id: int | None = Field(default=None, foreign_key="district.id")


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _time()


class PageSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries the random id, this row says
    whether it still counts (SPEC §12.2). Deleted at sign-out and on revoke."""

    id_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 of the id in the cookie
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _time()
    expires_at: datetime = _time()
    # Of the password hash at sign-in: a new password ends the session.
    password_fingerprint: str = Field(max_length=64)


class AppSecret(SQLModel, table=True):
    """Values generated at first start and shared by every replica (the signing key)."""

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=256)
    created_at: datetime = _time()


class IncidentBase(SQLModel):
    """What is said of an incident when it is registered, declared once for the
    table, the request body (monitor.schemas.IncidentCreate, which narrows the
    types to what a request may send) and the answer (IncidentPublic).

    Column sizes go in ``sa_type``, not ``max_length``: the answer states no limits."""

    title: str = Field(sa_type=AutoString(200))
    severity: str = Field(sa_type=AutoString(3))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    description: str | None = Field(sa_type=Text)
    location: str | None = Field(sa_type=AutoString(200))


class Incident(IncidentBase, table=True):
    __table_args__ = (Index("ix_incident_state_registered", "state", "registered_at"),)

    id: int | None = Field(default=None, primary_key=True)
    registered_at: datetime = _time()
    department_id: int = Field(foreign_key="department.id", index=True)
    kind: str = Field(default=MatterKind.EMERGENCY, max_length=24)  # a MatterKind (SPEC §13.1)
    state: str = Field(default=IncidentState.OPEN, max_length=16)
    registered_by: str = Field(max_length=64)
    closed_at: datetime | None = _time(nullable=True)
    close_reason: str | None = Field(default=None, sa_type=Text)


class Obligation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("incident_id", "key", name="uq_obligation_incident_key"),
        Index("ix_obligation_state_due", "state", "due_at"),
        # The few deadlines counted past the calendar, found at every start
        # (monitor/recount.py) without reading every obligation.
        Index("ix_obligation_calendar_incomplete", "incident_id", sqlite_where=text("calendar_incomplete = 1"),
              postgresql_where=text("calendar_incomplete")),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    rule_id: str = Field(max_length=64)
    key: str = Field(max_length=64)
    title: str = Field(max_length=100)
    due_at: datetime = _time()
    state: str = Field(default=ObligationState.PENDING, max_length=16)
    fulfilled_at: datetime | None = _time(nullable=True)
    breached_at: datetime | None = _time(nullable=True)
    evidence_url: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, sa_type=Text)
    recorded_at: datetime | None = _time(nullable=True)
    recorded_by: str | None = Field(default=None, max_length=64)
    # A duty is never cancelled, only waived by a supervisor (SPEC §11): closing
    # or leaving a rule's scope requests a waiver; the clock runs until decided.
    waiver_state: str | None = Field(default=None, max_length=16)  # a WaiverState
    waiver_reason: str | None = Field(default=None, sa_type=Text)
    waiver_requested_by: str | None = Field(default=None, max_length=64)
    waiver_requested_at: datetime | None = _time(nullable=True)
    waiver_decided_by: str | None = Field(default=None, max_length=64)
    waiver_decided_at: datetime | None = _time(nullable=True)
    waiver_decision_reason: str | None = Field(default=None, sa_type=Text)
    # A working-day deadline past the last year the calendar covers, counted on
    # weekends alone (SPEC §13.2).
    calendar_incomplete: bool = False
    # The one extension a disclosure request's reply may get (SPEC §13.3).
    extended_working_days: int | None = None
    extension_reason: str | None = Field(default=None, sa_type=Text)
    extended_by: str | None = Field(default=None, max_length=64)
    extended_at: datetime | None = _time(nullable=True)


class EscalationStep(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("incident_id", "obligation_key", "kind", "occurrence", name="uq_step_identity"),
        Index("ix_step_state_planned", "state", "planned_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation_id: int | None = Field(default=None, foreign_key="obligation.id")
    obligation_key: str = Field(max_length=64)  # "" for the incident-wide registered notice
    kind: str = Field(max_length=16)  # a StepKind
    occurrence: int = 1
    planned_at: datetime = _time()
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))  # Recipient groups
    channels: list[str] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=StepState.PLANNED, max_length=16)
    fired_at: datetime | None = _time(nullable=True)
    late: bool = False
    # When its messages were rendered ahead into PreparedNotification (see
    # monitor.dispatch.Dispatcher.prepare); None when not, or when that was invalidated.
    prepared_at: datetime | None = _time(nullable=True)
    # Recipient groups other than the deputies that resolved to nobody when it
    # fired (e.g. "supervisors" with no supervisory office): a gap, counted in
    # sunclock_steps_undeliverable_total even when somebody else was reached.
    unreached_groups: str | None = Field(default=None, max_length=64)


class Notification(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("step_id", "contact_id", "channel", name="uq_notification_identity"),
        Index("ix_notification_state_next", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="escalationstep.id")
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation_key: str = Field(max_length=64)
    step: str = Field(max_length=16)  # a StepKind
    contact_id: int = Field(foreign_key="contact.id")
    recipient_name: str = Field(max_length=100)
    channel: str = Field(max_length=8)  # a Channel
    to: str = Field(max_length=254, index=True)
    state: str = Field(default=NotificationState.PENDING, max_length=16)
    attempts: int = 0
    planned_at: datetime = _time()
    next_attempt_at: datetime | None = _time(nullable=True)
    claimed_until: datetime | None = _time(nullable=True)
    claim_token: str | None = Field(default=None, max_length=32)
    send_started_at: datetime | None = _time(nullable=True)
    sent_at: datetime | None = _time(nullable=True)
    delivered_at: datetime | None = _time(nullable=True)
    late: bool = False
    provider: str | None = Field(default=None, max_length=16)
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    fallback_of: int | None = Field(default=None, foreign_key="notification.id")
    subject: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)


class PreparedNotification(SQLModel, table=True):
    """A step's message rendered shortly before the step is due, so that at its
    time firing is a copy into ``notification`` instead of rendering thousands
    of messages on the deadline. Only a cache: no foreign keys, deleted when the
    step fires, is skipped or cancelled, or when what it says may have changed."""

    step_id: int = Field(primary_key=True)
    contact_id: int = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=8)
    incident_id: int = Field(index=True)
    obligation_key: str = Field(max_length=64)
    step: str = Field(max_length=16)
    recipient_name: str = Field(max_length=100)
    to: str = Field(max_length=254)
    # No index: the table holds about a minute of messages, and SQLite would
    # rather search a burst's thousands of equal times than the primary key.
    planned_at: datetime = _time()
    subject: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)


class Acknowledgement(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("step_id", "contact_id", name="uq_ack_step_contact"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    step_id: int = Field(foreign_key="escalationstep.id")
    contact_id: int = Field(foreign_key="contact.id")
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    via: str = Field(max_length=8)  # link | sms | voice
    at: datetime = _time()


class TimelineEntry(SQLModel, table=True):
    """Written only through monitor.timeline, which chains the hashes; the
    database refuses UPDATE and DELETE of these rows (migration 0004)."""

    # An incident's chain in order, and its head (the highest id) from the index alone.
    __table_args__ = (Index("ix_timelineentry_incident_chain", "incident_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = _time()
    kind: str = Field(max_length=32)  # a TimelineKind
    actor: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)  # the hash of the incident's entry before this one; "" for the first
    hash: str = Field(max_length=64)  # monitor.timeline.entry_hash


class AccountabilityCase(SQLModel, table=True):
    # One case per obligation (SPEC §11.4): breaching again after a withdrawn
    # breach reuses it (monitor.planning.breach_many). Earlier versions could
    # open a second case then, so the stored key stays (obligation, breach time).
    __table_args__ = (UniqueConstraint("obligation_id", "breached_at", name="uq_case_breach"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation_id: int = Field(foreign_key="obligation.id")
    department_id: int = Field(foreign_key="department.id")
    breached_at: datetime = _time()
    decision: str = Field(default=Decision.PENDING, max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    decided_at: datetime | None = _time(nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    # A correction moved the deadline back into the future; the case stays for the supervisor.
    breach_withdrawn: bool = False


class SignInFailure(SQLModel, table=True):
    """Failed sign-ins of one user name from one client address (monitor.throttle),
    in the database so that every replica refuses alike. The row with an empty
    ``name`` counts a client's failures over all names."""

    name: str = Field(primary_key=True, max_length=64)
    client: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    last_failed_at: datetime = _time(index=True)
    blocked_until: datetime | None = _time(nullable=True)


class BoardLink(SQLModel, table=True):
    """A read-only link to the board for a wall screen (issue 19): long-lived,
    board-only, revocable by an admin; the link carries the token, this row its hash."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=64)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)
    last_seen_at: datetime | None = _time(nullable=True)


class SignInEvent(SQLModel, table=True):
    """The sign-in audit log (等保): who tried, when, from where, and whether it worked."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    name: str = Field(max_length=64)
    client: str = Field(max_length=64)
    success: bool
    outcome: str = Field(max_length=32)  # a SignInOutcome


DEFAULT_DISTRICT = "default"  # the district of a single-district deployment (migration 0009)


class District(SQLModel, table=True):
    """A district (区/县) of a city's deployment (SPEC §14.1); ``default`` is built in."""

    __table_args__ = (Index("uq_district_code_upper", text("upper(code)"), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = _time()


class StandIn(SQLModel, table=True):
    """While a contact is away, messages meant for them go to a stand-in (代理, SPEC §14.3).

    The stand-in is a contact row of the department (``standin_contact_id``, role
    ``standin``, retired from the start so that no recipient group and no roster
    lists it): a notification, an acknowledgement and an SMS reply name it like
    anyone else's."""

    __table_args__ = (Index("ix_standin_contact_period", "contact_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    contact_id: int = Field(foreign_key="contact.id")
    standin_contact_id: int = Field(foreign_key="contact.id")
    starts_at: datetime = _time()
    ends_at: datetime = _time()
    reason: str = Field(sa_type=Text)
    created_by: str = Field(max_length=64)
    created_at: datetime = _time()
