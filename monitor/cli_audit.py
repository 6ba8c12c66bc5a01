"""``sunclock audit``: check the hash-chained timeline (SPEC §11.5)."""

from __future__ import annotations

import sys

import click

from monitor.cli_common import _run

DIGEST_FORMAT = """A digest reads WATERMARK:HEX. WATERMARK is the highest timeline entry id
when the digest was made; HEX is the SHA-256 over one line "INCIDENT_ID:HEAD_HASH\\n"
per incident, in incident id order, where the head is the incident's entry with the
highest id not above WATERMARK. A bare HEX is compared with the heads as they are now."""


@click.group()
def audit() -> None:
    """Check that the timeline was not rewritten."""


@audit.command("verify", epilog=DIGEST_FORMAT)
@click.option("--digest", "digest_text", metavar="WATERMARK:HEX", default=None,
              help="A digest printed earlier by `audit digest`: also prove that nothing at or before its "
                   "watermark changed since, whatever was added after it.")
def audit_verify(digest_text: str | None) -> None:
    """Recompute every incident's hash chain. Exits 0 when all are intact; otherwise
    prints each broken entry (incident and entry id, and what is wrong) and exits 1."""
    from monitor import audit as checks

    try:
        digest = checks.Digest.parse(digest_text) if digest_text is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--digest") from exc

    async def work(rt):  # noqa: ANN001, ANN202
        async with checks.reading(rt.settings.database_url) as connection:
            return await checks.verify(connection, digest)

    report = _run(work)
    for problem in report.problems:
        click.echo(str(problem))
    if report.problem_count > len(report.problems):
        click.echo(f"… and {report.problem_count - len(report.problems)} more")
    summary = f"{report.incidents} incidents, {report.entries} timeline entries checked"
    if report.digest_matches is False:
        as_of = f"as of entry {digest.watermark}" if digest.watermark is not None else "as they stand now"
        click.echo(f"digest {digest}: the chain heads {as_of} do not hash to it: "
                   "an entry at or before then was changed or removed")
    if not report.intact:
        click.echo(f"error: {summary}; {report.problem_count} problem(s) in {len(report.broken)} incident(s)"
                   + ("; the digest does not match" if report.digest_matches is False else ""), err=True)
        sys.exit(1)
    click.echo(f"ok: {summary}; every chain intact" + (f"; digest {digest} matches" if digest else ""))


@audit.command("digest", epilog=DIGEST_FORMAT)
def audit_digest() -> None:
    """Print one SHA-256 over all chain heads, with its watermark, for publishing
    (e.g. in the monthly report); `audit verify --digest` checks against it later."""
    from monitor import audit as checks

    async def work(rt):  # noqa: ANN001, ANN202
        async with checks.reading(rt.settings.database_url) as connection:
            return await checks.make_digest(connection)

    click.echo(str(_run(work)))


__all__ = ["audit"]
