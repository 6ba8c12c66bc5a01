"""``sunclock user list`` and ``sunclock user passwd`` (issue 19); ``user create``,
``revoke``, ``token`` and ``unlock`` are in monitor/cli.py."""

from __future__ import annotations

import sys

import click

from monitor.cli_common import _run


@click.command("list")
def user_list() -> None:
    """Every user: name, role, department, whether active, whether they have a password for the pages."""
    from monitor import accounts

    async def work(rt) -> list[accounts.UserPublic]:  # noqa: ANN001
        async with rt.sessions() as session:
            return await accounts.users(session)

    rows = _run(work)
    click.echo(f"{'NAME':<24} {'ROLE':<16} {'DEPARTMENT':<12} {'ACTIVE':<7} PASSWORD")
    for row in rows:
        click.echo(f"{row.name:<24} {row.role:<16} {row.department or '-':<12} {'yes' if row.active else 'no':<7} "
                   f"{'yes' if row.has_password else 'no'}")


@click.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from standard input; without it a new one is generated and printed once.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set (or reset) the page password of NAME; their page sessions end. Prints a generated one alone."""
    from monitor import accounts, auth
    from monitor.db import transaction

    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def work(rt) -> str | None:  # noqa: ANN001
        async with transaction(rt.sessions) as session:
            if given is None:
                return await accounts.reset(session, name)
            await accounts.set_password(session, await auth.user_named(session, name), given)
            return None

    generated = _run(work)
    if generated is not None:
        click.echo(generated)
    else:
        click.echo(f"{name}: password changed", err=True)
