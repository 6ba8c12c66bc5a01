"""``sunclock obligation extend`` and keep-publishing milestones from the command line."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from monitor.cli import main
from rules import SHIPPED_DIR

REPLY_RULE = """
id: district_reply
title: 依申请公开答复（测试）
applies_to: {severities: [III]}
obligations:
  - key: reply
    title: 答复申请人
    due: 480h
    extension: {max_working_days: 20}
    ladder:
      - {step: breached, at: 0, to: [head]}
"""


@pytest.fixture
def cli(database_url: str, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(SHIPPED_DIR / "major_emergency.yaml", rules_dir)
    (rules_dir / "reply.yaml").write_text(REPLY_RULE, encoding="utf-8")
    runner = CliRunner()
    env = {"SUNCLOCK_DATABASE_URL": database_url, "SUNCLOCK_TIMEZONE": "Asia/Shanghai",
           "SUNCLOCK_RULES_DIR": str(rules_dir)}

    def invoke(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert invoke("department", "add", "--code", "EMB", "--name", "区应急管理局",
                  "--contact", "王局长,head,+8613800000001,wang@emb.example.org").exit_code == 0
    return invoke


def _add(cli, severity: str) -> str:
    added = cli("incident", "add", "--title", "申请公开文件", "--severity", severity, "--department", "EMB",
                "--occurred-at", "now")
    assert added.exit_code == 0, added.output
    return added.output.split(":")[0].removeprefix("incident ").strip()


def test_extend_a_deadline_once_from_the_command_line(cli):
    incident_id = _add(cli, "III")
    done = cli("obligation", "extend", incident_id, "reply", "--working-days", "5", "--reason", "需要会商")
    assert done.exit_code == 0, done.output
    assert "reply: extended by 5 working days, now due" in done.output and "23:59" in done.output
    again = cli("obligation", "extend", incident_id, "reply", "--working-days", "5", "--reason", "再延")
    assert again.exit_code == 1 and "extended once already" in again.stderr
    too_long = cli("obligation", "extend", _add(cli, "III"), "reply", "--working-days", "21", "--reason", "x")
    assert too_long.exit_code == 1 and "working_days: working_days must be between 1 and 20" in too_long.stderr
    zero = cli("obligation", "extend", incident_id, "reply", "--working-days", "0", "--reason", "x")
    assert zero.exit_code == 2
    no_reason = cli("obligation", "extend", incident_id, "reply", "--working-days", "3")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    shown = cli("incident", "show", incident_id).output
    assert "extended" in shown


def test_rules_check_shows_the_series_and_the_extension_limit_is_checked(cli, tmp_path):
    shown = cli("rules", "check", str(SHIPPED_DIR))
    assert "keep_publishing#N every 1 day, 0:00:00 after authoritative_release" in shown.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "reply.yaml").write_text(REPLY_RULE.replace("max_working_days: 20", "max_working_days: 0"),
                                                  encoding="utf-8")
    refused = cli("rules", "check", str(tmp_path / "bad"))
    assert refused.exit_code != 0 and "reply.yaml:9: obligations[0].extension.max_working_days" in refused.output


def test_record_an_update_of_the_series_from_the_command_line(cli):
    incident_id = _add(cli, "I")
    released = cli("milestone", "add", incident_id, "--obligation", "authoritative_release")
    assert released.exit_code == 0, released.output
    assert "keep_publishing#1" in cli("incident", "show", incident_id).output
    update = cli("milestone", "add", incident_id, "--obligation", "keep_publishing#1")
    assert update.exit_code == 0 and "keep_publishing#1: met" in update.output
    assert "keep_publishing#2" in cli("incident", "show", incident_id).output
