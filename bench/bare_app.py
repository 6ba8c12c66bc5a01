"""The yardstick for bench_register.py: a bare FastAPI app doing one plain insert.

    SUNCLOCK_DATABASE_URL=... python -m uvicorn bench.bare_app:app --port 8001

POST /incidents takes the same body as the service's registration, inserts
one row through the same engine settings as ``sunclock serve`` (SQLite in WAL
with one connection, or PostgreSQL through psycopg) and answers 201 with the
row. No authentication, no rules, no planning: what is left is the framework,
the driver and one committed insert, which is what registration is compared with.
BARE_DRIVER=aiosqlite: on SQLite, SQLAlchemy's stock driver (aiosqlite) with
the same settings, as a FastAPI app is usually written.
"""

from __future__ import annotations

import os
from datetime import datetime

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.db import async_url, configure_sqlite, create_engine, is_sqlite

metadata = MetaData()
bare_incident = Table(
    "bare_incident", metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("department", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)


class Body(BaseModel):
    title: str
    severity: str
    department: str
    occurred_at: datetime


class Row(Body):
    id: int


def _engine(url: str) -> AsyncEngine:
    if os.environ.get("BARE_DRIVER") == "aiosqlite" and is_sqlite(url):
        stock = create_async_engine(async_url(url), pool_size=1, max_overflow=0, pool_timeout=120)
        configure_sqlite(stock.sync_engine)
        return stock
    return create_engine(url)


engine = _engine(os.environ["SUNCLOCK_DATABASE_URL"])
app = FastAPI()


@app.on_event("startup")
async def create_table() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/incidents", status_code=201)
async def register(body: Body) -> Row:
    async with engine.begin() as conn:
        result = await conn.execute(insert(bare_incident).values(**body.model_dump()).returning(bare_incident.c.id))
        return Row(id=result.scalar_one(), **body.model_dump())
