"""Errors the service raises for the person who caused them.

The API turns them into 4xx answers that name the field; the command line
prints them and exits non-zero.
"""

from __future__ import annotations


class SunclockError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None, where: str = "body"):
        super().__init__(message)
        self.message = message
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
