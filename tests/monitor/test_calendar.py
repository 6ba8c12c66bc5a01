"""The working-day calendar in the service: checked at start-up and by
`sunclock calendar check`, and its coverage exposed for an alert (SPEC §13.2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from monitor.cli import main
from monitor.runtime import Runtime
from rules import RulesInvalid
from rules.workdays import CALENDARS_DIR
from tests.conftest import make_settings

BROKEN = ("region: cn-mainland\nyear: 2027\nsource: 国办发明电〔2026〕1号\n"
          "holidays:\n  - {date: 2026-10-01, name: 国庆}\n")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_calendar_check_lists_the_files_and_how_far_they_reach():
    result = invoke("calendar", "check", str(CALENDARS_DIR))
    assert result.exit_code == 0
    assert "ok  cn-mainland-2025.yaml" in result.output and "ok  cn-mainland-2026.yaml" in result.output
    assert "cn-mainland: covered until 2026-12-31" in result.output


def test_calendar_check_refuses_a_broken_file_naming_file_line_and_field(tmp_path):
    (tmp_path / "cn-mainland-2027.yaml").write_text(BROKEN, encoding="utf-8")
    result = invoke("calendar", "check", str(tmp_path))
    assert result.exit_code == 2
    assert "cn-mainland-2027.yaml:4: holidays: [0] (国庆) lies outside 2027" in result.output


def test_a_broken_calendar_stops_the_service_at_start_up(database_url, tmp_path):
    (tmp_path / "cn-mainland-2027.yaml").write_text(BROKEN, encoding="utf-8")
    with pytest.raises(RulesInvalid, match="lies outside 2027"):
        Runtime.build(make_settings(database_url, calendars_dir=str(tmp_path)), migrate_schema=False)


async def test_the_coverage_gauge_is_the_end_of_the_last_covered_day_in_local_time(client):
    text = (await client.get("/metrics")).text
    values = [s.value for family in text_string_to_metric_families(text) for s in family.samples
              if s.name == "sunclock_calendar_covered_until_timestamp_seconds"]
    # The end of 31 December 2026 in Asia/Shanghai is 16:00 UTC that day.
    assert values == [datetime(2026, 12, 31, 16, 0, tzinfo=UTC).timestamp()]
