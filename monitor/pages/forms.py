"""From a submitted form to the API's own request bodies (monitor/schemas.py),
so pages and API refuse the same things; and from their errors to a message
in the reader's language next to the field that caused it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from monitor.errors import SunclockError, code_of
from monitor.pages.i18n import Translator
from monitor.schemas import unstorable_character

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from monitor.pages.render import Page

Model = TypeVar("Model", bound=BaseModel)

# A form field the person could not have left wrong: a problem with it is shown here.
FORM_LEVEL = "_form"
# A ``value_error`` not raised by our own validators (they carry a code): the email check.
VALUE_ERRORS = {"email": "err.email"}
TIME_ERRORS = ("datetime", "timezone", "date_")


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def unstorable_field(form: FormData) -> str | None:
    """The first field holding text that cannot be stored (a NUL, a lone
    surrogate), checked once for every form before any page reads it."""
    for name, value in form.multi_items():
        if unstorable_character(name) is not None:
            return FORM_LEVEL
        if isinstance(value, str) and unstorable_character(value) is not None:
            return name
    return None


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def local_time(value: str, zone: ZoneInfo) -> datetime | str:
    """A ``datetime-local`` value read in the configured zone; a malformed one
    is passed on as text so that the schema refuses it like the API would."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _message(error: dict[str, Any], field: str, t: Translator) -> str:
    kind = error["type"]
    if kind in ("missing", "string_too_short"):
        return t("err.required")
    if kind == "string_too_long":
        return t("err.too_long", max=error.get("ctx", {}).get("max_length", ""))
    if kind in ("literal_error", "enum", "bool_parsing"):
        return t("err.choice")
    if kind == "string_pattern_mismatch":
        return t("err.code")
    if kind.startswith(TIME_ERRORS):
        return t("err.time")
    if (refused := code_of(error)) is not None:
        return t(refused.code, **refused.params)
    if kind == "value_error" and field in VALUE_ERRORS:
        return t(VALUE_ERRORS[field])
    return t("err.invalid")


def field_name(loc: tuple[Any, ...]) -> str:
    """``("contacts", 0, "mobile")`` → ``contacts-0-mobile``, the form field's name."""
    return "-".join(str(part) for part in loc) if loc else FORM_LEVEL


def validate(model: type[Model], data: dict[str, Any], t: Translator, *,
             whole_model_field: str = FORM_LEVEL) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = tuple(error["loc"])
            # A whole-model check of a contact belongs next to that contact's mobile field.
            if loc and loc[0] == "contacts" and len(loc) == 2:
                loc = (*loc, "mobile")
            name = field_name(loc) if loc else whole_model_field
            errors.setdefault(name, _message(error, str(loc[-1]) if loc else "", t))
        raise FormInvalid(errors) from exc


def service_errors(exc: SunclockError, t: Translator, fields: dict[str, str] | None = None) -> dict[str, str]:
    """A service error next to its field; ``fields`` renames service fields to form fields."""
    name = (fields or {}).get(exc.field or "", exc.field) or FORM_LEVEL
    return {name: t(exc.code, **exc.params)}


Done = TypeVar("Done")


async def save(page: Page, session: AsyncSession, action: Callable[[], Awaitable[Done]]
               ) -> tuple[Done | None, dict[str, str] | None]:
    """Run a form's action in the request's transaction.

    On success the work is committed and the scheduler woken (its steps may be
    due now); on a refused form or a service error nothing is kept and the
    errors to show next to the fields come back instead.
    """
    try:
        result = await action()
        await session.commit()
    except FormInvalid as exc:
        errors = exc.errors
    except SunclockError as exc:
        errors = service_errors(exc, page.t)
    else:
        page.runtime.poke()
        return result, None
    await session.rollback()
    return None, errors
