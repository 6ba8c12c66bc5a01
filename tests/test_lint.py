"""ruff over the whole tree, configured in pyproject.toml ([tool.ruff]).

ruff is in the test extras: a missing ruff fails here rather than skipping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ["monitor", "rules", "alerts", "tests", "bench", "deploy"]


class RuffFindings(AssertionError):
    """ruff ran and reported something (as opposed to ruff missing, which is a plain failure)."""


@pytest.mark.lint
def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *CHECKED], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "No module named ruff" not in result.stderr, "ruff is not installed: pip install -e '.[test]'"
    if result.returncode != 0:
        raise RuffFindings(result.stdout + result.stderr)
