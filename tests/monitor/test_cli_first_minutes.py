"""A newcomer's first five minutes (issue 19): ``serve`` says where to go and,
with --demo, who to sign in as."""

from __future__ import annotations

from monitor.cli import _say_where


def test_serve_says_the_address_and_the_demo_users(capsys):
    _say_where("0.0.0.0", 8000, demo=True)  # noqa: S104
    said = capsys.readouterr().err
    assert "open http://127.0.0.1:8000/" in said and "http://127.0.0.1:8000/docs" in said
    assert "password sunclock-demo" in said and "duty (duty_officer)" in said and "admin (admin)" in said


def test_without_demo_no_users_are_named(capsys):
    _say_where("sunclock.example.org", 8080, demo=False)
    said = capsys.readouterr().err
    assert "open http://sunclock.example.org:8080/" in said and "sunclock-demo" not in said
