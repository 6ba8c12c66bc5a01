"""`sunclock audit verify` and `audit digest` over a large timeline.

    .venv/bin/python bench/bench_audit.py                       # 100,000 incidents, both databases
    .venv/bin/python bench/bench_audit.py --incidents 10000 --database sqlite

Seeds N incidents with about 10 chained timeline entries each (registered,
steps planned, steps fired, notifications sent, milestone; hashed with the
service's own function) straight into a fresh SQLite file and a fresh
PostgreSQL database, then times the two commands as a user runs them (a
`sunclock` process each, start-up included) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import timeline  # noqa: E402
from monitor.db import migrate, sync_url  # noqa: E402
from monitor.models import Department, Incident  # noqa: E402
from monitor.timeline import detail_json, entry, entry_hash  # noqa: E402

PG_ADMIN = os.environ.get("SUNCLOCK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "sunclock_bench_audit"
CHUNK = 10_000  # incidents seeded per round
START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'audit.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


def timeline_of(incident_id: int) -> list[dict]:
    """About ten entries like those an incident collects in its first hours."""
    t = START + timedelta(seconds=incident_id % 3600)
    entries = [entry(incident_id, "registered", "duty1", t, title=f"基准事件 {incident_id}", severity="I",
                     occurred_at=t - timedelta(minutes=10), department="EMB"),
               entry(incident_id, "steps_planned", "duty1", t, steps=[
                   {"obligation": o, "step": s, "at": (t + timedelta(hours=h)).isoformat()}
                   for o, s, h in (("authoritative_release", "reminder", 3), ("authoritative_release", "warning", 4),
                                   ("press_conference", "reminder", 18))])]
    for n, step in enumerate(("registered", "reminder", "warning", "final_warning")):
        at = t + timedelta(hours=n)
        entries.append(entry(incident_id, "step_fired", "scheduler", at, step=step, obligation="authoritative_release",
                             occurrence=1, planned_at=at, late=False, notifications=2, recipients=["王局长"]))
        entries.append(entry(incident_id, "notification_sent", "scheduler", at, step=step, recipient="王局长",
                             channel="sms, email", late=False, sent=[{"recipient": "王局长", "channel": "sms"}]))
    entries = entries[:9] + [entry(incident_id, "milestone", "duty1", t + timedelta(hours=4), obligation=
                                   "authoritative_release", fulfilled_at=t + timedelta(hours=4), state="met")]
    prev = ""
    for e in entries:
        e["detail"] = detail_json(e["detail"])  # stored as the text that is hashed
        e["prev_hash"] = prev
        e["hash"] = prev = entry_hash(incident_id, e["at"], e["kind"], e["actor"], e["detail"], prev)
    return entries


def seed(url: str, n: int) -> int:
    engine = create_engine(sync_url(url))
    postgres = engine.dialect.name == "postgresql"
    count = 0
    with engine.begin() as db:
        emb = db.execute(insert(Department).values(code="EMB", name="应急管理局", supervisory=False, created_at=START)
                         .returning(Department.id)).scalar_one()
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            ids = db.execute(insert(Incident).returning(Incident.id), [
                {"title": f"基准事件 {start + k}", "severity": "I", "occurred_at": START, "registered_at": START,
                 "department_id": emb, "state": "open", "registered_by": "bench"} for k in range(size)]).scalars().all()
            rows = [e for incident_id in ids for e in timeline_of(incident_id)]
            count += len(rows)
            if postgres:
                columns = ("incident_id", "at", "kind", "actor", "detail", "prev_hash", "hash")
                with db.connection.cursor().copy(f"COPY timelineentry ({', '.join(columns)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row((r["incident_id"], r["at"], r["kind"], r["actor"], r["detail"],
                                        r["prev_hash"], r["hash"]))
            else:
                db.execute(insert(timeline._WRITE), rows)
    if postgres:
        with engine.connect() as db:
            db.execute(text("ANALYZE"))
    engine.dispose()
    return count


def timed(url: str, *args: str) -> tuple[float, str]:
    env = os.environ | {"SUNCLOCK_DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "monitor", "audit", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"audit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for kind in kinds:
            url = fresh_database(kind, Path(workdir))
            migrate(url)
            began = time.perf_counter()
            entries = seed(url, args.incidents)
            seeded = time.perf_counter() - began
            startup, _ = timed(url, "--help")
            verify_s, verified = timed(url, "verify")
            digest_s, digest = timed(url, "digest")
            with_digest_s, _ = timed(url, "verify", "--digest", digest)
            print(f"{kind}: seeded in {seeded:.1f} s; {verified}", flush=True)
            results.append((kind, entries, startup, verify_s, digest_s, with_digest_s))
            drop_database(kind)
    print(f"\n{args.incidents:,} incidents; times include process start-up (the `audit --help` column)")
    print(f"{'database':<11} {'entries':>10} {'start-up':>9} {'verify':>8} {'digest':>8} {'verify --digest':>16} "
          f"{'entries/s':>10}")
    for kind, entries, startup, verify_s, digest_s, with_digest_s in results:
        print(f"{kind:<11} {entries:>10,} {startup:>8.2f}s {verify_s:>7.2f}s {digest_s:>7.2f}s {with_digest_s:>15.2f}s "
              f"{entries / verify_s:>10,.0f}")


if __name__ == "__main__":
    main()
