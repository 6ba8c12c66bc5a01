"""A real Prometheus scrapes a running Sunclock; every query on the board runs."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
from e2e_processes import REPO, free_port, start_sunclock, stop, wait_until

from tests.conftest import missing_tool

BOARD = REPO / "deploy" / "grafana" / "dashboards" / "sunclock.json"
# Panels whose queries must return data for the demo's incidents.
CORE = ("sunclock_incidents_open", "sunclock_deadline_remaining_seconds", "sunclock_cases",
        "sunclock_scheduler_heartbeat_timestamp_seconds")


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        missing_tool("the prometheus server is not installed (Debian package prometheus)")
    return found


def board_queries() -> list[tuple[str, str]]:
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    # The district selector, as Grafana fills it for "All" (SPEC §14.2).
    return [(panel["title"], target["expr"].replace("$district", ".*"))
            for panel in board["panels"] for target in panel.get("targets", [])]


def test_every_board_query_runs_against_a_real_prometheus(prometheus_binary, tmp_path):
    sunclock, base = start_sunclock(tmp_path, "--demo")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{REPO / 'deploy' / 'prometheus' / 'alerts.yml'}"]
scrape_configs:
  - job_name: sunclock
    static_configs: [{{targets: ["{base.removeprefix('http://')}"]}}]
""", encoding="utf-8")
    prometheus = subprocess.Popen(
        [prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr: str) -> dict:
        response = httpx.get(f"{api}/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        return response.json()

    try:
        # Until it is ready, Prometheus answers 503 in plain text.
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200, 60,
                   "Prometheus")
        # Rates need a few samples: wait until Prometheus has scraped Sunclock several times.
        wait_until(lambda: bool((r := query('count_over_time(up{job="sunclock"}[5m])')["data"]["result"])
                                and float(r[0]["value"][1]) >= 4), 60, "Prometheus scraping Sunclock")
        rules = httpx.get(f"{api}/rules", timeout=10).json()["data"]["groups"]
        assert rules and all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
        failures, empty = [], []
        for title, expr in board_queries():
            answer = query(expr)
            if answer.get("status") != "success":
                failures.append((title, expr, answer))
            elif not answer["data"]["result"] and any(name in expr for name in CORE):
                empty.append((title, expr))
        assert failures == []
        assert empty == []
        up = query('up{job="sunclock"}')["data"]["result"]
        assert up and up[0]["value"][1] == "1"
    finally:
        stop(prometheus)
        stop(sunclock)
