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
    # A user scoped to a district (SPEC §14.1): that district's id, and the ids of
    # its departments, read when the actor is resolved. None: every district.
    district_id: int | None = None
    district_departments: frozenset[int] | None = None

    def in_district(self, department_id: int) -> bool:
        """Whether the department lies in this actor's district (always, unscoped)."""
        return self.district_departments is None or department_id in self.district_departments
