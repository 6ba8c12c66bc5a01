"""The fault scenarios of issue 14, each run from outside against real processes
and measured by :func:`e2e_faults.measure`. The tests run them at CI scale,
bench/faults.py larger.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from alerts_fake_twilio import twilio_error
from e2e_faults import (
    Replica,
    Report,
    all_arrived,
    busiest,
    events,
    measure,
    now_plus,
    owed,
    peers,
    postgres_stopped,
    register_due,
    replica_env,
    seed,
    sent_count,
    sleep_until,
    wait_for,
)

SENDERS = ("+15005550006", "+15005550007")  # one Twilio number a replica: who sent what


def lead(deadlines: int, extra: float = 10.0) -> float:
    """Seconds from now to a deadline that leaves time to register them all."""
    return extra + deadlines * 0.08


def replicas_killed(tmp: Path, pg_url: str, *, deadlines: int = 300, kills: int = 3,
                    latency: float = 0.2, concurrency: int = 6) -> Report:
    """Two replicas, ``deadlines`` deadlines in the same second; whichever replica
    is sending the burst is killed with SIGKILL ``kills`` times and started again."""
    with peers() as (twilio, smtp):
        twilio.fake.latency = latency  # a carrier slow enough for the kills to land mid-burst
        replicas = [Replica(tmp / name, replica_env(
            tmp / name, pg_url, twilio, smtp, SUNCLOCK_TWILIO_FROM=sender,
            SUNCLOCK_SEND_CONCURRENCY=str(concurrency))) for name, sender in zip("ab", SENDERS, strict=True)]
        try:
            for replica in replicas:
                replica.start()
            with replicas[0].api() as a, replicas[1].api() as b:
                seed(a)
                due = now_plus(lead(deadlines))
                register_due([a, b], deadlines, due)
            sleep_until(due)
            for _ in range(kills):
                before = sent_count(twilio)
                wait_for(lambda before=before: sent_count(twilio) >= before + 10, 60, "the burst going on")
                victim = busiest(replicas, twilio)
                victim.kill()
                victim.start()
            wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 4), 60 + deadlines * 0.2,
                     "every breach message")
            report = measure(f"2 replicas, {deadlines} deadlines, {kills} SIGKILLs", pg_url, twilio, smtp)
            report.notes["reconciled"] = sum(events(r.workdir, "notification_reconciled") for r in replicas)
            report.notes["lease_expired"] = sum(events(r.workdir, "notification_lease_expired") for r in replicas)
            return report
        finally:
            for replica in replicas:
                replica.stop()


def database_restarted(tmp: Path, pg_url: str, *, deadlines: int = 20, before: float = 10,
                       after: float = 20) -> Report:
    """PostgreSQL itself stopped ``before`` seconds ahead of the deadline and
    started ``after`` seconds past it; the same process carries on."""
    with peers() as (twilio, smtp):
        replica = Replica(tmp / "db", replica_env(tmp / "db", pg_url, twilio, smtp))
        try:
            replica.start()
            with replica.api() as client:
                seed(client)
                due = now_plus(lead(deadlines, before + 8))
                ids = register_due([client], deadlines, due)
                wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 2, ("registered",)), 30,
                         "the registered notices")
                sleep_until(due - timedelta(seconds=before))
                with postgres_stopped():
                    wait_for(lambda: client.get("/readyz").status_code == 503, 10, "/readyz saying 503")
                    down = [(client.get("/healthz").status_code, client.get("/readyz").status_code)]
                    sleep_until(due + timedelta(seconds=after))
                    down.append((client.get("/healthz").status_code, client.get("/readyz").status_code))
                wait_for(lambda: client.get("/readyz").status_code == 200, 60, "/readyz saying 200 again")
                wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 4), 90, "every breach message")
                breached_at = _breach_times(client, ids)
            report = measure(f"PostgreSQL down {before:g} s before to {after:g} s after", pg_url, twilio, smtp)
            report.notes.update(down=down, breached_at=breached_at, due=due, restarted=replica.proc.poll() is not None,
                                outages=events(replica.workdir, "database_unavailable"))
            return report
        finally:
            replica.stop()


def _breach_times(client: httpx.Client, ids: list[int]) -> set[datetime | None]:
    times = set()
    for incident_id in ids:
        shown = client.get(f"/api/v1/incidents/{incident_id}").json()
        for obligation in shown["obligations"]:
            at = obligation["breached_at"]
            times.add(datetime.fromisoformat(at) if at else None)
    return times


def providers_down(tmp: Path, pg_url: str, *, deadlines: int = 20, outage: float = 60, before: float = 20) -> Report:
    """Twilio answering 500 and the SMTP server gone for ``outage`` seconds, from
    ``before`` seconds ahead of the deadline."""
    with peers() as (twilio, smtp):
        # The retry delays double up to 20 s instead of 10 minutes: the outage is
        # real time, and so is riding it out.
        replica = Replica(tmp / "peers", replica_env(tmp / "peers", pg_url, twilio, smtp,
                                                      SUNCLOCK_RETRY_MAX_SECONDS="20"))
        try:
            replica.start()
            with replica.api() as client:
                seed(client)
                due = now_plus(lead(deadlines, before + 8))
                register_due([client], deadlines, due)
                wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 2, ("registered",)), 30,
                         "the registered notices")
            sleep_until(due - timedelta(seconds=before))
            twilio.fake.outage = twilio_error(500, 20500, "Internal Server Error")
            smtp.down()
            try:
                sleep_until(due - timedelta(seconds=before - outage))
            finally:
                twilio.fake.outage = None
                smtp.up()
            wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 4), 120, "every breach message")
            report = measure(f"Twilio 500 and SMTP down {outage:g} s", pg_url, twilio, smtp)
            report.notes.update(retried=events(replica.workdir, "notification_retry"),
                                given_up=events(replica.workdir, "notification_failed"))
            return report
        finally:
            replica.stop()


def slow_provider(tmp: Path, pg_url: str, *, deadlines: int = 20, latency: float = 3.0, gap: float = 1.5) -> Report:
    """Every SMS takes ``latency`` seconds to be answered. Two groups of deadlines,
    ``gap`` seconds apart, the second due while the first's sends still hang:
    the first message of every step must start within a second of its time."""
    with peers() as (twilio, smtp):
        twilio.fake.latency = latency
        replica = Replica(tmp / "slow", replica_env(tmp / "slow", pg_url, twilio, smtp))
        try:
            replica.start()
            with replica.api() as client:
                seed(client)
                first = now_plus(lead(deadlines * 2, 10 + latency))
                register_due([client], deadlines, first, title="第一组")
                register_due([client], deadlines, first + timedelta(seconds=gap), title="第二组")
                sleep_until(first + timedelta(seconds=gap))
                wait_for(lambda: all_arrived(pg_url, twilio, smtp, deadlines * 8), 60 + latency * 4,
                         "every breach message")
            report = measure(f"slow provider ({latency:g} s a send)", pg_url, twilio, smtp)
            report.notes["first_message_lag"] = first_message_lag(pg_url, twilio, smtp)
            return report
        finally:
            replica.stop()


def first_message_lag(pg_url: str, twilio, smtp) -> float:  # noqa: ANN001
    """The worst, over the steps, of the time from a step's planned time to the
    arrival of its first message (on any channel)."""
    from e2e_faults import arrivals

    seen = arrivals(twilio, smtp)
    first: dict[int, float] = {}
    planned: dict[int, float] = {}
    for row in owed(pg_url):
        times = seen.get((row["step_id"], row["contact_id"], row["channel"]), [])
        planned[row["step_id"]] = row["planned_at"].timestamp()
        if times:
            first[row["step_id"]] = min(first.get(row["step_id"], float("inf")), min(times))
    return max(first.get(step, float("inf")) - at for step, at in planned.items())


def register_then_close(tmp: Path, pg_url: str, *, pairs: int = 90, workers: int = 8) -> dict:
    """Many incidents registered and closed at once, in parallel over HTTP, with
    the scheduler of the same process at work on them (the shipped rules)."""
    with peers() as (twilio, smtp):
        env = replica_env(tmp / "race", pg_url, twilio, smtp)
        del env["SUNCLOCK_RULES_DIR"]
        replica = Replica(tmp / "race", env)
        try:
            replica.start()
            with replica.api() as client:
                seed(client)

                start = now_plus(0)

                def pair(n: int) -> tuple[int, int, int]:
                    # A third already past their release deadline, a third reaching it
                    # while the pairs are being made (the scheduler breaches them as they
                    # close), a third fresh.
                    offset = (-5 * 3600 - 60, -5 * 3600 + n * 0.025, -60)[n % 3]
                    occurred = (start + timedelta(seconds=offset)).isoformat()
                    made = client.post("/api/v1/incidents", json={
                        "title": f"竞态 {n}", "severity": "I", "department": "EMB", "occurred_at": occurred})
                    if made.status_code != 201:
                        return made.status_code, 0, 0
                    closed = client.post(f"/api/v1/incidents/{made.json()['id']}/close", json={"reason": "误报"})
                    return made.status_code, closed.status_code, made.json()["id"]

                with ThreadPoolExecutor(workers) as pool:
                    answers = list(pool.map(pair, range(pairs)))
                ids = [incident_id for _, _, incident_id in answers if incident_id]
                wait_for(lambda: _registered_sent(pg_url) >= len(ids), 60, "every registered notice")
            return {"answers": answers, "ids": ids, "registered_sent": _registered_sent(pg_url),
                    "retried": events(replica.workdir, "transaction_retried")}
        finally:
            replica.stop()


def _registered_sent(pg_url: str) -> int:
    """Incidents whose registered notice went out on every channel."""
    from sqlalchemy import create_engine, text

    from monitor.db import sync_url

    engine = create_engine(sync_url(pg_url))
    try:
        with engine.connect() as db:
            return db.execute(text(
                "SELECT count(DISTINCT s.incident_id) FROM escalationstep s WHERE s.kind = 'registered' "
                "AND s.state = 'fired' AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.step_id = s.id "
                "AND n.state NOT IN ('sent', 'delivered'))")).scalar_one()
    finally:
        engine.dispose()
