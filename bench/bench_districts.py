"""A whole city in one deployment (SPEC §14): board, metrics scrape and report
times at --districts districts × --departments departments × --incidents open
incidents, against a real `sunclock serve` process.

    .venv/bin/python bench/bench_districts.py --database sqlite
    .venv/bin/python bench/bench_districts.py --database postgresql

It seeds straight into a fresh database (each incident with its two deadlines,
a tenth of them breached with a pending case), starts the server and prints
the median and worst of --repeat runs of:
- GET /metrics (every series with its district; SPEC asks for under 1 s);
- the board page for a city supervisor and for one scoped to a district;
- the compliance report over the period, for the city and for one district.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_register import PG_ADMIN, free_port, wait_ready  # noqa: E402

from monitor.auth import hash_password  # noqa: E402
from monitor.db import migrate, sync_url  # noqa: E402
from monitor.models import (  # noqa: E402
    AccountabilityCase,
    Contact,
    Department,
    District,
    Incident,
    Obligation,
    User,
)
from rules import load_rules  # noqa: E402
from rules.deadlines import due_at  # noqa: E402

ADMIN = "bench-admin-token"
PASSWORD = "bench-password-1"
CHUNK = 5000
DATABASE = "sunclock_bench_districts"


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + DATABASE


def _departments(db, districts: int, per_district: int, now: datetime) -> list[int]:  # noqa: ANN001
    district_ids = db.execute(insert(District).returning(District.id), [
        {"code": f"D{d:02d}", "name": f"第{d}区", "created_at": now} for d in range(districts)]).scalars().all()
    rows = [{"code": f"D{d:02d}-{k:02d}", "name": f"第{d}区第{k}局", "supervisory": k == 0, "created_at": now,
             "district_id": district_id}
            for d, district_id in enumerate(district_ids) for k in range(per_district)]
    department_ids = db.execute(insert(Department).returning(Department.id), rows).scalars().all()
    db.execute(insert(Contact), [
        {"department_id": department_id, "name": f"局长{department_id}", "role": "head",
         "mobile": f"+86139{department_id:08d}", "email": f"head{department_id}@example.org"}
        for department_id in department_ids])
    db.execute(insert(User), [
        {"name": "city", "role": "supervisor", "password_hash": hash_password(PASSWORD), "created_at": now,
         "district_id": None},
        {"name": "d07", "role": "supervisor", "password_hash": hash_password(PASSWORD), "created_at": now,
         "district_id": district_ids[min(7, len(district_ids) - 1)]}])
    return [d for i, d in enumerate(department_ids) if i % per_district]  # the supervisory offices have none


def seed(url: str, districts: int, per_district: int, incidents: int, now: datetime) -> None:
    """Open incidents over the last day, spread over every non-supervisory department."""
    rule = load_rules().rules[0]
    engine = create_engine(sync_url(url))
    with engine.begin() as db:
        departments = _departments(db, districts, per_district, now)
        for start in range(0, incidents, CHUNK):
            size = min(CHUNK, incidents - start)
            batch = [{"title": f"基准事件 {start + k}", "severity": "I", "registered_at": now, "state": "open",
                      "occurred_at": now - timedelta(minutes=(start + k) % 1440),
                      "department_id": departments[(start + k) % len(departments)], "registered_by": "bench"}
                     for k in range(size)]
            ids = db.execute(insert(Incident).returning(Incident.id), batch).scalars().all()
            obligations = []
            for incident_id, row in zip(ids, batch, strict=True):
                for spec in rule.obligations:
                    due = due_at(spec, row["occurred_at"])
                    obligations.append({"incident_id": incident_id, "rule_id": rule.id, "key": spec.key,
                                        "title": spec.title, "due_at": due,
                                        "state": "breached" if due <= now else "pending",
                                        "breached_at": due if due <= now else None})
            found = db.execute(insert(Obligation).returning(
                Obligation.id, Obligation.incident_id, Obligation.breached_at), obligations).all()
            department_of = dict(zip(ids, (row["department_id"] for row in batch), strict=True))
            cases = [{"incident_id": incident_id, "obligation_id": obligation_id,
                      "department_id": department_of[incident_id], "breached_at": breached_at, "decision": "pending"}
                     for obligation_id, incident_id, breached_at in found if breached_at is not None]
            if cases:
                db.execute(insert(AccountabilityCase), cases)
    engine.dispose()


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"SUNCLOCK_DATABASE_URL": url, "SUNCLOCK_ADMIN_TOKEN": ADMIN, "SUNCLOCK_PORT": str(port),
                        "SUNCLOCK_LOG_LEVEL": "ERROR", "SUNCLOCK_LOG_FORMAT": "json"}
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve"], env=env, cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, time.monotonic() + 300)
    return proc, base


def signed_in(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    form = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post("/signin", data={"csrf": csrf, "name": name, "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text[:300]
    return client


def timed(call, repeat: int) -> tuple[float, float, int]:  # noqa: ANN001
    """Median and worst seconds of ``repeat`` calls, and the size of the last answer."""
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
        size = len(response.content)
    return statistics.median(times), max(times), size


def measure(base: str, repeat: int, now: datetime) -> None:
    api = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {ADMIN}"})
    period = {"from": (now - timedelta(days=2)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    city, scoped = signed_in(base, "city"), signed_in(base, "d07")
    checks = [
        ("GET /metrics", lambda: httpx.get(base + "/metrics", timeout=120)),
        ("board, city supervisor", lambda: city.get("/")),
        ("board, district supervisor", lambda: scoped.get("/")),
        ("report, whole city (JSON)", lambda: api.get("/api/v1/reports/compliance", params=period)),
        ("report, one district (JSON)", lambda: api.get("/api/v1/reports/compliance",
                                                         params=period | {"district": "D07"})),
        ("report, whole city (CSV)", lambda: api.get("/api/v1/reports/compliance",
                                                      params=period | {"format": "csv"})),
    ]
    timed(checks[0][1], 1)  # the first scrape warms the database's caches
    for label, call in checks:
        median, worst, size = timed(call, repeat)
        print(f"  {label:<30} median {median * 1000:7.0f} ms   worst {worst * 1000:7.0f} ms   {size / 1024:8.0f} KiB",
              flush=True)
    series = sum(1 for line in httpx.get(base + "/metrics", timeout=120).text.splitlines()
                 if line.startswith("sunclock_deadline_remaining_seconds{"))
    print(f"  deadline series in one scrape: {series}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--districts", type=int, default=50)
    parser.add_argument("--departments", type=int, default=30, help="per district, one of them supervisory")
    parser.add_argument("--incidents", type=int, default=10_000, help="open incidents in all")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        url = fresh_database(args.database, workdir)
        migrate(url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        seed(url, args.districts, args.departments, args.incidents, now)
        print(f"{args.database}: {args.districts} districts × {args.departments} departments, "
              f"{args.incidents} open incidents (seeded in {time.perf_counter() - started:.1f} s)", flush=True)
        proc, base = start_server(url, workdir)
        try:
            measure(base, args.repeat, now)
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
