"""Department codes are unique regardless of case: in the service, in the
database, and in the migration that brings the rule to existing data."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from monitor.db import migrate, sync_url
from tests.conftest import drop_pg_database, recreate_pg_database

EMB = {"code": "EMB", "name": "区应急管理局", "contacts": [
    {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"}]}


@pytest.mark.parametrize("code", ["emb", "Emb", "eMB"])
async def test_a_code_differing_only_in_case_is_a_409_naming_the_code(client, code):
    assert (await client.post("/api/v1/departments", json=EMB)).status_code == 201
    response = await client.post("/api/v1/departments", json=EMB | {"code": code, "name": "另一个单位"})
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "code" and "EMB" in response.json()["detail"]
    listed = (await client.get("/api/v1/departments")).json()
    assert [(d["code"], d["name"]) for d in listed] == [("EMB", "区应急管理局")]


async def test_replacing_with_the_code_in_another_case_does_not_make_a_second_department(client):
    assert (await client.post("/api/v1/departments", json=EMB)).status_code == 201
    response = await client.put("/api/v1/departments/emb", json=EMB | {"code": "emb"})
    assert response.status_code in (404, 409), response.text
    assert [d["code"] for d in (await client.get("/api/v1/departments")).json()] == ["EMB"]


def _insert_department(url: str, code: str) -> None:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO department (code, name, supervisory, created_at) "
                                 "VALUES (:code, :code, false, :now)"), {"code": code, "now": datetime.now(UTC)})
    finally:
        engine.dispose()


def test_the_database_itself_refuses_a_code_differing_only_in_case(database_url):
    _insert_department(database_url, "EMB")
    with pytest.raises(IntegrityError):
        _insert_department(database_url, "emb")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"sunclock_migration_{os.getpid()}"
    yield recreate_pg_database(name)
    drop_pg_database(name)


def _codes(url: str) -> list[str]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT code FROM department ORDER BY code")).scalars())
    finally:
        engine.dispose()


def test_the_migration_stops_naming_codes_that_differ_only_in_case_and_changes_nothing(fresh_url):
    migrate(fresh_url, "0005")
    for code in ("EMB", "emb", "GOV", "Health", "HEALTH", "POLICE"):
        _insert_department(fresh_url, code)
    with pytest.raises(RuntimeError) as stopped:
        migrate(fresh_url, "0006")
    assert "EMB and emb" in str(stopped.value) and "HEALTH and Health" in str(stopped.value)
    assert "GOV" not in str(stopped.value)
    assert _codes(fresh_url) == sorted(["EMB", "emb", "GOV", "Health", "HEALTH", "POLICE"])
    engine = sa.create_engine(sync_url(fresh_url))
    with engine.begin() as conn:  # the person renames the clashing ones; the migration then goes through
        conn.execute(sa.text("UPDATE department SET code = 'EMB2' WHERE code = 'emb'"))
        conn.execute(sa.text("UPDATE department SET code = 'HEALTH2' WHERE code = 'Health'"))
    engine.dispose()
    migrate(fresh_url)
    with pytest.raises(IntegrityError):
        _insert_department(fresh_url, "police")
