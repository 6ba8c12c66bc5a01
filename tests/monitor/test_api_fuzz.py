"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis).

A real ``sunclock serve --demo`` (so there are departments, incidents and
cases to hit) answers generated requests, valid ones and broken ones, with the
admin token. Any 5xx fails the test, and so does an answer the document does
not describe: an undocumented status, content type, header or body shape.
Hypothesis runs derandomized with a fixed number of examples per operation,
so the run is the same every time and stays at a few hundred requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOKEN, _truncate
from tests.e2e.e2e_processes import start_sunclock, stop

pytestmark = pytest.mark.slow

# Per operation and mode (valid, invalid): about 260 requests per database in CI.
# SUNCLOCK_FUZZ_EXAMPLES=200 makes a longer hunt by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("SUNCLOCK_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    env = {"SUNCLOCK_ADMIN_TOKEN": ADMIN_TOKEN, "SUNCLOCK_SECRET_KEY": "fuzz-" + "k" * 40,
           "SUNCLOCK_LOG_LEVEL": "warning"}
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        _truncate(url)
        env["SUNCLOCK_DATABASE_URL"] = url
    proc, base = start_sunclock(tmp_path, "--demo", env=env)
    try:
        yield base
    finally:
        stop(proc)


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, base: str, found: list[str]) -> int:
    """Send this operation's generated requests; note each problem in ``found``; return how many were sent."""
    sent = 0
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis reports one or a group of failures
            problems = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
            for problem in problems:
                found.append(f"{operation.label} [{mode.value}] {case.as_curl_command()}\n    "
                             + " | ".join(str(problem).strip().splitlines()[:4]))

    try:
        run()
    except Unsatisfiable:  # nothing to break in an operation without parameters or body
        assert mode is GenerationMode.NEGATIVE, operation.label
    return sent


def test_the_api_answers_generated_requests_as_its_openapi_document_says(served):
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    found: list[str] = []
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent += _fuzz(operation, mode, served, found)
    assert not found, "\n".join(found)
    assert sent >= 8 * EXAMPLES_PER_OPERATION * 2, sent  # the generators did run
