"""Request and response bodies of the HTTP API (SPEC §6).

Validation lives here so that every bad request is a 422 naming its field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.errors import ErrorCode, InvalidValue
from monitor.models import IncidentBase
from rules.vocabulary import ContactRole, Decision, MatterKind, Role, Severity, WaiverState, one_of

ROLES: tuple[Role, ...] = tuple(Role)
# What a supervisor may decide: a case stays pending, a waiver requested, until then.
CaseVerdict = one_of(Decision.NOTICE, Decision.SUMMONS, Decision.WAIVED)
WaiverVerdict = one_of(WaiverState.GRANTED, WaiverState.REFUSED)


def _e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"{value!r} is not a mobile number in E.164 form, like +8613800000001",
                           code=ErrorCode.MOBILE_INVALID, params={"mobile": value}) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(f"{value!r} is not a valid phone number (E.164, like +8613800000001)",
                           code=ErrorCode.MOBILE_INVALID, params={"mobile": value})
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value:
        raise InvalidValue(f"write {value!r} in E.164 form: {formatted}", code=ErrorCode.MOBILE_INVALID,
                           params={"mobile": value, "formatted": formatted})
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10 or any(c.isspace() for c in value):
        raise InvalidValue("evidence_url must be an http:// or https:// link", code=ErrorCode.EVIDENCE_URL_SCHEME)
    return value


# PostgreSQL's text cannot hold NUL, and UTF-8 cannot encode a lone surrogate:
# such text is refused here, for every field, instead of failing in the driver.
UNSTORABLE_TYPE = "unstorable_text"


def unstorable_character(value: str) -> str | None:
    """The first character that no text column can store, or None."""
    for char in value:
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return char
    return None


def _storable(value: object) -> object:
    if isinstance(value, str) and (char := unstorable_character(value)) is not None:
        raise PydanticCustomError(UNSTORABLE_TYPE, "the text contains a character that cannot be stored: {char}",
                                  {"char": f"U+{ord(char):04X}"})
    return value


# Times are within 2000..2100 (anything else is a typo, or a probe), accepted
# with any offset, refused without one, and kept in UTC.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)


def _plausible_time(value: datetime) -> datetime:
    if not 1999 <= value.year <= 2101:  # before converting: year 1 at +08:00 overflows
        raise InvalidValue("must be between 2000-01-01 and 2100-12-31", code=ErrorCode.TIME_OUT_OF_RANGE)
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise InvalidValue("must be between 2000-01-01 and 2100-12-31", code=ErrorCode.TIME_OUT_OF_RANGE)
    return value


UtcTime = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), AfterValidator(_e164)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_http_url)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One check for every text field of every request body, before its own
    # constraints (composing it into each constrained type would lose them).
    _storable_text = field_validator("*", mode="before")(_storable)


class ContactIn(_Body):
    name: Annotated[Text, StringConstraints(max_length=100)]
    role: one_of(ContactRole.HEAD, ContactRole.DEPUTY)  # a stand-in is set for a period (monitor.standins)
    mobile: Mobile | None = None
    email: EmailStr | None = Field(default=None, max_length=254)

    @model_validator(mode="after")
    def _reachable(self) -> ContactIn:
        if not self.mobile and not self.email:
            raise InvalidValue("a contact needs a mobile number or an email address",
                               code=ErrorCode.CONTACT_UNREACHABLE)
        return self


class DepartmentCreate(_Body):
    code: Code
    name: Annotated[Text, StringConstraints(max_length=200)]
    supervisory: bool = False
    district: Code | None = None  # SPEC §14.1: the built-in ``default`` when not given
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50, validate_default=True)

    @field_validator("contacts")
    @classmethod
    def _someone_answers(cls, contacts: list[ContactIn], info: ValidationInfo) -> list[ContactIn]:
        # A department nobody can be reached at turns every escalation into
        # silence (every contact has a mobile or an email, see ContactIn).
        if info.data.get("supervisory"):
            if not contacts:
                raise InvalidValue("the supervisory department needs at least one contact who can be reached",
                                   code=ErrorCode.SUPERVISORY_NEEDS_CONTACT)
        elif not any(c.role == ContactRole.HEAD for c in contacts):
            raise InvalidValue(
                "a department needs a contact of role head with a mobile number or an email address",
                code=ErrorCode.DEPARTMENT_NEEDS_HEAD)
        return contacts


class ContactPublic(BaseModel):
    name: str
    role: str
    mobile: str | None
    email: str | None


class DepartmentPublic(BaseModel):
    code: str
    name: str
    supervisory: bool
    contacts: list[ContactPublic]
    district: str = "default"


# What the severity of a matter that is not an emergency says when none is
# given: its rules apply whatever the severity (SPEC §13.1), so it only grades
# the matter for people, and the lowest grade is the honest default.
UNGRADED = Severity.IV
NOT_GRADED = {kind.value for kind in MatterKind} - {MatterKind.EMERGENCY.value}


class IncidentCreate(IncidentBase, _Body):
    title: Annotated[Text, StringConstraints(max_length=200)]
    kind: MatterKind = MatterKind.EMERGENCY
    severity: Severity = Field(description="required for an emergency; for the other kinds it only grades the "
                                           "matter, and is IV (一般) when left out")
    occurred_at: UtcTime
    department: Code
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _ungraded_matter(cls, data: Any) -> Any:
        """A matter that is not an emergency may leave its severity out; an
        emergency without one is refused as missing, next to the other errors."""
        if isinstance(data, dict) and data.get("severity") is None and data.get("kind") in NOT_GRADED:
            return data | {"severity": UNGRADED}
        return data


class IncidentPatch(_Body):
    occurred_at: UtcTime | None = None
    severity: Severity | None = None
    reason: Reason

    @model_validator(mode="after")
    def _changes_something(self) -> IncidentPatch:
        if self.occurred_at is None and self.severity is None:
            raise InvalidValue("say what to correct: occurred_at, severity or both", code=ErrorCode.NOTHING_TO_CORRECT)
        return self


class MilestoneCreate(_Body):
    obligation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    at: UtcTime
    evidence_url: Url | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class CloseRequest(_Body):
    reason: Reason


class CaseDecision(_Body):
    decision: CaseVerdict
    reason: Reason


class WaiverDecision(_Body):
    decision: WaiverVerdict
    reason: Reason


class ExtensionRequest(_Body):
    # Positive; the rule's own limit (e.g. 20) is checked by the service, which knows the rule.
    working_days: int = Field(ge=1, le=366)
    reason: Reason


class ExtensionPublic(BaseModel):
    working_days: int
    reason: str | None
    extended_by: str | None
    extended_at: datetime | None


class WaiverPublic(BaseModel):
    state: str  # a WaiverState
    reason: str | None
    requested_by: str | None
    requested_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class ObligationPublic(BaseModel):
    key: str
    title: str
    due_at: datetime
    # A working-day deadline counted past the calendar's last year, on weekends alone (SPEC §13.2).
    calendar_incomplete: bool = False
    state: str
    fulfilled_at: datetime | None
    breached_at: datetime | None
    evidence_url: str | None
    note: str | None
    waiver: WaiverPublic | None = None
    extension: ExtensionPublic | None = None  # the one extension granted (SPEC §13.3)

    @model_validator(mode="before")
    @classmethod
    def _waiver_from_row(cls, data: Any) -> Any:
        """An obligation row keeps its waiver in ``waiver_*`` columns and its
        extension in ``extended_*`` / ``extension_reason``; the API nests them."""
        state = getattr(data, "waiver_state", None)
        extended = getattr(data, "extended_working_days", None)
        if (state is None and extended is None) or isinstance(data, dict):
            return data
        values = {name: getattr(data, name) for name in cls.model_fields if name not in ("waiver", "extension")}
        if extended is not None:
            values["extension"] = ExtensionPublic(working_days=extended, reason=data.extension_reason,
                                                  extended_by=data.extended_by, extended_at=data.extended_at)
        if state is None:
            return values
        values["waiver"] = WaiverPublic(
            state=state, reason=data.waiver_reason, requested_by=data.waiver_requested_by,
            requested_at=data.waiver_requested_at, decided_by=data.waiver_decided_by,
            decided_at=data.waiver_decided_at, decision_reason=data.waiver_decision_reason)
        return values


class IncidentPublic(IncidentBase):
    id: int
    kind: str  # a MatterKind
    registered_at: datetime
    department: str
    state: str
    closed_at: datetime | None
    close_reason: str | None
    obligations: list[ObligationPublic]
    district: str = "default"  # its department's (SPEC §14.1)


class TimelineEntryPublic(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict
    hash: str = Field(description="SHA-256 (hex) over the entry's content and prev_hash")
    prev_hash: str = Field(description="hash of the incident's previous entry; empty for the first")


class NotificationPublic(BaseModel):
    id: int
    incident_id: int
    obligation: str | None
    step: str
    channel: str
    to: str
    planned_at: datetime
    sent_at: datetime | None
    state: str
    attempts: int
    late: bool


class CasePublic(BaseModel):
    id: int
    incident_id: int
    department: str
    obligation: str
    breached_at: datetime
    decision: str
    reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    breach_withdrawn: bool = False


class MilestoneWithdrawal(_Body):
    """Why a recorded milestone is withdrawn (it was recorded by mistake)."""

    reason: Reason
