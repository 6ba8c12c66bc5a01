"""The real ``sunclock serve`` (uvicorn) behind no proxy and behind a trusted one:
X-Forwarded-For from a local peer names the client only when that peer is listed
in SUNCLOCK_TRUSTED_PROXIES (uvicorn alone would trust any local peer)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from e2e_processes import start_sunclock, stop

pytestmark = pytest.mark.slow


def _signin_clients(workdir, env: dict[str, str]) -> list[str]:  # noqa: ANN001
    proc, base = start_sunclock(workdir, env=env)
    try:
        with httpx.Client(base_url=base, headers={"X-Forwarded-For": "10.9.9.9"}) as browser:
            csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/signin").text).group(1)
            refused = browser.post("/signin", data={"csrf": csrf, "name": "nobody", "password": "a-wrong-guess"})
            assert refused.status_code == 401
    finally:
        stop(proc)
    events = [json.loads(line) for line in (workdir / "sunclock.log").read_text().splitlines()
              if line.startswith("{")]
    return [e["client"] for e in events if e.get("event") == "signin"]


def test_forwarded_for_from_localhost_is_ignored_by_default(tmp_path):
    assert _signin_clients(tmp_path, {}) == ["127.0.0.1"]


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(tmp_path):
    assert _signin_clients(tmp_path, {"SUNCLOCK_TRUSTED_PROXIES": "127.0.0.1"}) == ["10.9.9.9"]
