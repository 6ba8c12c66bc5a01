"""Who is acting: a user of the API or the pages, or the command line.

Its own module so that auth, dependencies and pages can name an actor without
importing the incident service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    department_id: int | None = None
