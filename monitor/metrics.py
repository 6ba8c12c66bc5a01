"""Metrics (SPEC §7). Metrics take a registry; tests pass a fresh one.

Per-process metrics (notification outcomes, escalation lag, the heartbeat)
live in :class:`Metrics`. Everything that is state in the database — open
incidents, obligations, countdowns, breaches, time to fulfil, cases — is read
from the database at scrape time (:func:`database_metrics`), so it survives
restarts and every replica reports the same totals (board queries use
``max``, not ``sum``, across replicas).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.metric_names import name_families
from monitor.models import (
    DEFAULT_DISTRICT,
    AccountabilityCase,
    Department,
    District,
    EscalationStep,
    Incident,
    Obligation,
)
from monitor.waivers import still_owed
from rules.schema import series_key
from rules.vocabulary import (
    Channel,
    Decision,
    IncidentState,
    MatterKind,
    ObligationState,
    Outcome,
    Severity,
    StepState,
)
from rules.workdays import WorkCalendar

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
FULFIL_BUCKETS = tuple(h * 3600 for h in (0.5, 1, 2, 3, 4, 5, 6, 12, 18, 24, 36, 48, 72, 168))
# Every label value, so that each series exists from 0 before its first event.
CHANNELS: tuple[Channel, ...] = tuple(Channel)
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
SEVERITIES: tuple[Severity, ...] = tuple(Severity)
KINDS: tuple[MatterKind, ...] = tuple(MatterKind)
OBLIGATION_STATES: tuple[ObligationState, ...] = tuple(ObligationState)
DECISIONS: tuple[Decision, ...] = tuple(Decision)
UNKNOWN = ("?", "?")  # a department deleted behind the service's back


class Metrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.notifications = CounterMetric(
            "sunclock_notifications", "Notification outcomes, by channel.", ["channel", "outcome"], registry=registry)
        # Every series exists from the start, so the first failure is an increase from 0.
        for channel in CHANNELS:
            for outcome in OUTCOMES:
                self.notifications.labels(channel, outcome)
        self.escalation_lag = Histogram(
            "sunclock_escalation_lag_seconds", "Actual send start minus planned time.", ["channel"],
            buckets=LAG_BUCKETS, registry=registry)
        self.heartbeat = Gauge(
            "sunclock_scheduler_heartbeat_timestamp_seconds", "When this replica's scheduler last completed a run.",
            registry=registry)
        # The end of the last day the working-day calendar covers (SPEC §13.2): an
        # alert fires 60 days ahead, so that next year's file arrives in time.
        self.calendar_covered_until = Gauge(
            "sunclock_calendar_covered_until_timestamp_seconds",
            "End of the last day the working-day calendar covers (0: no calendar).", registry=registry)
        self.reclaimed = CounterMetric(
            "sunclock_notifications_reclaimed", "Notifications claimed again after a lease expired "
            "(a crash between the provider's acceptance and the commit may duplicate them).", ["channel"],
            registry=registry)
        # Connection errors in the scheduler and the sender (monitor/outage.py): an
        # outage is logged once, but every failed attempt is counted here.
        self.database_errors = CounterMetric(
            "sunclock_database_errors", "Scheduler and sender runs that could not reach the database.",
            registry=registry)
        # A reclaimed SMS found in Twilio's message log: recorded as sent, not sent again.
        self.reconciled = CounterMetric(
            "sunclock_notifications_reconciled", "Reclaimed notifications the provider's log showed as already "
            "sent: recorded, not sent again.", ["channel"], registry=registry)
        # Transactions that lost a deadlock or a serialization failure and were run again (monitor/retry.py).
        self.transaction_retries = CounterMetric(
            "sunclock_transaction_retries", "Transactions run again after losing a deadlock or a serialization "
            "failure.", ["where"], registry=registry)


def covered_until_timestamp(calendar: WorkCalendar, zone: ZoneInfo) -> float:
    """Midnight at the end of the calendar's last covered day, local time."""
    if calendar.covered_until is None:
        return 0.0
    end = datetime.combine(calendar.covered_until + timedelta(days=1), time(0), tzinfo=zone)
    return end.timestamp()


class _Families(Collector):
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):  # noqa: ANN201
        return iter(self.families)


async def database_metrics(session: AsyncSession, now: datetime, obligation_keys: list[str],
                           titles: Mapping[str, str] | None = None) -> bytes:
    """The database-derived metrics, in the Prometheus text format; ``titles``: the
    rules' obligation titles, for the info series that name the labels' codes."""
    # By department id: its code and its district's (SPEC §14.2: every series
    # that carries ``department`` carries ``district`` too).
    codes = {row.id: (row.code, row.district or DEFAULT_DISTRICT) for row in (await session.execute(
        select(Department.id, Department.code, District.code.label("district"))
        .outerjoin(District, District.id == Department.district_id))).all()}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([
        await _incidents_open(session),
        await _obligations(session, obligation_keys),
        await _time_to_fulfil(session, obligation_keys),
        await _cases(session),
        *await name_families(session, titles or {}),
    ]))
    large = [await _remaining(session, now, codes), await _breaches(session, codes, obligation_keys),
             await _undeliverable(session, codes, obligation_keys)]
    return generate_latest(registry) + "".join(family.text() for family in large).encode()


@dataclass
class _Table:
    """A family with a row per incident or department, written straight to the
    text format: prometheus_client checks and escapes every label of every
    sample, two thirds of a scrape at 20,000 deadlines (bench/bench_districts.py)."""

    name: str
    kind: str  # gauge | counter
    documentation: str
    labels: tuple[str, ...]  # in the order of each row's values
    rows: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add_metric(self, values: list[str], value: float) -> None:
        self.rows.append((tuple(values), value))

    def text(self) -> str:
        sample = self.name + ("_total" if self.kind == "counter" else "")
        # Labels in name order, as prometheus_client writes them.
        order = sorted(range(len(self.labels)), key=lambda i: self.labels[i])
        line = sample + "{{" + ",".join(f'{self.labels[i]}="{{}}"' for i in order) + "}} {}\n"
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out = [f"# HELP {sample} {help_text}\n# TYPE {sample} {self.kind}\n"]
        out += [line.format(*(_label(values[i]) for i in order), floatToGoString(value)) for values, value in self.rows]
        return "".join(out)


def _label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


async def _incidents_open(session: AsyncSession) -> GaugeMetricFamily:
    open_by = {(s, k): n for s, k, n in (await session.execute(
        select(Incident.severity, Incident.kind, func.count()).where(Incident.state == IncidentState.OPEN)
        .group_by(Incident.severity, Incident.kind))).all()}
    incidents_open = GaugeMetricFamily("sunclock_incidents_open", "Open incidents, by severity and kind of matter.",
                                       labels=["severity", "kind"])
    for severity in SEVERITIES:
        for kind in KINDS:
            incidents_open.add_metric([severity, kind], open_by.get((severity, kind), 0))
    return incidents_open


async def _obligations(session: AsyncSession, obligation_keys: list[str]) -> GaugeMetricFamily:
    # Occurrences of a series (keep_publishing#3) count under the series' key: labels stay few.
    counts: Counter[tuple[str, str]] = Counter()
    for k, s, n in (await session.execute(
            select(Obligation.key, Obligation.state, func.count()).group_by(Obligation.key, Obligation.state))).all():
        counts[(series_key(k), s)] += n
    obligations = GaugeMetricFamily("sunclock_obligations", "Obligations of all incidents, by state.",
                                    labels=["obligation", "state"])
    for key in sorted(set(obligation_keys) | {k for k, _ in counts}):
        for state in OBLIGATION_STATES:
            obligations.add_metric([key, state], counts.get((key, state), 0))
    return obligations


async def _remaining(session: AsyncSession, now: datetime, codes: dict[int, tuple[str, str]]) -> _Table:
    remaining = _Table(
        "sunclock_deadline_remaining_seconds", "gauge", "Seconds left to each unmet deadline; negative once overdue. "
        "A closed incident's stay until met, waived, or (once breached) its case is decided.",
        ("incident_id", "department", "obligation", "district"))
    for incident_id, department_id, key, due in (await session.execute(
            select(Obligation.incident_id, Incident.department_id, Obligation.key, Obligation.due_at)
            .join(Incident, Incident.id == Obligation.incident_id).where(still_owed()))).all():
        code, district = codes.get(department_id, UNKNOWN)
        remaining.add_metric([str(incident_id), code, series_key(key), district], (due - now).total_seconds())
    return remaining


async def _breaches(session: AsyncSession, codes: dict[int, tuple[str, str]],
                    obligation_keys: list[str]) -> _Table:
    # From the cases, which are never deleted and one per obligation: a breach
    # withdrawn by a correction keeps its case, so the counter never goes down.
    breached: Counter[tuple[str, str, str]] = Counter()
    for d, k, n in (await session.execute(
            select(AccountabilityCase.department_id, Obligation.key, func.count())
            .join(Obligation, Obligation.id == AccountabilityCase.obligation_id)
            .group_by(AccountabilityCase.department_id, Obligation.key))).all():
        breached[(*codes.get(d, UNKNOWN), series_key(k))] += n  # occurrences of a series count under its key
    breaches = _Table("sunclock_breaches", "counter", "Recorded breaches (from the database; never decreases).",
                      ("department", "obligation", "district"))
    for code, district in sorted(codes.values()):
        for key in obligation_keys:
            breached.setdefault((code, district, key), 0)
    for (code, district, key), n in sorted(breached.items()):
        breaches.add_metric([code, key, district], n)
    return breaches


async def _time_to_fulfil(session: AsyncSession, obligation_keys: list[str]) -> HistogramMetricFamily:
    fulfil = HistogramMetricFamily("sunclock_time_to_fulfil_seconds",
                                   "From the incident's start to the milestone, for fulfilled obligations.",
                                   labels=["obligation"])
    durations: dict[str, list[float]] = {key: [] for key in obligation_keys}
    for key, fulfilled, occurred in (await session.execute(
            select(Obligation.key, Obligation.fulfilled_at, Incident.occurred_at)
            .join(Incident, Incident.id == Obligation.incident_id).where(Obligation.fulfilled_at.is_not(None)))).all():
        durations.setdefault(series_key(key), []).append((fulfilled - occurred).total_seconds())
    for key, values in sorted(durations.items()):
        buckets = [(str(float(b)), sum(v <= b for v in values)) for b in FULFIL_BUCKETS] + [("+Inf", len(values))]
        fulfil.add_metric([key], buckets, sum(values))
    return fulfil


async def _cases(session: AsyncSession) -> GaugeMetricFamily:
    by_decision = dict((await session.execute(
        select(AccountabilityCase.decision, func.count()).group_by(AccountabilityCase.decision))).all())
    cases = GaugeMetricFamily("sunclock_cases", "Accountability cases, by decision.", labels=["decision"])
    for decision in DECISIONS:
        cases.add_metric([decision], by_decision.get(decision, 0))
    return cases


async def _undeliverable(session: AsyncSession, codes: dict[int, tuple[str, str]],
                         obligation_keys: list[str]) -> _Table:
    """Steps with a gap when they fell due: nobody reached at all, or a group
    other than the deputies (the head, the supervisors) reaching nobody. Stored,
    so it survives restarts; every department and obligation from 0, so that
    the first one is an increase. ``obligation=""`` is an incident-wide notice."""
    found = (await session.execute(
        select(Incident.department_id, EscalationStep.obligation_key, func.count())
        .join(Incident, Incident.id == EscalationStep.incident_id)
        .where((EscalationStep.state == StepState.UNDELIVERABLE) | EscalationStep.unreached_groups.is_not(None))
        .group_by(Incident.department_id, EscalationStep.obligation_key))).all()
    counts = Counter({(*code, key): 0 for code in codes.values() for key in ["", *obligation_keys]})
    for department_id, key, n in found:
        counts[(*codes.get(department_id, UNKNOWN), series_key(key))] += n
    family = _Table("sunclock_steps_undeliverable", "counter", "Escalation steps that reached nobody, or "
                    "whose head or supervisors group reached nobody (no contact with an address).",
                    ("department", "obligation", "district"))
    for (code, district, key), n in sorted(counts.items()):
        family.add_metric([code, key, district], n)
    return family
