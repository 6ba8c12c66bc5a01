"""``sunclock district add|list`` (SPEC §14.1)."""

from __future__ import annotations

import click

from monitor.cli_common import _run, print_table


@click.group()
def district() -> None:
    """Districts (区/县) of a city's deployment; a one-district install needs none."""


@district.command("add")
@click.option("--code", required=True, help="A short code, e.g. XZ.")
@click.option("--name", required=True, help="Its name, e.g. 香洲区.")
def district_add(code: str, name: str) -> None:
    """Add a district; then `department add --district CODE` and `user create --district CODE`."""
    from pydantic import TypeAdapter

    from monitor import districts
    from monitor.db import transaction
    from monitor.schemas import Code

    async def work(rt):  # noqa: ANN001, ANN202
        checked = TypeAdapter(Code).validate_python(code)
        async with transaction(rt.sessions) as session:
            return await districts.create(session, checked, name.strip() or checked, rt.clock.now())

    added = _run(work)
    click.echo(f"added district {added.code} {added.name}")


@district.command("list")
def district_list() -> None:
    """List districts and how many departments each has."""
    from monitor import districts

    async def work(rt):  # noqa: ANN001, ANN202
        async with rt.sessions() as session:
            return await districts.list_public(session)

    print_table(["CODE", "NAME", "DEPARTMENTS"], [[d.code, d.name, d.departments] for d in _run(work)])


__all__ = ["district"]
