"""``sunclock district``, ``department add --district``, CSV import with a district
column, ``user create --district`` and ``report compliance --district`` (SPEC §8, §14)."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from monitor.auth import actor_for_token
from monitor.cli import main
from monitor.db import create_engine, session_factory

CSV = """code,name,supervisory,contact_name,contact_role,mobile,email,district
GOV,区政务公开办,yes,陈主任,head,+8613800000009,chen@gov.example.org,
EMB,区应急管理局,,王局长,head,+8613800000001,wang@emb.example.org,
XZ-GOV,香洲区政务公开办,yes,周主任,head,+8613900000009,zhou@xz.example.org,XZ
XZ-EMB,香洲区应急管理局,,吴局长,head,+8613900000001,wu@xz.example.org,XZ
"""


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()
    env = {"SUNCLOCK_DATABASE_URL": database_url, "SUNCLOCK_TIMEZONE": "Asia/Shanghai"}

    def invoke(*args: str, input: str | None = None):  # noqa: A002
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_a_one_district_install_never_shows_the_word(cli):
    assert cli("department", "add", "--code", "EMB", "--name", "区应急管理局",
               "--contact", "王局长,head,+8613800000001,").exit_code == 0
    listed = cli("department", "list").output
    assert "DISTRICT" not in listed and "default" not in listed


def test_districts_departments_and_the_report_by_district(cli, tmp_path):
    added = cli("district", "add", "--code", "XZ", "--name", "香洲区")
    assert added.exit_code == 0 and "XZ" in added.output
    assert cli("district", "add", "--code", "xz", "--name", "again").exit_code == 1
    path = tmp_path / "departments.csv"
    path.write_text(CSV, encoding="utf-8")
    imported = cli("department", "import", str(path))
    assert imported.exit_code == 0, imported.output
    rows = {line.split()[0]: line.split()[1:] for line in cli("district", "list").output.splitlines()[2:]}
    assert rows["XZ"][-1] == "2" and rows["default"][-1] == "2"
    added = cli("department", "add", "--code", "XZ-HEALTH", "--name", "香洲区卫健局", "--district", "XZ",
                "--contact", "冯局长,head,+8613900000003,")
    assert added.exit_code == 0, added.output
    assert "DISTRICT" in cli("department", "list").output
    unknown = cli("department", "add", "--code", "N", "--name", "n", "--district", "NOPE",
                  "--contact", "x,head,+8613900000004,")
    assert unknown.exit_code == 1 and "district" in unknown.output
    assert cli("incident", "add", "--title", "拱北事件", "--severity", "II", "--department", "XZ-EMB",
               "--occurred-at", "now").exit_code == 0
    assert cli("incident", "add", "--title", "斗门事件", "--severity", "II", "--department", "EMB",
               "--occurred-at", "now").exit_code == 0
    listed = cli("incident", "list", "--district", "XZ").output
    assert "拱北事件" in listed and "斗门事件" not in listed
    report = cli("report", "compliance", "--from", "2026-11-01", "--to", "2026-12-01", "--district", "XZ")
    assert report.exit_code == 0, report.output
    assert "XZ-EMB" in report.output and "GOV " not in report.output.replace("XZ-GOV", "")
    csv = cli("report", "compliance", "--from", "2026-11-01", "--to", "2026-12-01", "--district", "XZ",
              "--format", "csv").output
    assert csv.splitlines()[0].endswith(",district") and all(line.endswith(",XZ") for line in csv.splitlines()[1:])


def test_a_supervisory_department_per_district_in_one_csv(cli, tmp_path):
    cli("district", "add", "--code", "XZ", "--name", "香洲区")
    path = tmp_path / "two.csv"
    path.write_text(CSV + "XZ-GOV2,又一个,yes,钱主任,head,+8613900000019,,XZ\n", encoding="utf-8")
    result = cli("department", "import", str(path))
    assert result.exit_code == 1 and "more than one department in district XZ" in result.output


def test_user_create_scopes_a_user_to_a_district(cli, database_url):
    cli("district", "add", "--code", "XZ", "--name", "香洲区")
    result = cli("user", "create", "--name", "xz-sup", "--role", "supervisor", "--district", "XZ")
    assert result.exit_code == 0, result.output

    async def who():
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return await actor_for_token(session, result.stdout.strip(), None)
        finally:
            await engine.dispose()

    actor = asyncio.run(who())
    assert actor.district_id is not None and actor.district_departments == frozenset()
    unknown = cli("user", "create", "--name", "x", "--role", "supervisor", "--district", "NOPE")
    assert unknown.exit_code == 1 and "district" in unknown.output
