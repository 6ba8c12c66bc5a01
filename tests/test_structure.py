"""The shape of the code, checked by reading the source (issue 13, "Seams"):
no import cycles among monitor/, rules/ and alerts/; rules/ and alerts/ never
import monitor/; no module over 400 lines and no function over 60 (migrations
excepted); the vocabulary declared as enums."""

from __future__ import annotations

import ast
from enum import StrEnum
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "rules", "alerts")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _is_package(name: str) -> bool:
    return SOURCES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements run when the module is imported: the top level and the blocks
    of top-level if/try, but not function bodies or ``if TYPE_CHECKING:``."""
    pending, found = list(tree.body), []
    while pending:
        node = pending.pop(0)
        found.append(node)
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                pending.extend(handler.body)
    return found


def imports_of(module: str) -> set[str]:
    """The modules of ours this module imports when it is imported.
    ``from package import name`` counts as an import of package.name when that is
    a module, and of the package otherwise."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    targets: set[str] = set()
    for node in _module_level(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                targets.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in SOURCES else source)
    return {target for target in targets if target in SOURCES and target != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles_among_monitor_rules_and_alerts() -> None:
    graph = {module: imports_of(module) for module in SOURCES}
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", ["rules", "alerts"])
def test_rules_and_alerts_never_import_monitor(package: str) -> None:
    offending = {}
    for module, path in SOURCES.items():
        if module.split(".")[0] != package:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # also inside functions: not even lazily
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [_resolve(module, node)] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name == "monitor" or name.startswith("monitor."):
                    offending.setdefault(module, []).append(name)
    assert offending == {}


def test_no_module_over_400_lines() -> None:
    long = {module: n for module, path in SOURCES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_over_60_lines() -> None:
    long = {}
    for module, path in SOURCES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (n := node.end_lineno - start + 1) > MAX_FUNCTION_LINES:
                    long[f"{module}:{node.name}"] = n
    assert long == {}


def test_the_vocabulary_is_declared_as_enums() -> None:
    from rules import vocabulary

    tree = ast.parse((ROOT / "rules" / "vocabulary.py").read_text(encoding="utf-8"))
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes, "rules/vocabulary.py declares no classes"
    for name in classes:
        declared = getattr(vocabulary, name)
        assert issubclass(declared, StrEnum), f"{name} is not a StrEnum"
        assert all(isinstance(member, StrEnum) for member in declared), name
    for name in ("Severity", "MatterKind", "IncidentState", "ObligationState", "WaiverState", "StepKind",
                 "StepState", "NotificationState", "Channel", "Recipient", "ContactRole", "Role", "TimelineKind"):
        assert issubclass(getattr(vocabulary, name), StrEnum), name
