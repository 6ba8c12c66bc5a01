"""Every page's route in one router, and the static files they use.

Not in ``monitor/pages/__init__.py``: the page modules import each other
through the package, so the package imports none of them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from monitor.pages import accounts, admin, auth, board, district_views, incident_views, papers, wall
from monitor.pages.render import STATIC_DIR

router = APIRouter(include_in_schema=False)
for _module in (auth, board, incident_views, admin, district_views, papers, wall, accounts):
    router.include_router(_module.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
