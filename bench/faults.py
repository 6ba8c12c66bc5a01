"""The fault report: the harness scenarios of tests/e2e/test_e2e_faults.py at a
larger scale, one table.

    .venv/bin/python bench/faults.py [--deadlines 1000] [--kills 10] [--skip-postgres-restart]

Real `sunclock serve` processes on the PostgreSQL at SUNCLOCK_TEST_PG (default
postgresql://postgres@127.0.0.1:5432), the real twilio client against the local
Twilio-compatible endpoint, aiosmtpd for email. The PostgreSQL scenario stops
and starts the real server (pg_ctlcluster 15 main; it is always started again);
leave it out with --skip-postgres-restart on a shared server. For each
scenario: the messages owed by the deadlines' steps, how many arrived, the
duplicates the peers received, and the worst lag from a step's time to the
first arrival of a message (a kill costs a lease, 5 s here; an outage its
length). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The harness is test equipment and lives with the tests; the bench borrows it.
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests" / "e2e"), str(REPO_ROOT / "tests" / "alerts")]

from e2e_faults import Report  # noqa: E402
from e2e_scenarios import database_restarted, providers_down, replicas_killed, slow_provider  # noqa: E402

from tests.conftest import drop_pg_database, recreate_pg_database  # noqa: E402


def run(name: str, scenario, tmp: Path) -> Report:  # noqa: ANN001
    database = f"sunclock_bench_faults_{name}"
    url = recreate_pg_database(database)
    started = time.monotonic()
    try:
        report = scenario(tmp / name, url)
    finally:
        drop_pg_database(database)
    print(f"  {report.scenario}: {time.monotonic() - started:.0f} s, {report.notes}", file=sys.stderr)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadlines", type=int, default=1000, help="deadlines in the same second (kill scenario)")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--others", type=int, default=100, help="deadlines in the other scenarios")
    parser.add_argument("--skip-postgres-restart", action="store_true")
    args = parser.parse_args()
    scenarios = {
        "kills": lambda tmp, url: replicas_killed(tmp, url, deadlines=args.deadlines, kills=args.kills),
        "postgres": lambda tmp, url: database_restarted(tmp, url, deadlines=args.others),
        "providers": lambda tmp, url: providers_down(tmp, url, deadlines=args.others, outage=60),
        "slow": lambda tmp, url: slow_provider(tmp, url, deadlines=args.others // 2, latency=3.0),
    }
    if args.skip_postgres_restart:
        del scenarios["postgres"]
    reports = []
    with tempfile.TemporaryDirectory(prefix="sunclock-faults-") as tmp:
        for name, scenario in scenarios.items():
            reports.append(run(name, scenario, Path(tmp)))
    print("| scenario | messages expected | delivered | duplicates | worst lag |")
    print("|---|---|---|---|---|")
    for report in reports:
        print(report.row())


if __name__ == "__main__":
    main()
