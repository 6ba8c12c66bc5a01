"""The supervisor's Grafana board: it queries only SPEC §7 metrics, through the
provisioned datasource, combines replicas correctly, and is what its generator
produces. The alert rules are held to the same metric names."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GRAFANA = DEPLOY / "grafana"
BOARD = GRAFANA / "dashboards" / "sunclock.json"

# SPEC §7, by type.
GAUGES = {
    "sunclock_incidents_open",
    "sunclock_obligations",
    "sunclock_deadline_remaining_seconds",
    "sunclock_cases",
    "sunclock_scheduler_heartbeat_timestamp_seconds",
    "sunclock_calendar_covered_until_timestamp_seconds",  # SPEC §7, §13.2
    # The names of the codes in the labels above (issue 19: words, not keys).
    "sunclock_obligation_info", "sunclock_department_info", "sunclock_incident_info",
}
# sunclock_steps_undeliverable_total: steps that reached nobody (issue 12, "no silent gap").
COUNTERS = {"sunclock_breaches_total", "sunclock_notifications_total", "sunclock_steps_undeliverable_total"}
HISTOGRAMS = {"sunclock_time_to_fulfil_seconds", "sunclock_escalation_lag_seconds"}
# Computed from the database, hence identical on every replica.
DATABASE_DERIVED = {
    "sunclock_incidents_open",
    "sunclock_obligations",
    "sunclock_deadline_remaining_seconds",
    "sunclock_breaches_total",
    "sunclock_cases",
    "sunclock_steps_undeliverable_total",
    "sunclock_obligation_info", "sunclock_department_info", "sunclock_incident_info",
}
DATASOURCE_UID = "sunclock-prometheus"

METRIC_NAME = re.compile(r"\bsunclock_[A-Za-z0-9_:]*")
# A `sum` whose argument reaches a metric through functions only (no `max` or
# other aggregation in between): that adds up identical replicas.
SUM_OVER_METRIC = re.compile(
    r"\bsum\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*"
    r"(?:(?!(?:max|min|avg|count)\b)[a-z_]+\s*\(\s*)*"
    r"(sunclock_[a-z_]+)"
)

# Titles (or their English half) of the panels the supervisor relies on.
REQUIRED_PANELS = [
    "Time left to each deadline",
    "Open incidents by severity",
    "Breaches per hour by department",
    "On-time rate",
    "Notifications by outcome",
    "Escalation lag p99",
    "Time to fulfil p50",
    "Pending accountability cases",
    "Scheduler heartbeat age",
    "By district",
]


def is_spec_metric(name: str) -> bool:
    if name in GAUGES | COUNTERS | HISTOGRAMS:
        return True
    base, _, suffix = name.rpartition("_")
    return suffix in {"bucket", "count", "sum"} and base in HISTOGRAMS


def load_board() -> dict:
    return json.loads(BOARD.read_text(encoding="utf-8"))


def board_exprs() -> list[str]:
    return [target["expr"] for panel in load_board()["panels"] for target in panel["targets"]]


def alert_exprs() -> list[str]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("sunclock_cases", True),
        ("sunclock_breaches_total", True),
        ("sunclock_escalation_lag_seconds_bucket", True),
        ("sunclock_time_to_fulfil_seconds_count", True),
        ("sunclock_breaches", False),
        ("sunclock_cases_total", False),
        ("sunclock_breaches_total_bucket", False),
        ("sunclock_obligations_bucket", False),
    ],
)
def test_metric_name_check_accepts_only_spec_names_and_histogram_series(name, known):
    assert is_spec_metric(name) is known


def test_dashboard_json_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("sunclock_make_dashboard", GRAFANA / "make_dashboard.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert load_board() == json.loads(generator.render()), (
        "deploy/grafana/dashboards/sunclock.json differs from its generator: "
        "run python3 deploy/grafana/make_dashboard.py"
    )


def test_board_identity():
    board = load_board()
    assert board["uid"] == "sunclock"
    assert board["title"] == "Sunclock — 重特大突发事件信息发布时限"
    assert board["schemaVersion"] >= 39


def test_every_panel_queries_the_provisioned_datasource():
    for panel in load_board()["panels"]:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_panel_ids_are_unique():
    ids = [panel["id"] for panel in load_board()["panels"]]
    assert len(ids) == len(set(ids))


def test_the_supervisors_panels_are_on_the_board():
    titles = [panel["title"] for panel in load_board()["panels"]]
    missing = [want for want in REQUIRED_PANELS if not any(want in title for title in titles)]
    assert missing == []


@pytest.mark.parametrize("source", ["board", "alert rules"])
def test_only_spec_metric_names_are_queried(source):
    exprs = board_exprs() if source == "board" else alert_exprs()
    unknown = {name for expr in exprs for name in METRIC_NAME.findall(expr) if not is_spec_metric(name)}
    assert unknown == set()


@pytest.mark.parametrize("source", ["board", "alert rules"])
def test_database_derived_metrics_are_not_summed_across_replicas(source):
    exprs = board_exprs() if source == "board" else alert_exprs()
    summed = [expr for expr in exprs for name in SUM_OVER_METRIC.findall(expr) if name in DATABASE_DERIVED]
    assert summed == []


def test_the_summing_check_tells_max_from_sum():
    assert SUM_OVER_METRIC.findall("sum by (severity) (sunclock_incidents_open)") == ["sunclock_incidents_open"]
    assert SUM_OVER_METRIC.findall("sum(increase(sunclock_breaches_total[1h]))") == ["sunclock_breaches_total"]
    assert SUM_OVER_METRIC.findall("sum by (d) (max by (d, o) (increase(sunclock_breaches_total[1h])))") == []
    assert SUM_OVER_METRIC.findall("sum(max(sunclock_cases))") == []


def test_grafana_provisions_the_datasource_the_board_names():
    provisioning = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = provisioning["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"


def test_grafana_loads_the_board_from_where_compose_mounts_it():
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "sunclock.yml").read_text())
    (entry,) = provider["providers"]
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts.get("./grafana/dashboards") == entry["options"]["path"]
    assert mounts.get("./grafana/provisioning") == "/etc/grafana/provisioning"


def test_the_board_selects_a_district_and_every_department_query_follows_it():
    """SPEC §14.2: a district selector, and no panel about departments that ignores it."""
    board = load_board()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["district"]["includeAll"] and variables["district"]["allValue"] == ".*"
    assert "label_values(sunclock_breaches_total, district)" in variables["district"]["definition"]
    for expr in board_exprs():
        if "department" in expr:
            assert 'district=~"$district"' in expr, expr


def test_alerts_about_a_department_keep_its_district():
    for expr in alert_exprs():
        for grouping in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
            if "department" in grouping:
                assert "district" in grouping, expr
