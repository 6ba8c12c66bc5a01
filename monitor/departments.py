"""Departments (责任单位) and their contacts."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.errors import Conflict, Invalid
from monitor.models import Contact, Department
from monitor.schemas import ContactIn, ContactPublic, DepartmentCreate, DepartmentPublic

CSV_COLUMNS = ("code", "name", "supervisory", "contact_name", "contact_role", "mobile", "email")


async def _check_single_supervisory(session: AsyncSession, data: DepartmentCreate) -> None:
    if not data.supervisory:
        return
    other = (await session.exec(select(Department).where(
        Department.supervisory.is_(True), Department.code != data.code))).scalars().first()
    if other is not None:
        raise Conflict(f"{other.code} is already the supervisory department; only one may be", field="supervisory")


async def save(session: AsyncSession, data: DepartmentCreate, now: datetime, *, replace: bool = False) -> Department:
    """Create a department, or with ``replace`` update it and replace its contacts."""
    await _check_single_supervisory(session, data)
    department = (await session.exec(select(Department).where(Department.code == data.code))).scalars().first()
    if department is not None and not replace:
        raise Conflict(f"department {data.code} exists already", field="code")
    if department is None:
        department = Department(code=data.code, name=data.name, supervisory=data.supervisory, created_at=now)
        session.add(department)
        await session.flush()
    else:
        department.name, department.supervisory = data.name, data.supervisory
        await session.execute(delete(Contact).where(Contact.department_id == department.id))
    for contact in data.contacts:
        session.add(Contact(department_id=department.id, **contact.model_dump()))
    await session.flush()
    return department


async def list_public(session: AsyncSession) -> list[DepartmentPublic]:
    departments = list((await session.exec(select(Department).order_by(Department.code))).scalars())
    contacts: dict[int, list[ContactPublic]] = {}
    for c in (await session.exec(select(Contact).order_by(Contact.role.desc(), Contact.id))).scalars():
        contacts.setdefault(c.department_id, []).append(ContactPublic.model_validate(c, from_attributes=True))
    return [DepartmentPublic(code=d.code, name=d.name, supervisory=d.supervisory, contacts=contacts.get(d.id, []))
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
        raise Invalid(f"{filename}:1: the header needs the columns {', '.join(CSV_COLUMNS)}", field="file")
    problems: list[str] = []
    grouped: dict[str, dict] = {}
    for row in reader:
        line = reader.line_num
        code = (row.get("code") or "").strip()
        entry = grouped.setdefault(code, {"code": code, "name": (row.get("name") or "").strip(),
                                          "supervisory": _truthy(row.get("supervisory") or ""), "contacts": []})
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
                         for e in exc.errors() if e["loc"][:1] != ("contacts",)]
    if sum(d.supervisory for d in departments) > 1:
        problems.append(f"{filename}: more than one department is marked supervisory; only one may be")
    if problems:
        raise Invalid("\n".join(problems), field="file")
    return departments
