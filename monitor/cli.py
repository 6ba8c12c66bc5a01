"""The ``sunclock`` command line (SPEC §8)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from alerts.aliyun_templates import SHIPPED_TEMPLATES, load_aliyun_templates
from monitor.cli_audit import audit
from monitor.cli_common import _actor, _run, _settings, fail
from monitor.cli_districts import district
from monitor.cli_obligations import obligation
from monitor.cli_records import department, incident, milestone, report
from monitor.cli_users import user_list, user_passwd
from monitor.logging import configure_logging
from rules import RulesInvalid, load_rules
from rules.vocabulary import Role
from rules.workdays import load_calendars

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Sunclock watches the legal clock of major emergencies: authoritative
    information within 5 hours, a press conference within 24 hours."""


def _settle_start_up_objects(collect: bool = True) -> None:
    """Keep the garbage collector off what start-up made and keeps for good.

    The modules, classes and caches loaded by now are some 170,000 objects that
    every full collection would walk again: 0.2 s each on a slow machine, twice
    in a burst of 4,000 messages, on the event loop that starts the sends. Frozen,
    they are left out; a larger first generation makes collections rarer too.
    ``collect=False`` freezes without first collecting the little garbage
    start-up left: that collection alone takes 0.1-0.15 s, which the sweep
    before the server starts should not wait for (the second settling, once
    the application is built, collects).
    """
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@main.command()
@click.option("--demo", is_flag=True, help="Seed sample departments, incidents and users into an empty database.")
@click.option("--host", default=None, help="Overrides SUNCLOCK_HOST.")
@click.option("--port", type=int, default=None, help="Overrides SUNCLOCK_PORT.")
def serve(demo: bool, host: str | None, port: int | None) -> None:
    """API, pages, scheduler and metrics in one process; applies migrations first."""
    import uvicorn

    from monitor.runtime import Runtime
    from monitor.startup import SweepFirst

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        runtime = Runtime.build(settings)
    except RulesInvalid as exc:
        fail(f"the rule, calendar or SMS template files are not valid:\n{exc}", 2)
    # Deadlines passed while the service was down are swept in the server's
    # start-up, before it listens; the application (pages, templates,
    # OpenAPI) is imported and built after that sweep (monitor/startup.py).
    app = SweepFirst(runtime, demo=demo, settle=_settle_start_up_objects)
    _settle_start_up_objects(collect=False)
    _say_where(host or settings.host, port or settings.port, demo)
    # Its crash reports go through our (masking) log handler, not its own; and
    # X-Forwarded-For is read by the app, from SUNCLOCK_TRUSTED_PROXIES only.
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="warning",
                access_log=False, lifespan="on", log_config=None, proxy_headers=False)


def _say_where(host: str, port: int, demo: bool) -> None:
    """The first thing a newcomer needs: the address to open (and, with --demo, who to sign in as)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - reading the setting, not binding
    shown = f"[{shown}]" if ":" in shown else shown
    lines = [f"Sunclock is starting: open http://{shown}:{port}/ (API documents at http://{shown}:{port}/docs)"]
    if demo:  # (the demo module imports much that the sweep before serving does not need)
        from monitor.demo import DEMO_PASSWORD, SCOPED_USERS, USERS

        lines.append(f"Demo users (password {DEMO_PASSWORD}, on an empty database): "
                     + ", ".join(f"{name} ({role})" for name, role, _ in USERS)
                     + "; for district XZ only: " + ", ".join(f"{name} ({role})" for name, role, _ in SCOPED_USERS))
    click.echo("\n".join(lines), err=True)


def _checked(load: Callable[[Path], T], directory: Path) -> T:
    """The files of ``directory`` loaded by ``load``, or every problem listed and exit 2."""
    try:
        return load(directory)
    except RulesInvalid as exc:
        fail(f"{len(exc.problems)} problem(s):\n{exc}", 2)
    raise AssertionError  # not reached: fail exits


@main.group()
def rules() -> None:
    """Rule files."""


@rules.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def rules_check(directory: Path | None) -> None:
    """Validate the rule files of DIRECTORY (default: SUNCLOCK_RULES_DIR) and the
    Alibaba Cloud SMS template file (SUNCLOCK_ALIYUN_SMS_TEMPLATES)."""
    settings = _settings()
    ruleset = _checked(load_rules, directory or settings.rules_dir)
    for rule in ruleset.rules:
        deadlines = ", ".join([*(f"{o.key} +{o.due}" for o in rule.obligations),
                               *(f"{r.key}#N every {r.every} after {r.after}" for r in rule.recurring)])
        scope = rule.applies_to
        severities = "/".join(scope.severities) if scope.severities else "any severity"
        click.echo(f"ok  {rule.id} ({'/'.join(scope.kinds)}, {severities}): {deadlines}")
    templates = _checked(load_aliyun_templates, settings.aliyun_sms_templates or SHIPPED_TEMPLATES)
    click.echo(f"ok  {templates.path.name}: {len(templates)} Alibaba Cloud SMS templates")


@main.group()
def calendar() -> None:
    """Working-day calendars (holidays and make-up working days, SPEC §13.2)."""


@calendar.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def calendar_check(directory: Path | None) -> None:
    """Validate the calendar files of DIRECTORY (default: SUNCLOCK_CALENDARS_DIR)."""
    loaded = _checked(load_calendars, directory or _settings().calendars_dir)
    for path in loaded.files:
        click.echo(f"ok  {path.name}")
    covered = loaded.covered_until
    click.echo(f"{loaded.region}: covered until {covered}" if covered else f"{loaded.region}: no calendar file; "
               "working days are counted on weekends alone")


@main.group()
def user() -> None:
    """Users and their API tokens."""


@user.command("create")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--department", default=None, help="Department code (required for department_head).")
@click.option("--password-stdin", is_flag=True, help="Read a password for the pages from standard input.")
@click.option("--district", default=None, help="Scope the user to this district: they see and act on it only.")
def user_create(name: str, role: str, department: str | None, password_stdin: bool, district: str | None) -> None:
    """Create a user; prints the new API token alone on stdout."""
    from monitor import auth
    from monitor.db import transaction

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def work(rt) -> str:  # noqa: ANN001
        async with transaction(rt.sessions) as session:
            _, token = await auth.create_user(session, name, role, rt.clock.now(), department=department,
                                              password=password, district=district)
        return token

    click.echo(_run(work))


@user.command("revoke")
@click.argument("name")
def user_revoke(name: str) -> None:
    """End every API token and page session of the user NAME at once."""
    from monitor import auth
    from monitor.db import transaction

    async def work(rt) -> tuple[int, int]:  # noqa: ANN001
        async with transaction(rt.sessions) as session:
            return await auth.revoke(session, name, _actor())

    tokens, sessions = _run(work)
    click.echo(f"{name}: {tokens} API token(s) and {sessions} page session(s) revoked")


@user.command("token")
@click.argument("name")
def user_token(name: str) -> None:
    """A new API token for the existing user NAME (after a revoke); prints it alone."""
    from monitor import auth
    from monitor.db import transaction

    async def work(rt) -> str:  # noqa: ANN001
        async with transaction(rt.sessions) as session:
            return auth.issue_token(session, await auth.user_named(session, name), rt.clock.now())

    click.echo(_run(work))


@user.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """Forget NAME's failed sign-ins from every client, so they can sign in at once."""
    from monitor import throttle
    from monitor.db import transaction

    async def work(rt) -> int:  # noqa: ANN001
        async with transaction(rt.sessions) as session:
            return await throttle.unlock(session, name)

    click.echo(f"unlocked {name} ({_run(work)} throttle entries cleared)")


user.add_command(user_list)
user.add_command(user_passwd)
main.add_command(department)
main.add_command(incident)
main.add_command(milestone)
main.add_command(obligation)
main.add_command(report)
main.add_command(audit)
main.add_command(district)
