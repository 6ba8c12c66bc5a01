"""Migration 0009 (SPEC §14.1): today's departments go into the built-in
district ``default``, and the downgrade takes districts and stand-ins away."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from monitor.db import MIGRATIONS_DIR, sync_url
from tests.conftest import START, drop_pg_database, recreate_pg_database


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url))
    return config


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_existing_departments_land_in_the_default_district_and_it_downgrades(backend, tmp_path):
    name = f"sunclock_districts_{os.getpid()}"
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else recreate_pg_database(name)
    command.upgrade(_alembic(url), "0008")
    engine = sa.create_engine(sync_url(url))
    with engine.begin() as conn:
        for code in ("GOV", "EMB"):
            conn.execute(text("INSERT INTO department (code, name, supervisory, created_at) "
                              "VALUES (:code, 'x', :sup, :t)"),
                         {"code": code, "sup": code == "GOV", "t": START.replace(tzinfo=None)})
    command.upgrade(_alembic(url), "head")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT code FROM district")).scalars().all() == ["default"]
        placed = conn.execute(text("SELECT d.code, t.code FROM department d JOIN district t "
                                   "ON t.id = d.district_id ORDER BY d.code")).all()
        assert [tuple(row) for row in placed] == [("EMB", "default"), ("GOV", "default")]
    command.downgrade(_alembic(url), "0008")
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        assert "district" not in inspector.get_table_names() and "standin" not in inspector.get_table_names()
        assert "district_id" not in {c["name"] for c in inspector.get_columns("department")}
        assert conn.execute(text("SELECT count(*) FROM department")).scalar() == 2
    engine.dispose()
    if backend == "postgresql":
        drop_pg_database(name)
