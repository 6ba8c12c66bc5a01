"""``serve --demo`` seeds two districts, each with its supervisory office, and
users scoped to the second (SPEC §14)."""

from __future__ import annotations

from sqlalchemy import select

from monitor import demo, districts
from monitor.models import User


async def test_the_demo_seeds_two_districts(runtime):
    assert await demo.seed(runtime)
    async with runtime.sessions() as session:
        seeded = {d.code: d.departments for d in await districts.list_public(session)}
        scoped = (await session.exec(select(User).where(User.name == "xz-supervisor"))).scalars().one()
        actor = await districts.actor_for(session, scoped)
    assert seeded == {"default": 3, "XZ": 2}
    assert actor.district_departments is not None and len(actor.district_departments) == 2
