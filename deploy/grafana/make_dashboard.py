"""Generate the supervisor's Grafana board, deploy/grafana/dashboards/sunclock.json.

The queries are easier to review as PromQL in one place than scattered through
a large JSON file, so the JSON is generated: edit this script, run it with any
Python 3, and commit both files. tests/deploy/test_deploy_board.py fails when
they disagree.

Two rules hold for every query below:
- Gauges and counters computed from the database (open incidents, obligations,
  remaining time, breaches, cases) are reported identically by every replica,
  so replicas are combined with ``max``; ``sum`` would double them.
- Histograms and ``sunclock_notifications_total`` count what each process did,
  so replicas are combined with ``sum``.

Windows are fixed (no Grafana ``$__`` variables) so that the same expressions
can be run against Prometheus directly by the end-to-end tests. The one
variable, ``$district`` (SPEC §14.2), is a regular expression that the tests
replace by ``.*``, as Grafana does for "All".
"""

from __future__ import annotations

import json
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "dashboards" / "sunclock.json"
DATASOURCE = {"type": "prometheus", "uid": "sunclock-prometheus"}

# The district selector (SPEC §14.2): every series that names a department names its district.
DISTRICT = 'district=~"$district"'
# Per unmet obligation of an open incident, one row, however many replicas.
REMAINING = ("max by (incident_id, department, obligation, district) "
             f"(sunclock_deadline_remaining_seconds{{{DISTRICT}}})")


def named(expr: str, *labels: str) -> str:
    """``expr`` with the names of its codes joined in from the info series of
    monitor/metric_names.py (``obligation`` → ``obligation_title`` and so on);
    a row whose name is missing still shows, with its code (``or on``)."""
    joined = f"({expr})"
    for label in labels:
        name = {"obligation": "obligation_title", "department": "department_name",
                "incident_id": "incident_title"}[label]
        info = {"obligation": "obligation", "department": "department", "incident_id": "incident"}[label]
        joined += (f" * on ({label}) group_left ({name}) "
                   f"max by ({label}, {name}) (sunclock_{info}_info)")
    keys = ", ".join(labels)
    return f"{joined} or on ({keys}) ({expr})"


def thresholds(*steps: tuple[str, float | None]) -> dict:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def target(expr: str, legend: str = "__auto", *, ref: str = "A", instant: bool = False) -> dict:
    query = {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        query |= {"instant": True, "range": False}
    return query


def panel(kind: str, title: str, grid: tuple[int, int, int, int], targets: list[dict], *,
          description: str = "", unit: str | None = None, steps: dict | None = None,
          custom: dict | None = None, options: dict | None = None, field: dict | None = None,
          overrides: list[dict] | None = None, **extra) -> dict:
    x, y, w, h = grid
    defaults: dict = dict(field or {})
    if unit:
        defaults["unit"] = unit
    if steps:
        defaults |= {"color": {"mode": "thresholds"}, "thresholds": steps}
    if custom:
        defaults["custom"] = custom
    return {
        "type": kind,
        "title": title,
        "description": description,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        **extra,
    }


def stat(title, grid, targets, **kwargs) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "none", "textMode": "auto",
               "orientation": "auto", "justifyMode": "auto"}
    return panel("stat", title, grid, targets, options=options, **kwargs)


def timeseries(title, grid, targets, *, axis_label="", custom=None, **kwargs) -> dict:
    look = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
            "spanNulls": False, "axisLabel": axis_label} | (custom or {})
    options = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, grid, targets, custom=look, options=options, **kwargs)


def deadline_table(grid) -> dict:
    left = "剩余 Time left"
    return panel(
        "table",
        "时限倒计时 · Time left to each deadline (open major incidents)",
        grid,
        [target(named(REMAINING, "incident_id", "department", "obligation"), ref="A", instant=True)
         | {"format": "table"}],
        description="每个未履行时限一行；负数表示已超时。 / One row per unmet obligation; negative means overdue.",
        unit="dtdurations",
        steps=thresholds(("red", None), ("orange", 0), ("green", 3600)),
        overrides=[{
            "matcher": {"id": "byType", "options": "number"},
            "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}],
        }],
        options={"showHeader": True, "cellHeight": "sm", "sortBy": [{"displayName": left, "desc": False}]},
        transformations=[{"id": "organize", "options": {
            "excludeByName": {"Time": True, "incident_id": True, "department": True, "obligation": True},
            "indexByName": {"incident_title": 0, "district": 1, "department_name": 2, "obligation_title": 3,
                            "Value": 4},
            "renameByName": {"incident_title": "事件 Incident", "district": "辖区 District",
                             "department_name": "责任单位 Department", "obligation_title": "时限 Obligation",
                             "Value": left},
        }}],
    )


def on_time_rate(grid) -> dict:
    finished = 'max by (obligation, state) (sunclock_obligations{state=~"met|met_late|breached"})'
    met = 'max by (obligation) (sunclock_obligations{state="met"})'
    return panel(
        "bargauge",
        "按时率 · On-time rate",
        grid,
        [target(named(f"{met} / sum by (obligation) ({finished})", "obligation"), "{{obligation_title}}",
                ref="A", instant=True),
         target(f"sum({met}) / sum({finished})", "全部 all", ref="B", instant=True)],
        description="按时履行 / (按时 + 逾期履行 + 超时未履行)。 / met / (met + met late + breached).",
        unit="percentunit",
        steps=thresholds(("red", None), ("orange", 0.8), ("green", 0.95)),
        options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        field={"min": 0, "max": 1},
    )


def by_district(grid) -> dict:
    """One row per district: its breaches so far and its deadlines overdue now."""
    breaches = ("sum by (district) (max by (district, department, obligation) "
                f"(sunclock_breaches_total{{{DISTRICT}}}))")
    overdue = f"count by (district) ({REMAINING} < 0)"
    return panel(
        "table",
        "各辖区 · By district",
        grid,
        [target(breaches, ref="A", instant=True) | {"format": "table"},
         target(overdue, ref="B", instant=True) | {"format": "table"}],
        description="各辖区累计超时次数与当前已超时未履行的时限。 / "
                    "Each district's breaches so far and its deadlines overdue now.",
        steps=thresholds(("green", None), ("red", 1)),
        options={"showHeader": True, "cellHeight": "sm"},
        transformations=[{"id": "merge", "options": {}}, {"id": "organize", "options": {
            "excludeByName": {"Time": True},
            "renameByName": {"district": "辖区 District", "Value #A": "超时次数 Breaches",
                             "Value #B": "当前超时 Overdue now"},
        }}],
    )


def district_variable() -> dict:
    return {
        "name": "district", "label": "辖区 District", "type": "query", "datasource": DATASOURCE,
        "query": {"query": "label_values(sunclock_breaches_total, district)", "refId": "district"},
        "definition": "label_values(sunclock_breaches_total, district)",
        "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def panels() -> list[dict]:
    rate = "[5m]"
    return [
        stat("在办事件（按级别） · Open incidents by severity", (0, 0, 8, 5),
             [target("sum by (severity) (max by (severity, kind) (sunclock_incidents_open))", "{{severity}}")],
             steps=thresholds(("blue", None))),
        stat("已超时未履行 · Overdue obligations", (8, 0, 4, 5),
             [target(f"count({REMAINING} < 0) or vector(0)", "overdue")],
             steps=thresholds(("green", None), ("red", 1))),
        stat("待决问责 · Pending accountability cases", (12, 0, 4, 5),
             [target('max(sunclock_cases{decision="pending"})', "pending")],
             steps=thresholds(("green", None), ("orange", 1))),
        stat("调度器心跳间隔 · Scheduler heartbeat age", (16, 0, 4, 5),
             [target("time() - max(sunclock_scheduler_heartbeat_timestamp_seconds)", "age")],
             description="所有副本中最新一次心跳距今。超过 120 秒告警。 / "
                         "Since the newest beat of any replica; alerts above 120 s.",
             unit="s", steps=thresholds(("green", None), ("orange", 30), ("red", 120))),
        stat("在线副本 · Replicas up", (20, 0, 4, 5),
             [target('sum(up{job="sunclock"})', "up")],
             steps=thresholds(("red", None), ("green", 1))),

        deadline_table((0, 5, 16, 10)),
        on_time_rate((16, 5, 8, 10)),

        timeseries("每小时超时数（按单位） · Breaches per hour by department", (0, 15, 12, 8),
                   [target(named("sum by (department) (max by (department, obligation) "
                                 f"(increase(sunclock_breaches_total{{{DISTRICT}}}[1h])))", "department"),
                           "{{department_name}}")],
                   description="滚动一小时内记录的超时。 / Breaches recorded in the trailing hour.",
                   axis_label="breaches / h", custom={"fillOpacity": 30}),
        timeseries("通知（按通道与结果） · Notifications by outcome", (12, 15, 12, 8),
                   [target(f"60 * sum by (channel, outcome) (rate(sunclock_notifications_total{rate}))",
                           "{{channel}} {{outcome}}")],
                   axis_label="messages / min",
                   overrides=[{"matcher": {"id": "byRegexp", "options": ".*failed"},
                               "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}]),

        timeseries("升级通知延迟 p99 · Escalation lag p99", (0, 23, 12, 8),
                   [target("histogram_quantile(0.99, sum by (le, channel) "
                           f"(rate(sunclock_escalation_lag_seconds_bucket{rate})))", "{{channel}}")],
                   description="实际开始发送 − 计划时间；应在 1 秒内。 / "
                               "Actual send start − planned time; should stay within 1 s.",
                   unit="s", steps=thresholds(("green", None), ("red", 1)),
                   custom={"thresholdsStyle": {"mode": "line"}}),
        stat("履行用时中位数（7 天） · Time to fulfil p50 (7 days)", (12, 23, 12, 8),
             [target(named("histogram_quantile(0.5, sum by (le, obligation) "
                           "(increase(sunclock_time_to_fulfil_seconds_bucket[7d])))", "obligation"),
                     "{{obligation_title}}", instant=True)],
             description="从事件发生到记录履行的用时。 / From occurred_at to the recorded milestone.",
             unit="dtdurations", steps=thresholds(("blue", None))),

        by_district((0, 31, 24, 8)),
    ]


def dashboard() -> dict:
    board_panels = panels()
    for number, item in enumerate(board_panels, start=1):
        item["id"] = number
    return {
        "uid": "sunclock",
        "title": "Sunclock — 重特大突发事件信息发布时限",
        "description": "特别重大、重大突发事件 5 小时发布权威信息、24 小时举行新闻发布会的时限监督。",
        "tags": ["sunclock"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": [{
            "builtIn": 1, "type": "dashboard", "name": "Annotations & Alerts", "enable": True, "hide": True,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "iconColor": "rgba(0, 211, 255, 1)",
        }]},
        "templating": {"list": [district_variable()]},
        "links": [],
        "panels": board_panels,
    }


def render() -> str:
    return json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
