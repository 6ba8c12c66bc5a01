"""The fault harness: real `serve` processes on a real PostgreSQL, the real
twilio client against the local Twilio-compatible endpoint, aiosmtpd for email,
and a fault injected across a deadline. Each scenario returns a :class:`Report`
measured from outside: what the peers received against what the database says
was owed. Used by tests/e2e/test_e2e_faults.py (CI scale) and bench/faults.py
(larger scale).

Incidents are backdated so that their deadline falls seconds after they are
registered; the processes run on real time, so the scenarios wait for them.
The drill rule (DRILL_RULE) has the registered notice and the breach only, so
that every message of a burst is one the scenario is about.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from e2e_peers import SECRET, ThreadedTwilio
from e2e_processes import start_sunclock, wait_until
from sqlalchemy import create_engine, text

from monitor.acks import links_in
from monitor.db import sync_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))

from alerts_fake_smtp import RecordingHandler, free_port, smtp_server  # noqa: E402

ADMIN = "e2e-admin-token"
DRILL_RULE = """\
id: fault_drill
title: 故障演练时限
applies_to:
  severities: [I, II]
anchor: occurred_at
channels: [sms, email]
registered:
  to: [head]
obligations:
  - key: authoritative_release
    title: 发布权威信息
    title_en: Publish authoritative information
    due: 5h
    ladder:
      - {step: breached, at: 0, to: [head, supervisors]}
    overdue: {every: 1h, max: 24, to: [head, supervisors]}
"""
DEPARTMENTS = [
    {"code": "GOV", "name": "区政务公开办", "supervisory": True, "contacts": [
        {"name": "陈主任", "role": "head", "mobile": "+8613800000009", "email": "chen@gov.example.org"}]},
    {"code": "EMB", "name": "区应急管理局", "contacts": [
        {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"}]},
]


def _cluster() -> tuple[str, str]:
    """The local PostgreSQL cluster, as .ci/run finds it: the first version under /etc/postgresql."""
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
    return (versions[0] if versions else "15", "main")


PG_CLUSTER = _cluster()


@dataclass
class Report:
    scenario: str
    expected: int = 0  # messages owed (notifications of the scenario's steps)
    delivered: int = 0  # of those, how many arrived at least once
    sms_duplicates: int = 0
    email_duplicates: int = 0
    worst_lag: float = 0.0  # seconds from planned time to first arrival, worst message
    failed: int = 0  # notifications given up (state failed)
    not_sent: int = 0  # notifications not recorded as sent
    notes: dict = field(default_factory=dict)

    def row(self) -> str:
        return (f"| {self.scenario} | {self.expected} | {self.delivered} | {self.sms_duplicates} SMS, "
                f"{self.email_duplicates} email | {self.worst_lag:.2f} s |")


class SmtpPeer:
    """aiosmtpd on a fixed port, which can go down and come back."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._server: Iterator | None = None

    def up(self) -> None:
        self._server = smtp_server(self.handler, port=self.port)
        self._server.__enter__()

    def down(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    def env(self) -> dict[str, str]:
        return {"SUNCLOCK_SMTP_HOST": "127.0.0.1", "SUNCLOCK_SMTP_PORT": str(self.port),
                "SUNCLOCK_SMTP_FROM": "sunclock@example.org"}


@contextmanager
def peers() -> Iterator[tuple[ThreadedTwilio, SmtpPeer]]:
    smtp = SmtpPeer()
    smtp.up()
    try:
        with ThreadedTwilio() as twilio:
            yield twilio, smtp
    finally:
        smtp.down()


class Replica:
    """One `sunclock serve`, which can be killed and started again in place."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> Replica:
        self.proc, self.base = start_sunclock(self.workdir, env=self.env)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)


def replica_env(workdir: Path, pg_url: str, twilio: ThreadedTwilio, smtp: SmtpPeer, **extra: str) -> dict[str, str]:
    # Not "rules": the replicas run `python -m monitor` in workdir, and a folder
    # named like a package there would shadow the installed `rules` package.
    rules = workdir / "drill-rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "fault_drill.yaml").write_text(DRILL_RULE, encoding="utf-8")
    return {"SUNCLOCK_DATABASE_URL": pg_url, "SUNCLOCK_ADMIN_TOKEN": ADMIN, "SUNCLOCK_RULES_DIR": str(rules),
            "SUNCLOCK_LEASE_SECONDS": "5", **twilio.env(), **smtp.env(), **extra}


def seed(client: httpx.Client) -> None:
    for department in DEPARTMENTS:
        client.post("/api/v1/departments", json=department).raise_for_status()


def register_due(clients: list[httpx.Client], count: int, due: datetime, title: str = "燃气爆炸") -> list[int]:
    """``count`` major incidents whose deadline is ``due``, registered in parallel
    over the replicas' HTTP APIs; returns their ids."""
    occurred = (due - timedelta(hours=5)).isoformat()

    def one(n: int) -> int:
        answer = clients[n % len(clients)].post("/api/v1/incidents", json={
            "title": f"{title} {n}", "severity": "I", "department": "EMB", "occurred_at": occurred})
        answer.raise_for_status()
        return answer.json()["id"]

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(count)))
    assert datetime.now(UTC) < due, "registering took longer than the lead before the deadline"
    return ids


def owed(pg_url: str, kinds: tuple[str, ...] = ("breached",)) -> list[dict]:
    """The notifications of steps of ``kinds``, as the database has them."""
    engine = create_engine(sync_url(pg_url))
    try:
        with engine.connect() as db:
            rows = db.execute(text(
                "SELECT n.step_id, n.contact_id, n.channel, n.planned_at, n.state, s.kind FROM notification n "
                "JOIN escalationstep s ON s.id = n.step_id WHERE s.kind = ANY(:kinds)"), {"kinds": list(kinds)})
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def arrivals(twilio: ThreadedTwilio, smtp: SmtpPeer) -> dict[tuple[int, int, str], list[float]]:
    """Every message the peers accepted, by (step, contact, channel), with the
    times it arrived."""
    found: dict[tuple[int, int, str], list[float]] = {}
    for message in list(twilio.fake.log):
        for link in links_in(SECRET.encode(), message["body"]):
            found.setdefault((link.step_id, link.contact_id, "sms"), []).append(message["_at"])
    for received in list(smtp.handler.received):
        body = received.message.get_body(("plain",)).get_content()
        for link in links_in(SECRET.encode(), body):
            found.setdefault((link.step_id, link.contact_id, "email"), []).append(received.at)
    return found


def measure(scenario: str, pg_url: str, twilio: ThreadedTwilio, smtp: SmtpPeer,
            kinds: tuple[str, ...] = ("breached",)) -> Report:
    rows, seen = owed(pg_url, kinds), arrivals(twilio, smtp)
    report = Report(scenario, expected=len(rows))
    for row in rows:
        key = (row["step_id"], row["contact_id"], row["channel"])
        times = seen.get(key, [])
        if times:
            report.delivered += 1
            lag = min(times) - row["planned_at"].timestamp()
            report.worst_lag = max(report.worst_lag, lag)
        duplicates = max(0, len(times) - 1)
        if row["channel"] == "sms":
            report.sms_duplicates += duplicates
        else:
            report.email_duplicates += duplicates
        report.failed += row["state"] == "failed"
        report.not_sent += row["state"] not in ("sent", "delivered")
    return report


def all_arrived(pg_url: str, twilio: ThreadedTwilio, smtp: SmtpPeer, count: int,
                kinds: tuple[str, ...] = ("breached",)) -> bool:
    """Every owed message of ``kinds`` (``count`` of them at least) recorded sent and received."""
    report = measure("", pg_url, twilio, smtp, kinds)
    return report.expected >= count and report.delivered == report.expected and report.not_sent == 0


def events(workdir: Path, name: str) -> int:
    log = workdir / "sunclock.log"
    return log.read_text(errors="replace").count(f'"event": "{name}"') if log.exists() else 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum} while PostgreSQL was stopped")


@contextmanager
def postgres_stopped() -> Iterator[None]:
    """The real PostgreSQL server stopped; started again on leaving, always
    (an error, a failed assertion, Ctrl-C, and a SIGTERM or SIGHUP to the test
    run, which are turned into Ctrl-C meanwhile; only SIGKILL escapes)."""
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _interrupted) for s in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "stop", "-m", "fast"], check=True)
        yield
    finally:
        try:
            start_postgres()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def start_postgres() -> None:
    running = subprocess.run(["pg_ctlcluster", *PG_CLUSTER, "status"], capture_output=True).returncode == 0
    if not running:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "start"], check=True)


def can_stop_postgres() -> str | None:
    """Why the real server cannot be stopped here, or None."""
    try:
        found = subprocess.run(["pg_ctlcluster", *PG_CLUSTER, "status"], capture_output=True)
    except FileNotFoundError:
        return "pg_ctlcluster is not installed"
    return None if found.returncode == 0 else f"PostgreSQL cluster {'/'.join(PG_CLUSTER)} is not running here"


def sms_from(replica: Replica) -> str:
    return replica.env["SUNCLOCK_TWILIO_FROM"]


def busiest(replicas: list[Replica], twilio: ThreadedTwilio, last: int = 30) -> Replica:
    """The replica that sent most of the last ``last`` SMS: the one holding the burst."""
    senders = Counter(r.form.get("From") for r in list(twilio.fake.requests)[-last:])
    return max(replicas, key=lambda r: senders[sms_from(r)])


def sent_count(twilio: ThreadedTwilio) -> int:
    return len(twilio.fake.requests)


def wait_for(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    wait_until(predicate, timeout, what)


def now_plus(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def sleep_until(moment: datetime) -> None:
    """Real processes act on real time: wait for the moment the scenario needs."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
