"""The Prometheus configuration and alert rules, checked by the real promtool.

promtool comes with Debian's `prometheus` package. Without it these tests skip
on a developer's machine but fail in CI, where a skip would hide a broken rule.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts_test.yml"
BOARD = ROOT / "deploy" / "grafana" / "dashboards" / "sunclock.json"

EXPECTED_ALERTS = {
    "SunclockDeadlineSoon",
    "SunclockDeadlineBreached",
    "SunclockStepUndeliverable",
    "SunclockCalendarRunningOut",
    "SunclockNotificationsFailing",
    "SunclockSchedulerStalled",
    "SunclockDown",
}


TEMPLATE_ACTION = re.compile(r"{{.*?}}")


def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    reason = "promtool not installed (Debian package prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it")
    pytest.skip(reason)


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_prometheus_config_is_valid_and_finds_its_rule_file():
    output = run_promtool("check", "config", "deploy/prometheus/prometheus.yml")
    assert "1 rule files found" in output


def test_alert_rules_are_valid():
    run_promtool("check", "rules", "deploy/prometheus/alerts.yml")


def test_alert_rules_pass_their_unit_tests():
    run_promtool("test", "rules", "deploy/prometheus/alerts_test.yml")


def test_board_queries_are_valid_promql(tmp_path):
    # promtool has no offline query check, but it parses a recording rule's
    # expression, so each board query is wrapped in one.
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    rules = [
        # The district selector, as Grafana fills it for "All" (SPEC §14.2).
        {"record": f"board:panel{panel['id']}:{target['refId']}", "expr": target["expr"].replace("$district", ".*")}
        for panel in board["panels"]
        for target in panel["targets"]
    ]
    rule_file = tmp_path / "board_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "board", "rules": rules}]}))
    run_promtool("check", "rules", str(rule_file))


def test_the_expected_alerts_are_defined():
    assert {rule["alert"] for rule in alert_rules()} == EXPECTED_ALERTS


def test_every_alert_has_a_severity_and_bilingual_annotations():
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        for key in ("summary", "description"):
            text = TEMPLATE_ACTION.sub("", rule["annotations"][key]).replace("Sunclock", "")
            has_chinese = any("\u4e00" <= char <= "\u9fff" for char in text)
            has_english = re.search(r"[A-Za-z]{3,}", text) is not None
            assert has_chinese and has_english, f"{rule['alert']} {key}: {text!r}"


def test_every_alert_is_unit_tested_both_firing_and_quiet():
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert EXPECTED_ALERTS - firing == set(), "alerts never tested firing"
    assert EXPECTED_ALERTS - quiet == set(), "alerts never tested staying quiet"
