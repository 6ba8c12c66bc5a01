"""What the ``sunclock`` commands share: settings, running work against the
database with plain error reports, tables, times and the command line's actor.
Its own module, so the command modules import it and not each other."""

from __future__ import annotations

import asyncio
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from monitor.errors import SunclockError
from monitor.logging import configure_logging
from monitor.settings import Settings
from rules import RulesInvalid

T = TypeVar("T")
CLI_ACTOR_NAME = "cli"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), ["-" * w for w in widths], *cells]:
        click.echo("  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths, strict=False)).rstrip())


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail("; ".join(f"SUNCLOCK_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
                       for e in exc.errors()), 2)
        raise AssertionError from exc  # not reached


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(runtime)`` against the configured database, reporting errors plainly."""
    from monitor.runtime import Runtime

    settings = _settings()
    configure_logging(settings.log_format, "WARNING")

    async def main() -> T:
        runtime = Runtime.build(settings, channels={})
        try:
            return await work(runtime)
        finally:
            await runtime.engine.dispose()

    try:
        return asyncio.run(main())
    except RulesInvalid as exc:
        fail(f"the rules are not valid:\n{exc}", 2)
    except SunclockError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field and "\n" not in exc.message else exc.message)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg'].removeprefix('Value error, ')}"
                       for e in exc.errors()))
    raise AssertionError  # not reached


def _actor():  # noqa: ANN202
    from monitor.actors import Actor

    return Actor(name=CLI_ACTOR_NAME, role="admin")


def _local(value: datetime | None, settings: Settings) -> str:
    return value.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if value else ""


def parse_time(text: str, settings: Settings, now: datetime) -> datetime:
    """ISO-8601; a time without an offset is read in the configured zone, ``now`` is now."""
    if text.strip().lower() == "now":
        return now
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a time; write it like 2026-11-28T14:30+08:00 "
                                 f"or 2026-11-28 14:30 ({settings.timezone})") from exc
    return value.replace(tzinfo=settings.zone) if value.tzinfo is None else value
