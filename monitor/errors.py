"""Errors the service raises for the person who caused them.

The API turns them into 4xx answers that name the field; the command line
prints them and exits non-zero. Each carries a stable ``code`` and the values
its message names (``params``): the pages, the acknowledgement page and the SMS
replies say it in the reader's language from the catalogue
(monitor/catalogue.py) by that code, so the English wording may change freely.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # incidents and milestones
    INCIDENT_UNKNOWN = "incident_unknown"
    INCIDENT_CLOSED = "incident_closed"
    INCIDENT_OTHER_DEPARTMENT = "incident_other_department"
    OCCURRED_AT_FUTURE = "occurred_at_future"
    OCCURRED_AT_AFTER_MILESTONE = "occurred_at_after_milestone"
    NOTHING_TO_CORRECT = "nothing_to_correct"
    OBLIGATION_UNKNOWN = "obligation_unknown"
    MILESTONE_RECORDED = "milestone_recorded"
    MILESTONE_RECORDED_CONCURRENTLY = "milestone_recorded_concurrently"
    MILESTONE_FUTURE = "milestone_future"
    MILESTONE_BEFORE_OCCURRED = "milestone_before_occurred"
    OBLIGATION_WAIVED = "obligation_waived"
    MILESTONE_NOT_RECORDED = "milestone_not_recorded"
    # waivers and cases
    WAIVER_DECISION_UNKNOWN = "waiver_decision_unknown"
    OBLIGATION_SETTLED = "obligation_settled"
    WAIVER_NOT_REQUESTED = "waiver_not_requested"
    CASE_UNKNOWN = "case_unknown"
    CASE_DECIDED = "case_decided"
    CASE_OTHER_DEPARTMENT = "case_other_department"
    # departments and contacts
    DEPARTMENT_UNKNOWN = "department_unknown"
    DEPARTMENT_EXISTS = "department_exists"
    DEPARTMENT_CODE_MISMATCH = "department_code_mismatch"
    SUPERVISORY_TAKEN = "supervisory_taken"
    SUPERVISORY_NEEDS_CONTACT = "supervisory_needs_contact"
    DEPARTMENT_NEEDS_HEAD = "department_needs_head"
    CONTACT_UNREACHABLE = "contact_unreachable"
    MOBILE_INVALID = "mobile_invalid"
    CSV_HEADER = "csv_header"
    CSV_INVALID = "csv_invalid"
    # users and roles
    USER_UNKNOWN = "user_unknown"
    USER_EXISTS = "user_exists"
    USER_NAME_LENGTH = "user_name_length"
    ROLE_UNKNOWN = "role_unknown"
    ROLE_FORBIDDEN = "role_forbidden"
    HEAD_NEEDS_DEPARTMENT = "head_needs_department"
    PASSWORD_SHORT = "password_short"
    PASSWORD_LONG = "password_long"
    PASSWORD_ONE_KIND = "password_one_kind"
    PASSWORD_HAS_NAME = "password_has_name"
    PASSWORD_COMMON = "password_common"
    PASSWORD_WRONG = "password_wrong"
    PASSWORD_MISMATCH = "password_mismatch"
    # other request values
    EVIDENCE_URL_SCHEME = "evidence_url_scheme"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    PERIOD_REVERSED = "period_reversed"
    # acknowledgement links and SMS replies
    ACK_LINK_INVALID = "ack_link_invalid"
    ACK_LINK_EXPIRED = "ack_link_expired"
    ACK_TARGET_MISSING = "ack_target_missing"
    ACK_NOT_SENT = "ack_not_sent"
    SMS_NOT_AN_ACK = "sms_not_an_ack"
    SMS_NO_MESSAGE = "sms_no_message"
    # the service itself
    DATABASE_UNAVAILABLE = "database_unavailable"
    # extensions (SPEC §13.3)
    EXTENSION_NOT_ALLOWED = "extension_not_allowed"
    EXTENSION_USED = "extension_used"
    EXTENSION_TOO_LONG = "extension_too_long"
    EXTENSION_WAIVER_PENDING = "extension_waiver_pending"
    # districts and stand-ins (SPEC §14)
    DISTRICT_UNKNOWN = "district_unknown"
    DISTRICT_EXISTS = "district_exists"
    DISTRICT_FORBIDDEN = "district_forbidden"
    STANDIN_CONTACT_UNKNOWN = "standin_contact_unknown"
    STANDIN_PERIOD_REVERSED = "standin_period_reversed"
    STANDIN_OVERLAP = "standin_overlap"
    STANDIN_FORBIDDEN = "standin_forbidden"


class SunclockError(Exception):
    status = 400

    def __init__(self, message: str, *, code: ErrorCode, params: dict[str, Any] | None = None,
                 field: str | None = None, where: str = "body"):
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params or {}  # the values the message names, for the catalogue's texts
        self.field = field
        self.where = where  # "body" or "query": where the field was sent


class Invalid(SunclockError):
    status = 422


class NotFound(SunclockError):
    status = 404


class Conflict(SunclockError):
    status = 409


class Forbidden(SunclockError):
    status = 403


class InvalidValue(ValueError):
    """A request body's own validator refusing a value (monitor/schemas.py).

    pydantic answers it as an ordinary ``value_error`` with this message, and
    keeps the exception in the error's ``ctx``, where the pages find the code.
    """

    def __init__(self, message: str, *, code: ErrorCode, params: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.params = params or {}


def code_of(error: dict[str, Any]) -> InvalidValue | None:
    """The coded refusal behind one of pydantic's errors, if one of ours raised it."""
    raised = (error.get("ctx") or {}).get("error")
    return raised if isinstance(raised, InvalidValue) else None
