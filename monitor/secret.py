"""The signing key of an install without ``SUNCLOCK_SECRET_KEY`` (SPEC §12.1).

Generated at random at first start and kept in the database, so every replica
signs with the same key and a restart keeps links and sessions valid. Replicas
starting together each offer a key; the database keeps the first one and all
of them read that one back.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import create_engine, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.db import configure_sqlite, is_sqlite, sync_url
from monitor.models import AppSecret

SIGNING_KEY = "signing_key"
KEY_BYTES = 32


def stored_signing_key(database_url: str, now: datetime) -> bytes:
    """The install's key, generated now if it has none yet. Runs once at start."""
    engine = create_engine(sync_url(database_url))
    if is_sqlite(database_url):
        configure_sqlite(engine)  # a busy timeout while another process writes
    table = AppSecret.__table__
    read = select(table.c.value).where(table.c.name == SIGNING_KEY)
    try:
        with engine.begin() as connection:
            value = connection.execute(read).scalar_one_or_none()
            if value is None:
                dialect = sqlite if is_sqlite(database_url) else postgresql
                connection.execute(dialect.insert(table).values(
                    name=SIGNING_KEY, value=secrets.token_urlsafe(KEY_BYTES), created_at=now,
                ).on_conflict_do_nothing(index_elements=["name"]))
                value = connection.execute(read).scalar_one()
    finally:
        engine.dispose()
    return value.encode()
