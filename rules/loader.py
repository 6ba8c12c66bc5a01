"""Load and validate the rule files of a directory.

Every problem is reported as ``file:line: field: message`` so that whoever
edited the file can go straight to the line (YAML node marks give the line of
the field pydantic complains about).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rules.schema import Obligation, Recurring, Rule, split_occurrence

if TYPE_CHECKING:  # rules.workdays imports this module for its problem reports
    from rules.workdays import WorkTime

SHIPPED_DIR = Path(__file__).resolve().parent
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class RuleProblem:
    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RulesInvalid(Exception):
    def __init__(self, problems: list[RuleProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    files: tuple[Path, ...]
    # The calendar and time zone that limits in working days are counted in;
    # the service sets it at start-up (monitor.runtime).
    worktime: WorkTime | None = None

    def applicable(self, kind: str, severity: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.applies(kind, severity)]

    def counted_in(self, worktime: WorkTime) -> RuleSet:
        return replace(self, worktime=worktime)

    def obligation(self, key: str) -> tuple[Rule, Obligation] | None:
        """The rule and spec of an obligation key; for an occurrence of a
        recurring obligation (``keep_publishing#3``), that occurrence's spec."""
        for rule in self.rules:
            for obligation in rule.obligations:
                if obligation.key == key:
                    return rule, obligation
        base, n = split_occurrence(key)
        found = self.recurring(base) if n is not None else None
        return (found[0], found[1].occurrence(n)) if found is not None and n is not None else None

    def recurring(self, key: str) -> tuple[Rule, Recurring] | None:
        for rule in self.rules:
            for series in rule.recurring:
                if series.key == key:
                    return rule, series
        return None

    def obligation_keys(self) -> list[str]:
        """Every obligation key, a recurring one without its ``#n``."""
        return [o.key for rule in self.rules for o in (*rule.obligations, *rule.recurring)]


def _field_name(loc: tuple[object, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and ("[" in item or "-" in item):
            continue  # pydantic's internal step names, e.g. "function-after[...]"
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _line_of(node: yaml.Node | None, loc: tuple[object, ...]) -> int | None:
    """The 1-based line of the deepest YAML node ``loc`` reaches."""
    line = node.start_mark.line + 1 if node is not None else None
    for item in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(item, str):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == item), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(item, int) and item < len(node.value):
            node = node.value[item]
            line = node.start_mark.line + 1
        elif isinstance(item, str) and ("[" in item or "-" in item):
            continue
        else:
            break
    return line


def load_yaml_model(path: Path, model: type[Model], shape: str) -> Model:
    """One YAML file validated as ``model``; every problem names the file, the
    line and the field. ``shape`` says what the file should hold."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesInvalid([RuleProblem(path, None, "", f"cannot read the file: {exc}")]) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesInvalid([RuleProblem(path, line, "", f"not valid YAML: {problem}")]) from exc
    if not isinstance(data, dict):
        raise RulesInvalid([RuleProblem(path, 1, "", shape)])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (check its spelling)"
            problems.append(RuleProblem(path, _line_of(root, loc), _field_name(loc), message))
        raise RulesInvalid(problems) from exc


def load_rule_file(path: Path) -> Rule:
    return load_yaml_model(path, Rule, "a rule file holds one mapping (id, title, applies_to, obligations, …)")


def load_rules(directory: Path | str | None = None) -> RuleSet:
    """Every ``*.yaml`` / ``*.yml`` file of ``directory`` (the shipped rules by default)."""
    directory = Path(directory) if directory is not None else SHIPPED_DIR
    if not directory.is_dir():
        raise RulesInvalid([RuleProblem(directory, None, "", "the rules directory does not exist")])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise RulesInvalid([RuleProblem(directory, None, "", "no rule files (*.yaml) in this directory")])
    problems: list[RuleProblem] = []
    rules: list[Rule] = []
    for path in files:
        try:
            rules.append(load_rule_file(path))
        except RulesInvalid as exc:
            problems.extend(exc.problems)
    seen_ids: dict[str, Path] = {}
    seen_keys: dict[str, Path] = {}
    for path, rule in zip(files, rules, strict=True) if not problems else ():
        if rule.id in seen_ids:
            problems.append(RuleProblem(path, None, "id", f"rule id {rule.id!r} is also used in {seen_ids[rule.id]}"))
        seen_ids[rule.id] = path
        for obligation in (*rule.obligations, *rule.recurring):
            if obligation.key in seen_keys:
                problems.append(RuleProblem(
                    path, None, "obligations",
                    f"obligation key {obligation.key!r} is also used in {seen_keys[obligation.key]}",
                ))
            seen_keys[obligation.key] = path
    if problems:
        raise RulesInvalid(problems)
    return RuleSet(rules=tuple(rules), files=tuple(files))
