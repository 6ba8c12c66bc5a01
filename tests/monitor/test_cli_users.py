"""``sunclock user list|passwd`` (issue 19)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from monitor import passwords
from monitor.cli import main


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()
    env = {"SUNCLOCK_DATABASE_URL": database_url}

    def invoke(*args: str, input: str | None = None):  # noqa: A002
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_list_shows_every_user_and_passwd_sets_or_generates_a_password(cli):
    assert cli("user", "create", "--name", "night-duty", "--role", "duty_officer").exit_code == 0
    listed = cli("user", "list")
    assert listed.exit_code == 0
    assert listed.output.split("\n")[1].split() == ["night-duty", "duty_officer", "-", "yes", "no"]

    weak = cli("user", "passwd", "night-duty", "--password-stdin", input="aaaaaaaaaa\n")
    assert weak.exit_code == 1 and "password" in weak.output
    chosen = cli("user", "passwd", "night-duty", "--password-stdin", input="dawn-shift-2027\n")
    assert chosen.exit_code == 0 and chosen.stdout == ""
    assert cli("user", "list").output.split("\n")[1].split()[-1] == "yes"

    generated = cli("user", "passwd", "night-duty")
    assert generated.exit_code == 0
    passwords.check(generated.stdout.strip(), "night-duty")
    assert cli("user", "passwd", "nobody").exit_code == 1
