"""Restart to the first overdue message, and peak memory, at N open incidents.

    .venv/bin/python bench/bench_restart.py --database sqlite|postgresql [--n 100000] [--runs 3]

Seeds N open major incidents (as bench_engine.py does), then --runs times:
while the server is down, moves 100 release deadlines 90 minutes into the
past, starts `sunclock serve`, and measures the time from starting the
process to the first overdue message sent (its ``sent_at``), then reads the
server's peak RSS (VmHWM) once it has sent that message and answered
``/readyz``. Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import first_overdue_sent, make_overdue, peak_rss_mb, seed, start_server, wait_for  # noqa: E402
from bench_register import fresh_database  # noqa: E402

from monitor.db import migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sunclock-bench-"))
    url = fresh_database(args.database, workdir)
    migrate(url)
    began = time.perf_counter()
    seed(url, args.n, datetime.now(UTC))
    print(f"database={args.database} n={args.n:,} seeded in {time.perf_counter() - began:.0f} s "
          f"(server logs in {workdir})", flush=True)
    restarts, peaks = [], []
    for run in range(args.runs):
        make_overdue(url)
        proc, _, started = start_server(url, workdir)
        try:
            since = datetime.fromtimestamp(started, UTC)
            wait_for(lambda s=since: first_overdue_sent(url, s) is not None, 120, "the first overdue step")
            restarts.append((first_overdue_sent(url, since) - since).total_seconds())
            peaks.append(peak_rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(f"run {run + 1}: restart -> first overdue sent {restarts[-1]:.2f} s, peak RSS {peaks[-1]:.0f} MB",
              flush=True)
    print(f"median: restart -> first overdue sent {statistics.median(restarts):.2f} s, "
          f"peak RSS {statistics.median(peaks):.0f} MB")


if __name__ == "__main__":
    main()
