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
@pytest.mark.xfail(strict=True, raises=RuffFindings,
                   reason="findings outside the seams branch, left for the lead to fix after the merge of "
                          "issue 13; strict: once ruff passes, remove this mark")
def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *CHECKED], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "No module named ruff" not in result.stderr, "ruff is not installed: pip install -e '.[test]'"
    if result.returncode != 0:
        raise RuffFindings(result.stdout + result.stderr)
