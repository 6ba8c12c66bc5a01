"""The escalation engine at scale, against a real `sunclock serve` process.

    .venv/bin/python bench/bench_engine.py --database sqlite --n 1000 10000 100000
    .venv/bin/python bench/bench_engine.py --database postgresql --n 1000 10000 100000

For each N it seeds N open major incidents (about 9 planned steps each) straight
into a fresh database, starts the server and prints:
- registration throughput through the API (8 concurrent clients);
- p50 / p99 lag between planned time and send start for a burst of --burst
  steps due in the same second (each step goes to the head by SMS and email,
  both outbox channels here: this measures the engine, not a provider);
- the same for --burst release deadlines breached in the same second (each
  breach notice to the head and the supervisor, 4 messages, 5 with the
  head's voice call), and the time
  until every breach and its accountability case is recorded;
- time from process start to the first overdue step sent after a restart with
  deadlines that passed while it was down;
- the server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_register import free_port, fresh_database, wait_ready  # noqa: E402

from monitor.db import migrate, sync_url  # noqa: E402
from monitor.models import AccountabilityCase, Contact, Department, EscalationStep, Incident, Notification, Obligation  # noqa: E402
from rules import load_rules  # noqa: E402
from rules.deadlines import due_at, ladder_steps  # noqa: E402
from rules.schema import PRE_DEADLINE_KINDS  # noqa: E402

ADMIN = "bench-admin-token"
CHUNK = 5000
# Bursts are moved this far ahead: within the server's preparing window
# (SUNCLOCK_PREPARE_SECONDS, 60 s), as steps planned hours ahead always are,
# and far enough for a sweep to prepare them. SUNCLOCK_PREPARE_SECONDS=0 in
# the environment measures the engine without preparing.
LEAD = 10


def seed(url: str, n: int, now: datetime) -> None:
    """N open incidents that happened ten minutes ago: nothing falls due for hours."""
    rule = next(r for r in load_rules().rules if r.id == "major_emergency_disclosure")
    engine = create_engine(sync_url(url))
    occurred = now - timedelta(minutes=10)
    with engine.begin() as db:
        gov = db.execute(insert(Department).values(code="GOV", name="政务公开办", supervisory=True, created_at=now)
                         .returning(Department.id)).scalar_one()
        emb = db.execute(insert(Department).values(code="EMB", name="应急管理局", supervisory=False, created_at=now)
                         .returning(Department.id)).scalar_one()
        db.execute(insert(Contact), [
            {"department_id": gov, "name": "陈主任", "role": "head", "mobile": "+8613800000009",
             "email": "chen@gov.example.org"},
            {"department_id": emb, "name": "王局长", "role": "head", "mobile": "+8613800000001",
             "email": "wang@emb.example.org"},
            {"department_id": emb, "name": "李副局长", "role": "deputy", "mobile": "+8613800000002",
             "email": "li@emb.example.org"}])
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            ids = db.execute(insert(Incident).returning(Incident.id), [
                {"title": f"基准事件 {start + k}", "severity": "I", "occurred_at": occurred, "registered_at": now,
                 "department_id": emb, "state": "open", "registered_by": "bench"} for k in range(size)]).scalars().all()
            obligations, steps = [], []
            for incident_id in ids:
                for spec in rule.obligations:
                    obligations.append({"incident_id": incident_id, "rule_id": rule.id, "key": spec.key,
                                        "title": spec.title, "due_at": due_at(spec, occurred), "state": "pending"})
                steps.append({"incident_id": incident_id, "obligation_id": None, "obligation_key": "",
                              "kind": "registered",
                              "occurrence": 1, "planned_at": now, "recipients": ["head"],
                              "channels": ["sms", "email"], "state": "fired", "fired_at": now})
            rows = db.execute(insert(Obligation).returning(Obligation.id, Obligation.incident_id, Obligation.key),
                              obligations).all()
            specs = {o.key: o for o in rule.obligations}
            for obligation_id, incident_id, key in rows:
                steps += [{"incident_id": incident_id, "obligation_id": obligation_id, "obligation_key": key,
                           "kind": s.kind, "occurrence": s.occurrence, "planned_at": s.planned_at,
                           "recipients": list(s.to), "channels": list(s.channels), "state": "planned", "fired_at": None}
                          for s in ladder_steps(rule, specs[key], occurred)]
            db.execute(insert(EscalationStep), steps)
    engine.dispose()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = os.environ | {"SUNCLOCK_DATABASE_URL": url, "SUNCLOCK_ADMIN_TOKEN": ADMIN, "SUNCLOCK_PORT": str(port),
                        "SUNCLOCK_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "ERROR"), "SUNCLOCK_LOG_FORMAT": "json",
                        # this checkout's code, not whatever `monitor` the interpreter has installed
                        "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.time()
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve"], env=env, cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, time.monotonic() + 300)
    return proc, base, started


def registration_rate(base: str, count: int = 400, clients: int = 8) -> float:
    occurred = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    def one(k: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60) as client:
            for m in range(k, count, clients):
                client.post("/api/v1/incidents", json={"title": f"新事件 {m}", "severity": "II", "department": "EMB",
                                                       "occurred_at": occurred}).raise_for_status()

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients)))
    return count / (time.perf_counter() - began)


def wait_for(check, timeout: float, what: str, every: float = 0.05) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)  # polling the database for the server's work
    raise SystemExit(f"timed out waiting for {what}")


def burst_lag(url: str, burst: int) -> tuple[float, float]:
    """Move ``burst`` reminders to the same second, a few seconds ahead; measure send lag."""
    engine = create_engine(sync_url(url))
    at = (datetime.now(UTC) + timedelta(seconds=LEAD)).replace(microsecond=0)
    moved = time.perf_counter()
    with engine.begin() as db:
        ids = db.execute(select(EscalationStep.id).where(EscalationStep.kind == "reminder",
                                                         EscalationStep.state == "planned")
                         .order_by(EscalationStep.id).limit(burst)).scalars().all()
        db.execute(update(EscalationStep).where(EscalationStep.id.in_(ids)).values(planned_at=at))
    if os.environ.get("BENCH_LOG_LEVEL"):
        print(f"<!-- burst at {at.time()}, moved in {time.perf_counter() - moved:.2f} s, "
              f"committed {datetime.now(UTC).time()} -->", flush=True)

    def sent() -> int:
        # A light query, polled gently: the instrument must not load the server it measures.
        with engine.connect() as db:
            return db.execute(select(func.count()).select_from(Notification).where(
                Notification.planned_at == at, Notification.state == "sent")).scalar_one()

    wait_for(lambda: sent() == 2 * len(ids), 120, "the burst", every=0.2)
    with engine.connect() as db:
        lags = sorted((s - p).total_seconds() for s, p in db.execute(select(
            Notification.send_started_at, Notification.planned_at).where(Notification.planned_at == at)).all())
    engine.dispose()
    return statistics.median(lags), lags[max(0, int(len(lags) * 0.99) - 1)]


def breach_burst(url: str, count: int) -> tuple[float, float, float]:
    """``count`` release deadlines moved to the same second a few seconds ahead,
    their warnings already sent: returns the p50 / p99 lag of the breach
    messages and the seconds until every breach (with its case) is recorded."""
    engine = create_engine(sync_url(url))
    at = (datetime.now(UTC) + timedelta(seconds=LEAD)).replace(microsecond=0)
    moved = time.perf_counter()
    with engine.begin() as db:
        rows = db.execute(select(Obligation.id, Obligation.incident_id).where(
            Obligation.key == "authoritative_release", Obligation.state == "pending")
            .order_by(Obligation.id).limit(count)).all()
        ids = [r.id for r in rows]
        db.execute(update(Obligation).where(Obligation.id.in_(ids)).values(due_at=at))
        # By incident, which is indexed, so that the move is done well before ``at``.
        steps = (EscalationStep.incident_id.in_([r.incident_id for r in rows]),
                 EscalationStep.obligation_key == "authoritative_release")
        db.execute(update(EscalationStep).where(*steps, EscalationStep.kind.in_(PRE_DEADLINE_KINDS))
                   .values(state="fired", fired_at=at - timedelta(minutes=30)))
        db.execute(update(EscalationStep).where(*steps, EscalationStep.kind == "breached").values(planned_at=at))
    if os.environ.get("BENCH_LOG_LEVEL"):
        print(f"<!-- breach burst at {at.time()}, moved in {time.perf_counter() - moved:.2f} s, "
              f"committed {datetime.now(UTC).time()} -->", flush=True)
    # The breached step goes to the head and the supervisor, by SMS and email
    # (and to the head by voice when the rules call: then 5 per breach).
    least = 4 * len(ids)

    def progress() -> tuple[int, int, int]:
        with engine.connect() as db:
            made, sent = db.execute(select(func.count(), func.count().filter(Notification.state == "sent")).where(
                Notification.planned_at == at, Notification.step == "breached")).one()
            cases = db.execute(select(func.count()).select_from(AccountabilityCase).where(
                AccountabilityCase.breached_at == at)).scalar_one()
        return made, sent, cases

    recorded = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        made, sent, cases = progress()
        if cases == len(ids) and recorded is None:
            recorded = (datetime.now(UTC) - at).total_seconds()
        if made >= least and sent == made and recorded is not None:
            break
        time.sleep(0.2)  # polling the database for the server's work
    else:
        raise SystemExit("timed out waiting for the breach burst")
    with engine.connect() as db:
        lags = sorted((s - p).total_seconds() for s, p in db.execute(select(
            Notification.send_started_at, Notification.planned_at).where(
            Notification.planned_at == at, Notification.step == "breached")).all())
    engine.dispose()
    return statistics.median(lags), lags[max(0, int(len(lags) * 0.99) - 1)], recorded


def make_overdue(url: str, count: int = 100) -> None:
    """While the server is down: deadlines of ``count`` incidents pass (by 90 minutes)."""
    engine = create_engine(sync_url(url))
    now = datetime.now(UTC)
    with engine.begin() as db:
        rows = db.execute(select(Obligation.id, Obligation.due_at).where(
            Obligation.key == "authoritative_release", Obligation.state == "pending")
            .order_by(Obligation.id.desc()).limit(count)).all()
        for obligation_id, due in rows:
            shift = (now - timedelta(minutes=90)) - due
            db.execute(update(Obligation).where(Obligation.id == obligation_id).values(due_at=due + shift))
            for step_id, planned in db.execute(select(EscalationStep.id, EscalationStep.planned_at).where(
                    EscalationStep.obligation_id == obligation_id)).all():
                db.execute(update(EscalationStep).where(EscalationStep.id == step_id)
                           .values(planned_at=planned + shift))
    engine.dispose()


def first_overdue_sent(url: str, since: datetime) -> datetime | None:
    engine = create_engine(sync_url(url))
    with engine.connect() as db:
        found = db.execute(select(func.min(Notification.sent_at)).where(
            Notification.step == "overdue", Notification.state == "sent", Notification.sent_at >= since)).scalar()
    engine.dispose()
    return found


def run(kind: str, n: int, burst: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="sunclock-bench-"))
    print(f"<!-- {kind} n={n}: server logs in {workdir} -->", flush=True)
    url = fresh_database(kind, workdir)
    migrate(url)
    began = time.perf_counter()
    seed(url, n, datetime.now(UTC))
    seeded = time.perf_counter() - began
    proc, base, _ = start_server(url, workdir)
    try:
        rate = registration_rate(base)
        p50, p99 = burst_lag(url, burst)
        b50, b99, recorded = breach_burst(url, burst)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    make_overdue(url)
    proc, base, started = start_server(url, workdir)
    try:
        since = datetime.fromtimestamp(started, UTC)
        wait_for(lambda: first_overdue_sent(url, since) is not None, 120, "the first overdue step")
        restart = (first_overdue_sent(url, since) - since).total_seconds()
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"database": kind, "n": n, "seed_s": seeded, "register_per_s": rate, "burst": burst,
            "lag_p50_ms": p50 * 1000, "lag_p99_ms": p99 * 1000,
            "breach_p50_ms": b50 * 1000, "breach_p99_ms": b99 * 1000, "breaches_recorded_s": recorded,
            "restart_s": restart, "rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    print("| database | open incidents | registrations/s (API, 8 clients) | burst | lag p50 | lag p99 "
          "| breach burst lag p50 / p99 | all breaches recorded | restart → first overdue sent | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.n:
        r = run(args.database, n, args.burst)
        print(f"| {r['database']} | {r['n']:,} | {r['register_per_s']:.0f} | {r['burst']:,} steps | "
              f"{r['lag_p50_ms']:.0f} ms | {r['lag_p99_ms']:.0f} ms | "
              f"{r['breach_p50_ms']:.0f} / {r['breach_p99_ms']:.0f} ms | {r['breaches_recorded_s']:.2f} s | "
              f"{r['restart_s']:.2f} s | {r['rss_mb']:.0f} MB |",
              flush=True)


if __name__ == "__main__":
    main()
