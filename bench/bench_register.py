"""Registration through a real `sunclock serve` against a bare FastAPI insert, in one run.

    .venv/bin/python bench/bench_register.py [--database sqlite|postgresql|both] [-n 300] [--open 100000]

Seeds --open open incidents (SPEC §16 measures at 100,000) into a fresh
database, then starts `sunclock serve` on it and bench/bare_app.py (a bare
FastAPI app doing one plain insert into a table of its own in the same
database, through the same engine settings: SQLite in WAL, or PostgreSQL;
--bare-driver aiosqlite gives it SQLAlchemy's stock SQLite driver instead of
Sunclock's; --bare-database own an empty database of its own), each on a free port. One HTTP client
registers N incidents one after another, alternating between the two in
rounds of --round requests so that both see the same load on the machine, and
prints each one's median, p95 and rate, and the ratio serve / bare (SPEC §16:
at least 0.25). The scheduler runs too (it sends each registration's notice
into the outbox), as it would in production.
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


def fresh_database(kind: str, workdir: Path, name: str = "sunclock_bench") -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def wait_ready(base: str, proc: subprocess.Popen, deadline: float) -> None:  # noqa: ANN001
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


REPO = Path(__file__).resolve().parents[1]
BODY_DEPARTMENT = {"code": "EMB", "name": "区应急管理局", "contacts": [
    {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"},
    {"name": "李副局长", "role": "deputy", "mobile": "+8613800000002", "email": "li@emb.example.org"}]}


def start(command: list[str], url: str, port: int, workdir: Path, **extra: str) -> subprocess.Popen:
    env = os.environ | extra | {"SUNCLOCK_DATABASE_URL": url, "SUNCLOCK_ADMIN_TOKEN": ADMIN, "SUNCLOCK_PORT": str(port),
                        "SUNCLOCK_LOG_LEVEL": "ERROR", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, *command], env=env, cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summary(name: str, timings: list[float]) -> tuple[float, str]:
    ordered = sorted(timings)
    rate = len(ordered) / sum(ordered)
    return rate, (f"{name:<6} median={statistics.median(ordered) * 1000:.1f} ms "
                  f"p95={ordered[int(len(ordered) * 0.95) - 1] * 1000:.1f} ms rate={rate:.0f}/s")


def seeded_database(kind: str, workdir: Path, open_incidents: int) -> str:
    """A fresh database, migrated before either app starts on it, with
    ``open_incidents`` open incidents of department EMB (none due for hours)."""
    from bench_engine import seed  # (bench_engine imports this module)

    from monitor.db import migrate
    url = fresh_database(kind, workdir)
    migrate(url)
    if open_incidents:
        seed(url, open_incidents, datetime.now(UTC))
    return url


def run(kind: str, n: int, rounds_of: int, open_incidents: int, bare_driver: str, bare_database: str) -> float:
    workdir = Path(tempfile.mkdtemp(prefix="sunclock-bench-"))
    ports = {"serve": free_port(), "bare": free_port()}
    url = seeded_database(kind, workdir, open_incidents)
    bare_url = url if bare_database == "same" else fresh_database(kind, workdir, "sunclock_bench_bare")
    procs = {
        "serve": start(["-m", "monitor", "serve"], url, ports["serve"], workdir),
        "bare": start(["-m", "uvicorn", "bench.bare_app:app", "--port", str(ports["bare"]), "--log-level", "error"],
                      bare_url, ports["bare"], workdir, BARE_DRIVER=bare_driver),
    }
    paths = {"serve": "/api/v1/incidents", "bare": "/incidents"}
    timings: dict[str, list[float]] = {"serve": [], "bare": []}
    try:
        for name, proc in procs.items():
            wait_ready(f"http://127.0.0.1:{ports[name]}", proc, time.monotonic() + 60)
        with httpx.Client(headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as client:
            base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
            if not open_incidents:  # (the seed has it)
                client.post(base["serve"] + "/api/v1/departments", json=BODY_DEPARTMENT).raise_for_status()
            occurred = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
            for warm in range(10):  # connections, first-use imports and caches on both sides
                for name in procs:
                    client.post(base[name] + paths[name], json={"title": f"预热 {warm}", "severity": "I",
                                                                "department": "EMB", "occurred_at": occurred}
                                ).raise_for_status()
            done = 0
            while done < n:
                for name in procs:
                    for k in range(done, min(n, done + rounds_of)):
                        t0 = time.perf_counter()
                        client.post(base[name] + paths[name], json={"title": f"基准事件 {k}", "severity": "I",
                                                                    "department": "EMB", "occurred_at": occurred}
                                    ).raise_for_status()
                        timings[name].append(time.perf_counter() - t0)
                done += rounds_of
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
    serve_rate, serve_line = summary("serve", timings["serve"])
    bare_rate, bare_line = summary("bare", timings["bare"])
    print(f"database={kind} open incidents={open_incidents:,} bare driver={bare_driver} "
          f"bare database={bare_database} n={n} "
          f"(sequential, one client, alternating rounds of {rounds_of})")
    print(serve_line)
    print(bare_line)
    print(f"ratio serve/bare={serve_rate / bare_rate:.3f} (goal >= 0.25)")
    return serve_rate / bare_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--round", type=int, default=25, help="requests to one server before switching")
    parser.add_argument("--open", type=int, default=100_000, help="open incidents seeded first (SPEC §16: 100,000)")
    parser.add_argument("--bare-driver", choices=["same", "aiosqlite"], default="same",
                        help="SQLite driver of the bare app: Sunclock's own, or SQLAlchemy's stock aiosqlite")
    parser.add_argument("--bare-database", choices=["same", "own"], default="same",
                        help="the bare app's table in serve's database, or in an empty database of its own "
                             "(on SQLite, where serve's runs then never hold its write lock)")
    args = parser.parse_args()
    for kind in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
        run(kind, args.n, args.round, args.open, args.bare_driver, args.bare_database)


if __name__ == "__main__":
    main()
