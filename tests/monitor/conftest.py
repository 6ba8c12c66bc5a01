"""Fixtures of the monitor tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support import seed_departments


@pytest.fixture
async def seeded(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The API client, with the departments of support.DEPARTMENTS (GOV, EMB, HEALTH) added through it."""
    await seed_departments(client)
    yield client
