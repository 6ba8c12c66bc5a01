"""The ``sunclock`` command line: readable output, exit status, messages that say what to fix."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.auth import actor_for_token
from monitor.cli import main
from monitor.db import create_engine, session_factory

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"

CSV = """code,name,supervisory,contact_name,contact_role,mobile,email
GOV,区政务公开办,yes,陈主任,head,+8613800000009,chen@gov.example.org
EMB,区应急管理局,,王局长,head,+8613800000001,wang@emb.example.org
EMB,区应急管理局,,李副局长,deputy,+8613800000002,li@emb.example.org
"""


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()
    env = {"SUNCLOCK_DATABASE_URL": database_url, "SUNCLOCK_TIMEZONE": "Asia/Shanghai"}

    def invoke(*args: str, input: str | None = None):  # noqa: A002
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_rules_check_passes_on_the_shipped_rule(cli):
    result = cli("rules", "check", str(SHIPPED_RULES))
    assert result.exit_code == 0
    assert "major_emergency_disclosure" in result.output and "authoritative_release +5:00:00" in result.output


def test_rules_check_names_file_line_and_field(cli, tmp_path):
    bad = (SHIPPED_RULES / "major_emergency.yaml").read_text(encoding="utf-8").replace("due: 24h", "due: -24h")
    (tmp_path / "r.yaml").write_text(bad, encoding="utf-8")
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "due: -24h" in text)
    result = cli("rules", "check", str(tmp_path))
    assert result.exit_code == 2
    assert f"r.yaml:{line}: obligations[1].due: an obligation falls due after its anchor" in result.output


def test_user_create_prints_the_token_alone(cli, database_url):
    result = cli("user", "create", "--name", "duty1", "--role", "duty_officer", "--password-stdin",
                 input="long-enough-password\n")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.startswith("sc_")

    async def who():
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return await actor_for_token(session, token, None)
        finally:
            await engine.dispose()

    assert asyncio.run(who()).role == "duty_officer"
    again = cli("user", "create", "--name", "duty1", "--role", "duty_officer")
    assert again.exit_code == 1 and "exists already" in again.stderr


def test_department_head_needs_a_department(cli):
    result = cli("user", "create", "--name", "h", "--role", "department_head")
    assert result.exit_code == 1 and "department" in result.stderr


def test_department_import_then_list(cli, tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text(CSV, encoding="utf-8")
    result = cli("department", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 2 department(s)" in result.output
    listed = cli("department", "list").output
    assert "EMB" in listed and "李副局长(deputy)" in listed and "yes" in listed


def test_a_bad_csv_row_is_named_and_nothing_is_imported(cli, tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text(CSV.replace("+8613800000002", "12345"), encoding="utf-8")
    result = cli("department", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:4: mobile:" in result.stderr
    assert "(no contacts)" not in cli("department", "list").output
    assert "EMB" not in cli("department", "list").output


def test_a_department_without_a_head_is_refused_by_add_and_import(cli, tmp_path):
    added = cli("department", "add", "--code", "EMB", "--name", "区应急管理局",
                "--contact", "李副局长,deputy,+8613800000002,")
    assert added.exit_code == 1
    assert "contacts: a department needs a contact of role head" in added.stderr
    path = tmp_path / "departments.csv"
    path.write_text(CSV + "HEALTH,区卫生健康局,,,,,\n", encoding="utf-8")
    imported = cli("department", "import", str(path))
    assert imported.exit_code == 1
    assert f"{path}:5: contacts: a department needs a contact of role head" in imported.stderr
    assert "EMB" not in cli("department", "list").output


def test_register_an_incident_in_local_time_and_record_the_release(cli):
    assert cli("department", "add", "--code", "EMB", "--name", "区应急管理局",
               "--contact", "王局长,head,+8613800000001,wang@emb.example.org").exit_code == 0
    added = cli("incident", "add", "--title", "化工厂爆炸", "--severity", "I", "--department", "EMB",
                "--occurred-at", "now")
    assert added.exit_code == 0, added.output
    assert "authoritative_release" in added.output and "pending" in added.output
    incident_id = added.output.split(":")[0].removeprefix("incident ").strip()
    assert "化工厂爆炸" in cli("incident", "list").output
    met = cli("milestone", "add", incident_id, "--obligation", "authoritative_release",
              "--evidence-url", "https://gov.example.org/1")
    assert met.exit_code == 0 and "authoritative_release: met" in met.output
    shown = cli("incident", "show", incident_id).output
    assert "registered" in shown and "milestone" in shown and "steps_planned" in shown


def test_errors_say_what_to_fix(cli):
    unknown = cli("incident", "add", "--title", "t", "--severity", "I", "--department", "NOPE",
                  "--occurred-at", "now")
    assert unknown.exit_code == 1 and "department: no department with code 'NOPE'" in unknown.stderr
    bad_time = cli("incident", "add", "--title", "t", "--severity", "I", "--department", "NOPE",
                   "--occurred-at", "tomorrow-ish")
    assert bad_time.exit_code != 0 and "is not a time" in bad_time.output
    missing = cli("incident", "show", "42")
    assert missing.exit_code == 1 and "no incident 42" in missing.stderr


def test_register_a_disclosure_request_with_its_working_day_clock(cli):
    assert cli("department", "add", "--code", "EMB", "--name", "区应急管理局",
               "--contact", "王局长,head,+8613800000001,wang@emb.example.org").exit_code == 0
    added = cli("incident", "add", "--kind", "disclosure_request", "--title", "环评材料公开申请",
                "--department", "EMB", "--occurred-at", "2025-09-26 10:00")
    assert added.exit_code == 0, added.output
    assert "disclosure_request 依申请公开" in added.output and "severity IV" in added.output
    # 20 working days across National Day 2025, at the end of the day in Asia/Shanghai
    assert "reply 依申请公开答复" in added.output and "2025-10-30 23:59" in added.output
    listed = cli("incident", "list", "--kind", "disclosure_request").output
    assert "disclosure_request" in listed and "环评材料公开申请" in listed
    assert "环评材料公开申请" not in cli("incident", "list", "--kind", "emergency").output
    no_severity = cli("incident", "add", "--title", "t", "--department", "EMB", "--occurred-at", "now")
    assert no_severity.exit_code != 0 and "severity" in no_severity.output + no_severity.stderr
