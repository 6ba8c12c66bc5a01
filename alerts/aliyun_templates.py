"""Which approved Alibaba Cloud SMS template each message uses, and with what.

Mainland SMS carries only templates approved in advance (模板) under a
registered signature (签名): Sunclock sends a template code and the values of
its variables, and Aliyun writes the text. The data file (shipped:
``alerts/aliyun_templates.yaml``; ``SUNCLOCK_ALIYUN_SMS_TEMPLATES`` names
another) maps each step kind, and if need be each kind of matter, to a template
code and says which fact (:class:`rules.vocabulary.TemplateFact`) fills each
variable. It is validated like a rule file, every problem naming the file,
line and field, at start-up and by ``sunclock rules check``.

Aliyun refuses a variable value longer than 35 characters unless the template
was approved with a longer one ("单个变量的长度限制为1~35个字符", Alibaba Cloud
SMS, 申请短信模板); a variable may declare that longer ``max_length``. Values
are cut to fit, with an ellipsis, except links: half a link leads nowhere, so a
link that does not fit fails the SMS permanently and the email carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.loader import RuleProblem, RulesInvalid, load_yaml_model
from rules.vocabulary import MatterKind, StepKind, TemplateFact

SHIPPED_TEMPLATES = Path(__file__).resolve().with_name("aliyun_templates.yaml")

# Aliyun's limit on one variable's value, in characters.
VARIABLE_LIMIT = 35
# The whole SMS (signature, text and values) is at most 500 characters.
MAX_VARIABLE_LIMIT = 500
ELLIPSIS = "…"
# A template entry for every kind of matter that has none of its own.
DEFAULT_KIND = "default"
LINK_FACTS = frozenset({TemplateFact.ACK_LINK, TemplateFact.ACK_PATH})

_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,29}")


class TemplateTooLong(ValueError):
    """A link longer than its variable allows: it cannot be cut."""


class Variable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fact: TemplateFact
    max_length: Annotated[int, Field(ge=1, le=MAX_VARIABLE_LIMIT)] = VARIABLE_LIMIT

    @model_validator(mode="before")
    @classmethod
    def _fact_alone(cls, value: object) -> object:
        # `title: incident` is short for `title: {fact: incident}`.
        return {"fact": value} if isinstance(value, str) else value


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step: StepKind
    kind: str = DEFAULT_KIND
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")]
    params: dict[str, Variable] = Field(default_factory=dict, max_length=20)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        kinds = [*MatterKind, DEFAULT_KIND]
        if kind not in kinds:
            raise ValueError(f"unknown kind of matter {kind!r}; expected one of {', '.join(kinds)}")
        return kind

    @field_validator("params")
    @classmethod
    def _variable_names(cls, params: dict[str, Variable]) -> dict[str, Variable]:
        for name in params:
            if not _VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a template variable name (a letter, then letters, digits or _; "
                                 "at most 30)")
        return params

    def values(self, facts: dict[str, str]) -> dict[str, str]:
        """The template's variables filled from a message's facts, each within its length."""
        filled = {}
        for name, variable in self.params.items():
            value = " ".join(str(facts.get(variable.fact, "")).split()) or "-"  # Aliyun refuses an empty value
            if len(value) > variable.max_length:
                if variable.fact in LINK_FACTS:
                    raise TemplateTooLong(f"{variable.fact} is {len(value)} characters, over the "
                                          f"{variable.max_length} that variable {name!r} of {self.code} allows")
                value = value[: variable.max_length - 1].rstrip() + ELLIPSIS
            filled[name] = value
        return filled


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: list[Template] = Field(min_length=1)


@dataclass(frozen=True)
class AliyunTemplates:
    path: Path
    by_step: dict[tuple[str, str], Template]

    def choose(self, step: str, kind: str) -> Template | None:
        return self.by_step.get((step, kind)) or self.by_step.get((step, DEFAULT_KIND))

    def __len__(self) -> int:
        return len(self.by_step)


def load_aliyun_templates(path: Path | str | None = None) -> AliyunTemplates:
    """The template file at ``path`` (the shipped one by default), or :class:`RulesInvalid`."""
    path = Path(path) if path is not None else SHIPPED_TEMPLATES
    if not path.is_file():
        raise RulesInvalid([RuleProblem(path, None, "", "the Alibaba Cloud SMS template file does not exist")])
    loaded = load_yaml_model(path, TemplateFile, "an SMS template file holds one mapping: templates: [...]")
    problems = _coverage_problems(path, loaded.templates)
    if problems:
        raise RulesInvalid(problems)
    return AliyunTemplates(path, {(t.step, t.kind): t for t in loaded.templates})


def _coverage_problems(path: Path, templates: list[Template]) -> list[RuleProblem]:
    """One template per step and kind, and one for every step of every kind."""
    lines = _entry_lines(path)
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for index, template in enumerate(templates):
        key = (template.step, template.kind)
        if key in seen:
            problems.append(RuleProblem(path, lines.get(index), f"templates[{index}].kind",
                                        f"step {str(template.step)!r} of kind {template.kind!r} already has a template "
                                        f"(templates[{seen[key]}])"))
        seen.setdefault(key, index)
    missing = [f"{step} ({kind})" for step in StepKind for kind in MatterKind
               if (step, kind) not in seen and (step, DEFAULT_KIND) not in seen]
    if missing:
        problems.append(RuleProblem(path, lines.get(-1), "templates",
                                    f"no template for {', '.join(missing)}: add one of kind {DEFAULT_KIND!r} "
                                    "or one for that kind"))
    return problems


def _entry_lines(path: Path) -> dict[int, int]:
    """The line of each entry of ``templates`` (index -1: the key itself)."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
        if key.value == "templates" and isinstance(value, yaml.SequenceNode):
            return {-1: key.start_mark.line + 1} | {i: n.start_mark.line + 1 for i, n in enumerate(value.value)}
    return {}
