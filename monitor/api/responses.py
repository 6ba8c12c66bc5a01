"""The error answers every API route may give, documented once for the OpenAPI document.

Clients and the fuzz test (tests/monitor/test_api_fuzz.py) read the document to
know what to expect: a status that is not listed here or on the route is a bug.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    code: str | None = None  # stable, whatever the wording of ``msg`` (monitor/errors.py ErrorCode)
    params: dict[str, Any] | None = None  # the values ``msg`` names


class ErrorBody(BaseModel):
    """``detail`` is a message, or for 413 and 422 a list naming each field at fault."""
    detail: str | list[ErrorItem]
    field: str | None = None
    code: str | None = None  # stable, whatever the wording of ``detail`` (monitor/errors.py ErrorCode)
    params: dict[str, Any] | None = None  # the values ``detail`` names


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorBody}


API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("no valid bearer token"),
    403: _error("the token's role may not do this, or the record belongs to another department"),
    404: _error("no such record"),
    409: _error("the request conflicts with what is stored"),
    413: _error("the request body is larger than 1 MiB"),
    422: _error("a field is missing or not valid; `detail` names it"),
    503: _error("the database is not reachable right now") | {"headers": {"Retry-After": {
        "description": "seconds to wait before trying again", "schema": {"type": "integer"}}}},
}


def page_answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Statuses of a route that answers with an HTML page, errors included."""
    return {status: {"description": HTTP_REASONS.get(status, "an answer page"), "content": {"text/html": {}}}
            for status in statuses}


def json_errors_of_html_route(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The JSON error answers of a route whose success is an HTML page: FastAPI
    would otherwise document them with the route's HTML media type."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {status: {"description": API_ERRORS[status]["description"],
                     "content": {"application/json": {"schema": schema}}}
            for status in statuses}


def plain_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: API_ERRORS[status] for status in statuses}


HTTP_REASONS = {400: "the link is incomplete or was altered", 404: "the message or recipient no longer exists",
                410: "the link has expired", 422: "the link is not valid text"}
