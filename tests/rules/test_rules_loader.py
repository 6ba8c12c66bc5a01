"""Rule files: the shipped rule, and errors that name file, line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rules import RulesInvalid, load_rules
from rules.schema import channel_entry, parse_duration, read_channel_entry

SHIPPED = Path(__file__).resolve().parents[2] / "rules"


def test_shipped_rule_is_the_five_and_twenty_four_hour_rule():
    ruleset = load_rules(SHIPPED)
    rule = next(r for r in ruleset.rules if r.id == "major_emergency_disclosure")
    assert rule.applies("emergency", "I") and rule.applies("emergency", "II")
    assert not rule.applies("emergency", "III") and not rule.applies("public_opinion", "I")
    release, press = rule.obligations
    assert (release.key, release.due) == ("authoritative_release", timedelta(hours=5))
    assert (press.key, press.due) == ("press_conference", timedelta(hours=24))
    assert [(s.step, s.at, s.to) for s in release.ladder] == [
        ("reminder", -timedelta(hours=2), ("head",)),
        ("warning", -timedelta(hours=1), ("head", "deputies")),
        ("final_warning", -timedelta(minutes=30), ("head", "deputies", "supervisors")),
        ("breached", timedelta(0), ("head", "supervisors")),
    ]
    assert [s.at for s in press.ladder] == [-timedelta(hours=6), -timedelta(hours=2), -timedelta(hours=1), timedelta(0)]
    assert (release.overdue.every, release.overdue.max) == (timedelta(hours=1), 24)
    assert (press.overdue.every, press.overdue.max) == (timedelta(hours=2), 12)
    assert rule.registered.to == ("head",) and rule.channels == ("sms", "email")


@pytest.mark.parametrize(("text", "expected"), [
    ("5h", timedelta(hours=5)), ("30m", timedelta(minutes=30)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("-2h", -timedelta(hours=2)), ("2d", timedelta(days=2)), (0, timedelta(0)), ("45s", timedelta(seconds=45)),
])
def test_durations_read_the_way_people_write_them(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "h", "5x", "1.5h", "5 hours", 5, True, None])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def _write(tmp_path: Path, text: str, name: str = "rule.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


GOOD = (SHIPPED / "major_emergency.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("change", "field", "line_of"), [
    (("due: 5h", "due: 5x"), "obligations[0].due", "due: 5x"),
    (("{step: warning, at: -1h", "{step: warning, at: 1h"), "obligations[0].ladder[1]", "{step: warning, at: 1h"),
    (("severities: [I, II]", "severities: [I, V]"), "applies_to.severities[1]", "severities: [I, V]"),
    (("  to: [head]\n", "  to: [head]\n  colour: red\n"), "registered.colour", "colour: red"),
    (("to: [head, deputies]}", "to: [head, mayor]}"), "obligations[0].ladder[1].to[1]", "to: [head, mayor]}"),
    (("every: 1h,", "every: 0s,"), "obligations[0].overdue.every", "every: 0s,"),
])
def test_a_bad_field_is_reported_with_file_line_and_field(tmp_path, change, field, line_of):
    text = GOOD.replace(*change, 1)
    assert text != GOOD
    path = _write(tmp_path, text) / "rule.yaml"
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    problem = caught.value.problems[0]
    expected_line = next(n for n, line in enumerate(text.splitlines(), 1) if line_of in line)
    assert (problem.file, problem.field, problem.line) == (path, field, expected_line), str(caught.value)
    assert str(problem).startswith(f"{path}:{expected_line}: {field}: ")


def test_broken_yaml_names_the_line(tmp_path):
    _write(tmp_path, "id: x\ntitle: [unclosed\n")
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    assert "rule.yaml:3" in str(caught.value) or "rule.yaml:2" in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_obligation_keys_must_be_unique_across_files(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD.replace("id: major_emergency_disclosure", "id: second"), "b.yaml")
    with pytest.raises(RulesInvalid, match="authoritative_release' is also used in"):
        load_rules(tmp_path)


def test_an_empty_or_missing_directory_is_an_error(tmp_path):
    with pytest.raises(RulesInvalid, match="no rule files"):
        load_rules(tmp_path)
    with pytest.raises(RulesInvalid, match="does not exist"):
        load_rules(tmp_path / "nope")


def test_a_district_can_add_a_rule_without_code(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, """
id: public_opinion_response
title: 其他舆情48小时回应
applies_to: {kinds: [emergency], severities: [III, IV]}
obligations:
  - key: public_response
    title: 回应社会关切
    due: 48h
    ladder:
      - {step: warning, at: -4h, to: [head], channels: [email]}
      - {step: breached, at: 0, to: [head, supervisors]}
""", "b.yaml")
    ruleset = load_rules(tmp_path)
    assert [r.id for r in ruleset.applicable("emergency", "III")] == ["public_opinion_response"]
    rule, obligation = ruleset.obligation("public_response")
    assert obligation.due == timedelta(hours=48) and rule.channels_for(obligation.ladder[0]) == ("email",)


def test_the_shipped_emergency_rule_phones_the_head_at_the_final_warning_and_the_breach_only():
    [rule] = [r for r in load_rules(SHIPPED).rules if r.id == "major_emergency_disclosure"]
    for obligation in rule.obligations:
        channels = {s.step: rule.channels_for(s) for s in obligation.ladder}
        assert channels == {"reminder": ("sms", "email"), "warning": ("sms", "email"),
                            "final_warning": ("sms", "email", "voice:head"), "breached": ("sms", "email", "voice:head")}
        assert rule.channels_for(obligation.overdue) == ("sms", "email")
    assert rule.channels_for(rule.registered) == ("sms", "email")


def test_a_rule_naming_no_channels_sends_sms_and_email_but_calls_nobody(tmp_path):
    ruleset = load_rules(_write(tmp_path, GOOD.replace("\nchannels: [sms, email]\n", "\n")))
    assert ruleset.rules[0].channels == ("sms", "email")


@pytest.mark.parametrize(("entry", "read"), [
    ("sms", ("sms", None)), ("voice:head", ("voice", ("head",))),
    ("voice:head+deputies", ("voice", ("head", "deputies"))),
])
def test_a_channel_entry_reads_back_as_written(entry, read):
    assert read_channel_entry(entry) == read and channel_entry(*read) == entry


@pytest.mark.parametrize(("also", "says"), [
    ("{channels: [voice], to: [deputies]}", "also.to names deputies, who is not in this step's to"),
    ("{channels: [sms], to: [head]}", "also.channels names sms, which the step already uses"),
    ("{channels: [fax], to: [head]}", "also.channels"),
    ("{channels: [], to: [head]}", "also.channels"),
])
def test_also_adds_a_known_channel_for_some_of_the_steps_recipients(tmp_path, also, says):
    text = GOOD.replace("{step: breached, at: 0, to: [head, supervisors], also: {channels: [voice], to: [head]}}",
                        f"{{step: breached, at: 0, to: [head, supervisors], also: {also}}}", 1)
    assert text != GOOD
    with pytest.raises(RulesInvalid) as caught:
        load_rules(_write(tmp_path, text))
    assert says in str(caught.value)
