"""Departments (责任单位) and their contacts."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor import districts, prepared
from monitor.actors import Actor
from monitor.auth import sees_contacts
from monitor.errors import Conflict, ErrorCode, Forbidden, Invalid
from monitor.models import Contact, Department, District
from monitor.schemas import ContactIn, ContactPublic, DepartmentCreate, DepartmentPublic

CSV_COLUMNS = ("code", "name", "supervisory", "contact_name", "contact_role", "mobile", "email")
# Optional: a one-district install leaves it out (SPEC §14.1).
CSV_DISTRICT = "district"


async def _check_single_supervisory(session: AsyncSession, data: DepartmentCreate, district_id: int) -> None:
    """One supervisory department per district (SPEC §2, §14.1)."""
    if not data.supervisory:
        return
    other = (await session.exec(select(Department).where(
        Department.supervisory.is_(True), Department.code != data.code,
        Department.district_id == district_id))).scalars().first()
    if other is not None:
        raise Conflict(f"{other.code} is already the supervisory department of its district; only one may be",
                       field="supervisory", code=ErrorCode.SUPERVISORY_TAKEN, params={"code": other.code})


async def _district_of(session: AsyncSession, data: DepartmentCreate, department: Department | None,
                       now: datetime, actor: Actor | None) -> District:
    """The district named, else the one it is in, else ``default``; a scoped admin's own only."""
    if data.district is None and department is not None and department.district_id is not None:
        district = await session.get(District, department.district_id)
    else:
        district = await districts.resolve(session, data.district, now)
    if actor is not None:
        districts.check_district(actor, district)
        if department is not None and not actor.in_district(department.id):
            raise Forbidden(f"department {department.code} is in another district than yours", field="code",
                            code=ErrorCode.DISTRICT_FORBIDDEN, params={"code": department.code})
    return district


async def save(session: AsyncSession, data: DepartmentCreate, now: datetime, *, replace: bool = False,
               actor: Actor | None = None) -> Department:
    """Create a department, or with ``replace`` update it and replace its contacts.
    With ``actor``, a user scoped to a district may touch that district's only."""
    # Codes are unique regardless of case (an index on upper(code) says so too).
    department = (await session.exec(select(Department).where(
        func.upper(Department.code) == data.code.upper()))).scalars().first()
    district = await _district_of(session, data, department, now, actor)
    await _check_single_supervisory(session, data, district.id)
    if department is not None and (not replace or department.code != data.code):
        same = "" if department.code == data.code else f" (as {department.code}: codes are unique regardless of case)"
        raise Conflict(f"department {data.code} exists already{same}", field="code", code=ErrorCode.DEPARTMENT_EXISTS,
                       params={"code": data.code})
    current: dict[tuple[str, str], Contact] = {}
    if department is None:
        department = Department(code=data.code, name=data.name, supervisory=data.supervisory, created_at=now,
                                district_id=district.id)
        session.add(department)
        await session.flush()
    else:
        department.name, department.supervisory = data.name, data.supervisory
        department.district_id = district.id
        current = {(c.name, c.role): c for c in (await session.exec(select(Contact).where(
            Contact.department_id == department.id, Contact.retired_at.is_(None)))).scalars()}
    # The same person in the same role keeps their record (their addresses may
    # change); anyone not in the new list is retired, not deleted: the messages
    # they were sent and their acknowledgements stay on the record.
    for contact in data.contacts:
        kept = current.pop((contact.name, contact.role), None)
        if kept is None:
            session.add(Contact(department_id=department.id, **contact.model_dump()))
        else:
            kept.mobile, kept.email = contact.mobile, contact.email
    for gone in current.values():
        gone.retired_at = now
    await session.flush()
    # Messages prepared ahead may name old contacts, or miss new supervisors.
    await prepared.invalidate(session)
    return department


async def list_public(session: AsyncSession, actor: Actor | None = None,
                      district: str | None = None) -> list[DepartmentPublic]:
    """Every department with its current contacts (of ``district`` if named); for an
    ``actor`` whose role limits them (a department head), the others' without their
    contacts; for one scoped to a district, that district's departments only."""
    query = select(Department).order_by(Department.code)
    if district is not None:
        query = query.where(Department.district_id == (await districts.by_code(session, district, where="query")).id)
    departments = [d for d in (await session.exec(query)).scalars() if actor is None or actor.in_district(d.id)]
    district_codes = await districts.codes(session)
    contacts: dict[int, list[ContactPublic]] = {}
    active = select(Contact).where(Contact.retired_at.is_(None)).order_by(Contact.role.desc(), Contact.id)
    for c in (await session.exec(active)).scalars():
        if actor is not None and not sees_contacts(actor, c.department_id):
            continue
        contacts.setdefault(c.department_id, []).append(ContactPublic.model_validate(c, from_attributes=True))
    return [DepartmentPublic(code=d.code, name=d.name, supervisory=d.supervisory, contacts=contacts.get(d.id, []),
                             district=district_codes.get(d.district_id, districts.DEFAULT_CODE))
            for d in departments]


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "是")


def parse_csv(text: str, filename: str) -> list[DepartmentCreate]:
    """Rows of ``code,name,supervisory,contact_name,contact_role,mobile,email``,
    one a contact; a department's rows share its code. Every problem is reported
    as ``file:line: field: message`` and nothing is imported unless all are fine."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("code", "name") if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"{filename}:1: the header needs the columns {', '.join(CSV_COLUMNS)}", field="file",
                      code=ErrorCode.CSV_HEADER, params={"filename": filename, "columns": ", ".join(CSV_COLUMNS)})
    problems: list[str] = []
    grouped: dict[str, dict] = {}
    for row in reader:
        line = reader.line_num
        code = (row.get("code") or "").strip()
        entry = grouped.setdefault(code, {"code": code, "name": (row.get("name") or "").strip(),
                                          "supervisory": _truthy(row.get("supervisory") or ""), "contacts": [],
                                          "district": (row.get(CSV_DISTRICT) or "").strip() or None})
        if (row.get("contact_name") or "").strip():
            try:
                entry["contacts"].append(ContactIn(
                    name=row["contact_name"], role=(row.get("contact_role") or "").strip(),
                    mobile=(row.get("mobile") or "").strip() or None, email=(row.get("email") or "").strip() or None))
            except ValidationError as exc:
                problems += [f"{filename}:{line}: {'.'.join(map(str, e['loc'])) or 'contact'}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        entry.setdefault("line", line)
    departments = []
    for entry in grouped.values():
        line = entry.pop("line")
        try:
            departments.append(DepartmentCreate.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{filename}:{line}: {'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                         for e in exc.errors() if e["loc"][:1] != ("contacts",) or len(e["loc"]) == 1]
    for district, count in Counter(d.district for d in departments if d.supervisory).items():
        if count > 1:
            where = f" in district {district}" if district else ""
            problems.append(f"{filename}: more than one department{where} is marked supervisory; only one may be")
    if problems:
        raise Invalid("\n".join(problems), field="file", code=ErrorCode.CSV_INVALID,
                      params={"problems": "\n".join(problems)})
    return departments
