"""``sunclock department``, ``incident`` and ``milestone`` commands."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from monitor.cli_common import _actor, _local, _run, _settings, fail, parse_time, print_table
from monitor.terms import MATTER, chinese
from rules.vocabulary import IncidentState, MatterKind, Severity


@click.group()
def department() -> None:
    """Departments and their contacts."""


def _contact(text: str):  # noqa: ANN202
    from monitor.schemas import ContactIn

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise click.BadParameter(f"{text!r}: write a contact as NAME,ROLE,MOBILE,EMAIL (ROLE head or deputy)")
    name, role, mobile, email = parts
    return ContactIn(name=name, role=role, mobile=mobile or None, email=email or None)


@department.command("add")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--supervisory", is_flag=True, help="This is the supervisory office (one per district).")
@click.option("--contact", "contacts", multiple=True, help="NAME,ROLE,MOBILE,EMAIL; repeat for each contact.")
@click.option("--district", default=None, help="Its district's code (default: the built-in district).")
def department_add(code: str, name: str, supervisory: bool, contacts: tuple[str, ...], district: str | None) -> None:
    """Add a department."""
    from monitor import departments
    from monitor.db import transaction
    from monitor.schemas import DepartmentCreate

    async def work(rt) -> DepartmentCreate:  # noqa: ANN001
        # Built here, so that a refusal (no head, say) is reported like any other error.
        data = DepartmentCreate(code=code, name=name, supervisory=supervisory, district=district,
                                contacts=[_contact(c) for c in contacts])
        async with transaction(rt.sessions) as session:
            await departments.save(session, data, rt.clock.now())
        return data

    data = _run(work)
    click.echo(f"added {data.code} {data.name} with {len(data.contacts)} contact(s)")


@department.command("list")
def department_list() -> None:
    """List departments and contacts."""
    from monitor import departments

    async def work(rt):  # noqa: ANN001, ANN202
        async with rt.sessions() as session:
            return await departments.list_public(session)

    rows = []
    listed = _run(work)
    # A one-district install never sees the word (SPEC §14.1).
    several = len({d.district for d in listed}) > 1
    for d in listed:
        people = "; ".join(f"{c.name}({c.role}) {c.mobile or ''} {c.email or ''}".strip() for c in d.contacts)
        rows.append([d.code, d.name, *([d.district] if several else []), "yes" if d.supervisory else "",
                     people or "(no contacts)"])
    print_table(["CODE", "NAME", *(["DISTRICT"] if several else []), "SUPERVISORY", "CONTACTS"], rows)


@department.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def department_import(file: Path) -> None:
    """Create or update departments from a CSV file
    (code,name,supervisory,contact_name,contact_role,mobile,email; one row a contact;
    an optional district column names each department's district)."""
    from monitor import departments
    from monitor.db import transaction

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text; save the CSV as UTF-8")
    async def work(rt) -> int:  # noqa: ANN001
        items = departments.parse_csv(text, str(file))
        async with transaction(rt.sessions) as session:
            for item in items:
                await departments.save(session, item, rt.clock.now(), replace=True)
        return len(items)

    click.echo(f"imported {_run(work)} department(s) from {file}")


@click.group()
def incident() -> None:
    """Incidents."""


@incident.command("add")
@click.option("--title", required=True)
@click.option("--kind", type=click.Choice([k.value for k in MatterKind]), default=MatterKind.EMERGENCY.value,
              show_default=True, help="The kind of matter: its legal clock (SPEC §13.1).")
@click.option("--severity", type=click.Choice([s.value for s in Severity]), default=None,
              help="Required for an emergency; for the other kinds it only grades the matter (default IV).")
@click.option("--occurred-at", required=True, help="ISO time, e.g. 2026-11-28T14:30+08:00; without an offset "
                                                   "it is read in SUNCLOCK_TIMEZONE; 'now' for now.")
@click.option("--department", required=True, help="Department code.")
@click.option("--description", default=None)
@click.option("--location", default=None)
def incident_add(title: str, kind: str, severity: str | None, occurred_at: str, department: str,
                 description: str | None, location: str | None) -> None:
    """Register an incident (an emergency, a public-opinion matter or a disclosure request) and show its deadlines."""
    from monitor import incidents
    from monitor.db import transaction
    from monitor.schemas import IncidentCreate

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        now = rt.clock.now()
        data = IncidentCreate(title=title, kind=kind, severity=severity,
                              occurred_at=parse_time(occurred_at, settings, now),
                              department=department, description=description, location=location)
        async with transaction(rt.sessions) as session:
            created = await incidents.register(session, data, rt.rules, now, _actor())
            return (await incidents.to_public(session, [created]))[0]

    _show(_run(work), settings)


def _show(item, settings) -> None:  # noqa: ANN001
    click.echo(f"incident {item.id}: {item.title}  [{item.kind} {chinese(MATTER)[item.kind]}, "
               f"severity {item.severity}, {item.department}, {item.state}]")
    click.echo(f"occurred {_local(item.occurred_at, settings)}, registered {_local(item.registered_at, settings)} "
               f"({settings.timezone})")
    if item.obligations:
        print_table(["OBLIGATION", "DUE", "STATE", "FULFILLED", "BREACHED"],
                    [[f"{o.key} {o.title}", _local(o.due_at, settings) + (" *" if o.calendar_incomplete else ""),
                      o.state, _local(o.fulfilled_at, settings), _local(o.breached_at, settings)]
                     for o in item.obligations])
        if any(o.calendar_incomplete for o in item.obligations):
            click.echo("* past the last calendar year: counted on weekends alone; add the year's calendar "
                       "(sunclock calendar check)")
    else:
        click.echo("no deadlines apply to this kind and severity")


@incident.command("list")
@click.option("--state", type=click.Choice([s.value for s in IncidentState]), default=None)
@click.option("--kind", type=click.Choice([k.value for k in MatterKind]), default=None)
@click.option("--district", default=None, help="This district's incidents only.")
def incident_list(state: str | None, kind: str | None, district: str | None) -> None:
    """List incidents, newest first."""
    from monitor import districts, incidents
    from monitor.models import Department, Incident

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        query = select(Incident).order_by(Incident.registered_at.desc(), Incident.id.desc())
        if state:
            query = query.where(Incident.state == state)
        if kind:
            query = query.where(Incident.kind == kind)
        async with rt.sessions() as session:
            if district:
                chosen = await districts.by_code(session, district)
                query = query.where(Incident.department_id.in_(
                    select(Department.id).where(Department.district_id == chosen.id)))
            return await incidents.to_public(session, list((await session.exec(query)).scalars()))

    rows = []
    for item in _run(work):
        deadlines = "  ".join(f"{o.key}:{o.state}@{_local(o.due_at, settings)[5:]}" for o in item.obligations)
        rows.append([item.id, item.kind, item.severity, item.department, item.state, item.title, deadlines])
    print_table(["ID", "KIND", "SEV", "DEPT", "STATE", "TITLE", "DEADLINES"], rows)


@incident.command("show")
@click.argument("incident_id", type=int)
def incident_show(incident_id: int) -> None:
    """One incident with its deadlines and timeline."""
    from monitor import incidents
    from monitor.models import TimelineEntry

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        async with rt.sessions() as session:
            item = (await incidents.to_public(session, [await incidents.get_incident(session, incident_id)]))[0]
            entries = list((await session.exec(select(TimelineEntry).where(
                TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id))).scalars())
            return item, entries

    item, entries = _run(work)
    _show(item, settings)
    click.echo("\ntimeline:")
    print_table(["AT", "KIND", "ACTOR", "DETAIL"],
                [[_local(e.at, settings), e.kind, e.actor, _brief(e.detail)] for e in entries])


def _brief(detail: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in detail.items() if k != "steps")
    if "steps" in detail:
        text = f"{len(detail['steps'])} step(s) " + text
    return text if len(text) <= 100 else text[:99] + "…"


@click.group()
def milestone() -> None:
    """Milestones: the release and the press conference."""


@milestone.command("add")
@click.argument("incident_id", type=int)
@click.option("--obligation", required=True,
              help="authoritative_release, press_conference, or an update keep_publishing#N (see rules check).")
@click.option("--at", "at_text", default="now", show_default=True, help="When it happened (ISO time or 'now').")
@click.option("--evidence-url", default=None)
@click.option("--note", default=None)
def milestone_add(incident_id: int, obligation: str, at_text: str, evidence_url: str | None, note: str | None) -> None:
    """Record that an obligation was fulfilled."""
    from monitor import incidents
    from monitor.db import transaction
    from monitor.schemas import MilestoneCreate

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        now = rt.clock.now()
        data = MilestoneCreate(obligation=obligation, at=parse_time(at_text, settings, now),
                               evidence_url=evidence_url, note=note)
        async with transaction(rt.sessions) as session:
            return await incidents.record_milestone(session, incident_id, data, now, _actor(), rules=rt.rules)

    row = _run(work)
    click.echo(f"{row.key}: {row.state} at {_local(row.fulfilled_at, settings)} (due {_local(row.due_at, settings)})")




@click.group()
def report() -> None:
    """Reports for supervisors."""


@report.command("compliance")
@click.option("--from", "start", required=True, help="Start of the period (ISO time, or local YYYY-MM-DD HH:MM).")
@click.option("--to", "end", required=True, help="End of the period, exclusive.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--kind", type=click.Choice([k.value for k in MatterKind]), default=None,
              help="This kind of matter only.")
@click.option("--district", default=None, help="This district's departments only.")
def report_compliance(start: str, end: str, fmt: str, kind: str | None, district: str | None) -> None:
    """Per department: incidents that occurred in the period, deadlines met / met late / breached /
    pending / waived, the on-time rate over settled deadlines and the median time to the
    authoritative release. The CSV starts with a byte-order mark, for Excel."""
    from monitor import districts, reports

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        now = rt.clock.now()
        begin, finish = parse_time(start, settings, now), parse_time(end, settings, now)
        if begin >= finish:
            raise click.BadParameter("--from must be before --to")
        async with rt.sessions() as session:
            chosen = await districts.by_code(session, district) if district else None
            return await reports.compliance(session, begin, finish, kind, district=chosen)

    result = _run(work)
    if fmt == "csv":
        click.echo(reports.to_csv(result), nl=False)
        return

    def hours(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds / 3600:.1f} h"

    click.echo(f"{_local(result.from_, settings)} – {_local(result.to, settings)} ({settings.timezone})")
    several = len(result.districts) > 1 or result.district is not None
    print_table([*(["DISTRICT"] if several else []), "DEPT", "NAME", "INCIDENTS", "MET", "MET LATE", "BREACHED",
                 "PENDING", "WAIVED", "ON TIME", "MEDIAN TO RELEASE"],
                [[*([d.district] if several else []), d.department, d.name, d.incidents, d.met, d.met_late,
                  d.breached, d.pending, d.waived,
                  "" if d.on_time_rate is None else f"{d.on_time_rate:.0%} of {d.rated}",
                  hours(d.median_time_to_release_seconds)]
                 for d in result.departments])
    if several:
        click.echo("")
        print_table(["DISTRICT", "NAME", "DEPARTMENTS", "INCIDENTS", "MET", "MET LATE", "BREACHED", "PENDING",
                     "WAIVED", "ON TIME", "MEDIAN TO RELEASE"],
                    [[d.district, d.name, d.departments, d.incidents, d.met, d.met_late, d.breached, d.pending,
                      d.waived, "" if d.on_time_rate is None else f"{d.on_time_rate:.0%} of {d.rated}",
                      hours(d.median_time_to_release_seconds)] for d in result.districts])
    click.echo("ON TIME = met / settled deadlines (met, met late, breached, waived after a breach); "
               "PENDING and WAIVED before the deadline are not in it.")


__all__ = ["department", "incident", "milestone", "report"]
