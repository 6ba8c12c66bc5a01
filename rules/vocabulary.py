"""Sunclock's vocabulary, declared once.

Every state, kind and role the service stores, sends, shows or counts is one
of these. They are ``StrEnum``s, so a member *is* its string: the database,
the API, metric labels and the command line keep the same values as before,
and a misspelt name fails at import instead of silently matching nothing.
The words people read for them live in the translations (``monitor.pages.i18n``
and the message templates), keyed by these values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal


def one_of(*members: StrEnum) -> Any:
    """A ``Literal`` of some members' values, for a field that takes only those.

    pydantic then names exactly them when it refuses a value ("Input should be
    'granted' or 'refused'"), and the OpenAPI enum lists the same strings.
    """
    return Literal[tuple(member.value for member in members)]


class Language(StrEnum):
    """The languages Sunclock writes pages and messages in."""

    ZH = "zh"
    EN = "en"


class Severity(StrEnum):
    """国家突发事件分级: especially major, major, large, general."""

    I = "I"  # noqa: E741 - the level's name
    II = "II"
    III = "III"
    IV = "IV"


class MatterKind(StrEnum):
    """The kinds of matter whose legal clocks Sunclock keeps (SPEC §13)."""

    EMERGENCY = "emergency"
    PUBLIC_OPINION = "public_opinion"
    DISCLOSURE_REQUEST = "disclosure_request"


class IncidentState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ObligationState(StrEnum):
    PENDING = "pending"
    MET = "met"
    MET_LATE = "met_late"
    BREACHED = "breached"
    WAIVED = "waived"


# A duty still owed: its clock runs.
UNMET: tuple[ObligationState, ...] = (ObligationState.PENDING, ObligationState.BREACHED)


class WaiverState(StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    REFUSED = "refused"


class StepKind(StrEnum):
    REGISTERED = "registered"
    REMINDER = "reminder"
    WARNING = "warning"
    FINAL_WARNING = "final_warning"
    BREACHED = "breached"
    OVERDUE = "overdue"
    WAIVER_REQUESTED = "waiver_requested"


# Steps that warn of a deadline still ahead; never sent once it has passed (SPEC §4.5).
PRE_DEADLINE_KINDS: frozenset[StepKind] = frozenset({StepKind.REMINDER, StepKind.WARNING, StepKind.FINAL_WARNING})
# Notices about the incident as a whole; each always goes out once, outside catch-up.
INCIDENT_NOTICES: frozenset[StepKind] = frozenset({StepKind.REGISTERED, StepKind.WAIVER_REQUESTED})


class StepState(StrEnum):
    PLANNED = "planned"
    FIRED = "fired"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UNDELIVERABLE = "undeliverable"


class NotificationState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


# The channels of a rule (or a step) that names none: a phone call is asked
# for, step by step, where a district wants one (SPEC §15.2).
DEFAULT_CHANNELS: tuple[Channel, ...] = (Channel.SMS, Channel.EMAIL)


class Recipient(StrEnum):
    """The groups a rule's step is sent to."""

    HEAD = "head"
    DEPUTIES = "deputies"
    SUPERVISORS = "supervisors"


class ContactRole(StrEnum):
    HEAD = "head"
    DEPUTY = "deputy"
    # Stands in for an absent head or deputy for a period (SPEC §14.3); never set by hand.
    STANDIN = "standin"


class Role(StrEnum):
    DUTY_OFFICER = "duty_officer"
    DEPARTMENT_HEAD = "department_head"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Decision(StrEnum):
    """An accountability case's decision; ``pending`` until a supervisor decides."""

    PENDING = "pending"
    NOTICE = "notice"
    SUMMONS = "summons"
    WAIVED = "waived"


class Outcome(StrEnum):
    """What became of a notification, as ``sunclock_notifications_total`` counts it."""

    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    RETRIED = "retried"
    SKIPPED = "skipped"


class TimelineKind(StrEnum):
    REGISTERED = "registered"
    CORRECTED = "corrected"
    MILESTONE = "milestone"
    CLOSED = "closed"
    STEPS_PLANNED = "steps_planned"
    STEP_FIRED = "step_fired"
    STEP_SKIPPED = "step_skipped"
    STEP_UNDELIVERABLE = "step_undeliverable"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_DELIVERED = "notification_delivered"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_RETRY = "notification_retry"
    NOTIFICATION_SKIPPED = "notification_skipped"
    ACKNOWLEDGED = "acknowledged"
    BREACHED = "breached"
    BREACH_WITHDRAWN = "breach_withdrawn"
    REGRADED = "regraded"
    CASE_DECIDED = "case_decided"
    WAIVER_REQUESTED = "waiver_requested"
    WAIVER_GRANTED = "waiver_granted"
    WAIVER_REFUSED = "waiver_refused"
    WAIVER_LAPSED = "waiver_lapsed"
    # Written by versions before waivers; kept so old timelines still read.
    OBLIGATIONS_CANCELLED = "obligations_cancelled"
    MILESTONE_WITHDRAWN = "milestone_withdrawn"
    # A deadline extended once (SPEC §13.3); a keep-publishing series ended by closing (§13.4).
    EXTENDED = "extended"
    SERIES_ENDED = "series_ended"


class SmsProvider(StrEnum):
    """Who carries SMS (SPEC §15.1): ``SUNCLOCK_SMS_PROVIDER``."""

    TWILIO = "twilio"
    ALIYUN = "aliyun"


class TemplateFact(StrEnum):
    """What a variable of an approved SMS template may show (Alibaba Cloud SMS
    sends a template code and its variables, not text: ``alerts/aliyun_templates.yaml``)."""

    INCIDENT = "incident"  # the incident's title
    SEVERITY = "severity"  # Ⅰ, Ⅱ, …
    DEPARTMENT = "department"
    DUTY = "duty"  # the obligation's title; several joined by 、 for an incident-wide notice
    DUE = "due"  # due time in local time, as the SMS text writes it (11月28日 19:30)
    DUE_DATETIME = "due_datetime"  # the same as 2026-11-28 19:30, for a variable of Aliyun's "time" kind
    TIME_LEFT = "time_left"  # 剩余2小时 / 已超时30分钟
    OCCURRED = "occurred"  # when the incident happened, local time
    RECIPIENT = "recipient"
    REASON = "reason"  # why a waiver was requested
    ACK_LINK = "ack_link"  # the signed acknowledgement link, whole
    ACK_PATH = "ack_path"  # the same without scheme and host, for a template that fixes the domain


class SignInOutcome(StrEnum):
    """How a sign-in attempt ended, in the sign-in audit log (issue 19)."""

    SUCCESS = "success"
    REFUSED = "refused"  # wrong name or password, or a switched-off user
    THROTTLED = "throttled"  # too many failures: the password was not even checked
