"""``sunclock obligation extend``: a deadline extended once (SPEC §13.3)."""

from __future__ import annotations

import click

from monitor.cli_common import _actor, _local, _run, _settings


@click.group()
def obligation() -> None:
    """One deadline of an incident."""


@obligation.command("extend")
@click.argument("incident_id", type=int)
@click.argument("key")
@click.option("--working-days", type=click.IntRange(min=1), required=True,
              help="How many working days to add (at most what the rule allows, e.g. 20).")
@click.option("--reason", required=True, help="Why the deadline is extended; it goes on the timeline.")
def obligation_extend(incident_id: int, key: str, working_days: int, reason: str) -> None:
    """Extend the deadline KEY of incident INCIDENT_ID once, by working days."""
    from monitor import extension
    from monitor.db import transaction
    from monitor.schemas import ExtensionRequest

    settings = _settings()

    async def work(rt):  # noqa: ANN001, ANN202
        body = ExtensionRequest(working_days=working_days, reason=reason)
        async with transaction(rt.sessions) as session:
            return await extension.extend(session, incident_id, key, body.working_days, body.reason, rt.rules,
                                          rt.clock.now(), _actor().name)

    row = _run(work)
    flag = " (calendar incomplete: counted on weekends alone past the last year covered)" \
        if row.calendar_incomplete else ""
    click.echo(f"{row.key}: extended by {row.extended_working_days} working days, "
               f"now due {_local(row.due_at, settings)} ({row.state}){flag}")


__all__ = ["obligation"]
