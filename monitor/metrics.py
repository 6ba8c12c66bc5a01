"""Process-level metrics (SPEC §7). Metrics take a registry; tests pass a fresh one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.notifications = Counter(
            "sunclock_notifications", "Notification outcomes, by channel.", ["channel", "outcome"], registry=registry)
        self.escalation_lag = Histogram(
            "sunclock_escalation_lag_seconds", "Actual send start minus planned time.", ["channel"],
            buckets=LAG_BUCKETS, registry=registry)
        self.heartbeat = Gauge(
            "sunclock_scheduler_heartbeat_timestamp_seconds", "When this replica's scheduler last completed a run.",
            registry=registry)
        self.reclaimed = Counter(
            "sunclock_notifications_reclaimed", "Notifications claimed again after a lease expired "
            "(a crash between the provider's acceptance and the commit may duplicate them).", ["channel"],
            registry=registry)
