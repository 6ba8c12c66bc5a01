"""Median time of POST /api/v1/incidents against a real `sunclock serve`.

    .venv/bin/python bench/bench_register.py [--database sqlite|postgresql] [-n 300]

Starts the server on a free port with a fresh database, registers N incidents
one after another over HTTP and prints the median, p95 and throughput. The
scheduler runs too (it sends each registration's notice into the outbox), as
it would in production.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ADMIN = "bench-admin-token"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "sunclock_bench" WITH (FORCE)')
        conn.execute('CREATE DATABASE "sunclock_bench"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/sunclock_bench"


def wait_ready(base: str, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"sunclock serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a starting process, not waiting for time to pass
    raise SystemExit("sunclock serve did not become ready in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sunclock-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"SUNCLOCK_DATABASE_URL": fresh_database(args.database, workdir),
                        "SUNCLOCK_ADMIN_TOKEN": ADMIN, "SUNCLOCK_PORT": str(port), "SUNCLOCK_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve"], env=env, cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(base, proc, time.monotonic() + 60)
        headers = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            client.post("/api/v1/departments", json={"code": "EMB", "name": "区应急管理局", "contacts": [
                {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"},
                {"name": "李副局长", "role": "deputy", "mobile": "+8613800000002", "email": "li@emb.example.org"}]
            }).raise_for_status()
            occurred = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
            timings = []
            started = time.perf_counter()
            for n in range(args.n):
                t0 = time.perf_counter()
                client.post("/api/v1/incidents", json={"title": f"基准事件 {n}", "severity": "I",
                                                       "department": "EMB", "occurred_at": occurred}
                            ).raise_for_status()
                timings.append(time.perf_counter() - t0)
            total = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    timings.sort()
    print(f"database={args.database} n={args.n}")
    print(f"POST /api/v1/incidents median={statistics.median(timings) * 1000:.1f} ms "
          f"p95={timings[int(len(timings) * 0.95) - 1] * 1000:.1f} ms "
          f"throughput={args.n / total:.0f} registrations/s (sequential)")


if __name__ == "__main__":
    main()
