"""A real process whose PostgreSQL goes away and comes back: `/readyz` says 503
while it is away, `/healthz` stays 200, requests get 503 with Retry-After, and
the process recovers without a restart, logging the outage once.

The database is taken away by cutting a proxy in front of it (tests/e2e/
e2e_dbproxy.py), not by stopping the shared server other tests are using.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest
from e2e_dbproxy import DatabaseProxy
from e2e_processes import start_sunclock, stop, wait_until
from sqlalchemy.engine import make_url

from tests.conftest import drop_pg_database, recreate_pg_database

ADMIN = "e2e-admin-token"
OUTAGE_SECONDS = 4  # short: a scenario, not a soak test

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_url():
    name = f"sunclock_e2e_outage_{os.getpid()}"
    url = recreate_pg_database(name)
    yield url
    drop_pg_database(name)


def events(workdir, name: str) -> list[dict]:
    lines = (workdir / "sunclock.log").read_text(errors="replace").splitlines()
    found = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name:
            found.append(entry)
    return found


def test_the_process_recovers_from_a_database_outage_without_a_restart(tmp_path, pg_url):
    with DatabaseProxy(make_url(pg_url).port or 5432) as proxy:
        url = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
        proc, base = start_sunclock(tmp_path, env={"SUNCLOCK_DATABASE_URL": url, "SUNCLOCK_ADMIN_TOKEN": ADMIN})
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        try:
            assert client.get("/api/v1/incidents").status_code == 200
            proxy.go_away()
            wait_until(lambda: client.get("/readyz").status_code == 503, 20, "/readyz saying 503")
            assert client.get("/healthz").status_code == 200
            answer = client.get("/api/v1/incidents")
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "5", answer.text
            assert answer.json()["code"] == "database_unavailable"
            wait_until(lambda: bool(events(tmp_path, "database_unavailable")), 10, "the outage logged")
            time.sleep(OUTAGE_SECONDS)  # the outage itself: the scheduler fails and backs off meanwhile
            proxy.come_back()
            wait_until(lambda: client.get("/readyz").status_code == 200, 30, "/readyz saying 200 again")
            assert client.get("/api/v1/incidents").status_code == 200
            wait_until(lambda: bool(events(tmp_path, "database_recovered")), 40, "the recovery logged")
            assert proc.poll() is None  # the same process, never restarted
            assert len(events(tmp_path, "database_unavailable")) == 1  # once per outage, not once a second
            [recovered] = events(tmp_path, "database_recovered")
            assert recovered["outage_seconds"] >= OUTAGE_SECONDS
            errors = next(line for line in client.get("/metrics").text.splitlines()
                          if line.startswith("sunclock_database_errors_total "))
            assert float(errors.split()[1]) >= 3  # each failed attempt counted
        finally:
            client.close()
            stop(proc)
