"""The Alibaba Cloud SMS template file: validated like a rule file, and the values it sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.aliyun_templates import SHIPPED_TEMPLATES, Template, TemplateTooLong, load_aliyun_templates
from rules import RulesInvalid
from rules.vocabulary import MatterKind, StepKind

GOOD = """\
templates:
  - step: registered
    code: SMS_1
    params: {title: incident}
  - step: reminder
    code: SMS_2
  - step: warning
    code: SMS_3
  - step: final_warning
    code: SMS_4
  - step: breached
    code: SMS_5
  - step: overdue
    code: SMS_6
  - step: waiver_requested
    code: SMS_7
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "sms.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as raised:
        load_aliyun_templates(path)
    return [str(problem).removeprefix(f"{path}:") for problem in raised.value.problems]


def test_the_shipped_file_has_a_template_for_every_step_of_every_kind():
    templates = load_aliyun_templates()
    assert templates.path == SHIPPED_TEMPLATES
    for step in StepKind:
        for kind in MatterKind:
            assert templates.choose(step, kind) is not None, (step, kind)


def test_a_minimal_file_with_default_entries_loads(tmp_path):
    path = tmp_path / "sms.yaml"
    path.write_text(GOOD, encoding="utf-8")
    templates = load_aliyun_templates(path)
    assert templates.choose("registered", "public_opinion").code == "SMS_1"
    assert templates.choose("registered", "emergency").params["title"].max_length == 35


@pytest.mark.parametrize(("change", "expected"), [
    (("{title: incident}", "{title: incidnet}"), "4: templates[0].params.title.fact: Input should be 'incident', "),
    (("step: reminder", "step: remind"), "5: templates[1].step: Input should be 'registered', "),
    (("code: SMS_2", "code: SMS_2\n    kind: emergncy"), "7: templates[1].kind: unknown kind of matter 'emergncy'"),
    (("code: SMS_3", "cod: SMS_3"), "8: templates[2].cod: unknown field (check its spelling)"),
    (("code: SMS_4", "code: SMS 4"), "10: templates[3].code: String should match pattern"),
    (("{title: incident}", "{title: {fact: incident, max_length: 600}}"),
     "4: templates[0].params.title.max_length: Input should be less than or equal to 500"),
    (("{title: incident}", "{1title: incident}"), "4: templates[0].params: '1title' is not a template variable name"),
])
def test_each_problem_names_file_line_and_field(tmp_path, change, expected):
    found = problems(tmp_path, GOOD.replace(*change, 1))
    assert any(problem.startswith(expected) for problem in found), found


def test_two_templates_for_one_step_and_kind_name_the_second(tmp_path):
    found = problems(tmp_path, GOOD + "  - step: warning\n    kind: default\n    code: SMS_9\n")
    assert found == ["17: templates[7].kind: step 'warning' of kind 'default' already has a template (templates[2])"]


def test_a_step_without_a_template_is_named(tmp_path):
    text = GOOD.replace("  - step: overdue\n    code: SMS_6\n", "  - step: overdue\n    kind: emergency\n"
                        "    code: SMS_6\n")
    assert problems(tmp_path, text) == [
        "1: templates: no template for overdue (public_opinion), overdue (disclosure_request): "
        "add one of kind 'default' or one for that kind"]


def test_broken_yaml_and_a_missing_file_are_reported(tmp_path):
    assert problems(tmp_path, GOOD + "  - step: [\n")[0].startswith("18: not valid YAML")
    with pytest.raises(RulesInvalid, match="template file does not exist"):
        load_aliyun_templates(tmp_path / "absent.yaml")


FACTS = {"step": "warning", "kind": "emergency", "incident": "化工厂爆炸", "reason": "",
         "duty": "发布权威信息", "ack_path": "ack/" + "x" * 60}


def test_values_are_cut_with_an_ellipsis_at_their_limit_and_never_empty():
    template = Template(step="warning", code="SMS_1", params={
        "title": {"fact": "incident", "max_length": 3}, "duty": "duty", "why": "reason"})
    assert template.values(FACTS) == {"title": "化工…", "duty": "发布权威信息", "why": "-"}


def test_whitespace_in_a_value_is_one_space():
    template = Template(step="warning", code="SMS_1", params={"title": "incident"})
    assert template.values({**FACTS, "incident": " 化工厂\n\t爆炸 "}) == {"title": "化工厂 爆炸"}


def test_a_link_is_never_cut_but_may_be_allowed_a_longer_variable():
    short = Template(step="warning", code="SMS_1", params={"link": "ack_path"})
    with pytest.raises(TemplateTooLong, match="ack_path is 64 characters, over the 35"):
        short.values(FACTS)
    approved = Template(step="warning", code="SMS_1", params={"link": {"fact": "ack_path", "max_length": 80}})
    assert approved.values(FACTS) == {"link": FACTS["ack_path"]}
